"""The BLAS calls numpy does not expose, for updating weights in place.

``gemm``: ``C <- beta C + alpha A^T B``; ``ger``: ``A <- A + alpha x y^T``.

An SGD step for a dense layer is ``W <- W - lr x^T dout``. With numpy alone it
takes two passes: the product writes the gradient into a buffer, then the
update reads that buffer and ``W`` back and writes ``W``. BLAS's ``gemm`` has a
``beta`` for exactly this: it adds the product to ``C`` while it computes it,
on all of BLAS's threads, so the gradient is never stored. (With L2, ``beta =
1 - lr * l2`` is the weight decay.) On the 784-300-10 MNIST network that makes
a float32 training step about a quarter faster.

We call the BLAS library numpy itself uses (found with :mod:`ctypes`), so the
calls share numpy's threads and never oversubscribe the cores; the same library
gives :mod:`workbook_tools.threads` its thread controls. Where that library
cannot be found, or for arrays BLAS cannot take as they are, the same results
come from plain numpy (``available()`` tells which). Everything here checks
shapes before calling BLAS: a wrong shape is a ``ValueError``, never a read
outside an array.

(An earlier version also ran the products as OpenBLAS gemm batches, one block of
``W``'s rows per thread, so that ``W`` would not move between the cores' caches.
Measured on the MNIST network it gained nothing, or lost 3 %, and it needed a
guard against a crash in OpenBLAS 0.3.31's batch routine: removed; see
benchmarks/README.md.)
"""
from __future__ import annotations

import ctypes
import glob
import os
import threading

import numpy as np

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_FLOATS = {np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double}
_lock = threading.Lock()
_funcs: dict | None = None
#: Matrices with fewer elements are updated with numpy: for them the ctypes call and
#: its pointers cost more than the pass it saves (measured crossover: 5,000-10,000 elements,
#: batch 64, float32 and float64; a 784x300 update is 1.7-2x faster fused, 8x as a ger).
MIN_SIZE = 8192
_disabled = os.environ.get("WORKBOOK_BLAS", "1") == "0"  # WORKBOOK_BLAS=0: numpy only


def _candidate_libraries():
    """Paths of BLAS libraries numpy may be using, the most likely first."""
    numpy_dir = os.path.dirname(np.__file__)
    # pip wheels bundle OpenBLAS beside numpy (Linux, Windows) or inside it (macOS).
    for pattern in (os.path.join(os.path.dirname(numpy_dir), "numpy.libs", "*openblas*"),
                    os.path.join(numpy_dir, ".dylibs", "*openblas*")):
        yield from sorted(glob.glob(pattern))
    # conda and system numpy link a shared BLAS, already loaded into this process.
    try:
        with open("/proc/self/maps") as f:
            names = {line.split()[-1] for line in f if line.rstrip().endswith((".so", ".dylib")) or ".so." in line}
    except OSError:
        return
    yield from sorted(p for p in names if os.path.isabs(p)
                      and any(k in os.path.basename(p).lower() for k in ("blas", "mkl_rt")))


def _bind(lib, prefix, suffix, int_t):
    funcs = {}
    for dtype, real in _FLOATS.items():
        c = "s" if real is ctypes.c_float else "d"
        gemm = getattr(lib, f"{prefix}cblas_{c}gemm{suffix}")
        gemm.restype = None
        gemm.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, int_t, int_t, int_t, real,
                         ctypes.c_void_p, int_t, ctypes.c_void_p, int_t, real, ctypes.c_void_p, int_t]
        ger = getattr(lib, f"{prefix}cblas_{c}ger{suffix}")
        ger.restype = None
        ger.argtypes = [ctypes.c_int, int_t, int_t, real, ctypes.c_void_p, int_t,
                        ctypes.c_void_p, int_t, ctypes.c_void_p, int_t]
        funcs[dtype] = (gemm, ger)
    # OpenBLAS's thread controls (workbook_tools.threads): get and set the count, whether it is
    # the pthreads (1) or OpenMP (2) build, and its configuration string.
    for key, name, restype, argtypes in [("threads", "get_num_threads", ctypes.c_int, []),
                                         ("set_threads", "set_num_threads", None, [ctypes.c_int]),
                                         ("parallel", "get_parallel", ctypes.c_int, []),
                                         ("config", "get_config", ctypes.c_char_p, [])]:
        try:
            f = getattr(lib, f"{prefix}openblas_{name}{suffix}")
        except AttributeError:
            f = None
        else:
            f.restype, f.argtypes = restype, argtypes
        funcs[key] = f
    return funcs


def _load():
    global _funcs
    if _funcs is not None:  # the hot path: no lock once loaded
        return _funcs
    with _lock:
        if _funcs is None:
            _funcs = {} if _disabled else _find()  # assigned once, complete: other threads read it unlocked
        return _funcs


def _find():
    # numpy's own wheels use 64-bit integers and prefixed names (scipy-openblas);
    # a plain CBLAS (conda's libcblas, MKL, system OpenBLAS) uses 32-bit ones.
    names = [("scipy_", "64_", ctypes.c_int64), ("", "64_", ctypes.c_int64), ("", "", ctypes.c_int)]
    for path in _candidate_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix, int_t in names:
            try:
                funcs = _bind(lib, prefix, suffix, int_t)
            except AttributeError:
                continue
            return {**funcs, "int_t": int_t, "library": path}
    return {}


def available() -> str | None:
    """The path of the BLAS library used for fused updates, or None (numpy fallback)."""
    return _load().get("library")


def config() -> str | None:
    """OpenBLAS's build configuration (version, NO_AFFINITY, kernel, MAX_THREADS), if it says."""
    f = _load().get("config")
    return None if f is None else f().decode(errors="replace").strip()


def _usable(funcs, *arrays):
    """Whether BLAS can take the arrays as they are: one float dtype, C-contiguous, aligned."""
    t = arrays[0].dtype
    if t not in funcs:
        return False
    for a in arrays:  # a plain loop: this runs twice per training step
        flags = a.flags
        if a.dtype != t or not (flags.c_contiguous and flags.aligned):
            return False
    return funcs["int_t"] is ctypes.c_int64 or max(max(a.shape) for a in arrays) < 2**31


def gemm(alpha, a, b, beta, c):
    """``c <- beta * c + alpha * a.T @ b``, in place.

    Parameters
    ----------
    a : (k, m)   e.g. a layer's input batch ``(batch, n_in)``
    b : (k, n)   e.g. dL/d(output) ``(batch, n_out)``
    c : (m, n)   e.g. the weights ``(n_in, n_out)``; overwritten
    """
    if a.ndim != 2 or b.ndim != 2 or c.ndim != 2 or a.shape[0] != b.shape[0] or c.shape != (a.shape[1], b.shape[1]):
        raise ValueError(f"gemm needs a (k, m), b (k, n) and c (m, n); got {a.shape}, {b.shape} and {c.shape}")
    funcs = _load()
    # Below MIN_SIZE the call costs more (ctypes, pointers) than the pass it saves.
    if c.size < MIN_SIZE or not (funcs and c.flags.writeable and _usable(funcs, a, b, c)):
        prod = np.matmul(a.T, b)
        prod *= alpha
        if beta != 1:
            c *= beta
        c += prod
        return c
    (k, m), n = a.shape, b.shape[1]
    # Row-major C = alpha A^T B + beta C, with A stored (k, m) and B (k, n).
    funcs[c.dtype][0](_ROW_MAJOR, _TRANS, _NO_TRANS, m, n, k, alpha, a.ctypes.data, m,
                      b.ctypes.data, n, beta, c.ctypes.data, n)
    return c


def ger(alpha, x, y, a):
    """``a <- a + alpha * outer(x, y)``, in place: the rank-1 update of one instance.

    Parameters
    ----------
    x : (m,)   e.g. one input vector ``(n_in,)``
    y : (n,)   e.g. dL/d(output) ``(n_out,)``
    a : (m, n) e.g. the weights ``(n_in, n_out)``; overwritten
    """
    if x.ndim != 1 or y.ndim != 1 or a.shape != (x.shape[0], y.shape[0]):
        raise ValueError(f"ger needs x (m,), y (n,) and a (m, n); got {x.shape}, {y.shape} and {a.shape}")
    funcs = _load()
    if a.size < MIN_SIZE or not (funcs and a.flags.writeable and _usable(funcs, x, y, a)):
        a += np.outer(alpha * x, y)
        return a
    m, n = a.shape
    funcs[a.dtype][1](_ROW_MAJOR, m, n, alpha, x.ctypes.data, 1, y.ctypes.data, 1, a.ctypes.data, n)
    return a
