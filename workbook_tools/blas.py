"""The BLAS calls numpy does not expose, for updating weights in place.

``gemm``: ``C <- beta C + alpha A^T B``; ``ger``: ``A <- A + alpha x y^T``;
``matmul``: ``x @ W``, read the way ``gemm`` writes ``W``.

An SGD step for a dense layer is ``W <- W - lr x^T dout``. With numpy alone it
takes two passes: the product writes the gradient into a buffer, then the
update reads that buffer and ``W`` back and writes ``W``. BLAS's ``gemm`` has a
``beta`` for exactly this: it adds the product to ``C`` while it computes it,
on all of BLAS's threads, so the gradient is never stored. (With L2, ``beta =
1 - lr * l2`` is the weight decay.) On the 784-300-10 MNIST network that makes
a float32 training step about a quarter faster. With OpenBLAS on several
threads, ``gemm`` and ``matmul`` also give each thread the same block of rows of
``W`` every time (see ``_split``), so that ``W`` does not travel between the
cores' caches.

We call the BLAS library numpy itself uses (found with :mod:`ctypes`), so the
calls share numpy's threads and never oversubscribe the cores. Where that
library cannot be found, or for arrays BLAS cannot take as they are, the same
results come from plain numpy (``available()`` tells which). Everything
here checks shapes before calling BLAS: a wrong shape is a ``ValueError``, never
a read outside an array.
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
        try:  # OpenBLAS's gemm batch (0.3.28 and later): one gemm per thread, see _split
            batch = getattr(lib, f"{prefix}cblas_{c}gemm_batch{suffix}")
        except AttributeError:
            batch = None
        else:
            batch.restype = None
            batch.argtypes = [ctypes.c_int] + [ctypes.c_void_p] * 13 + [int_t, ctypes.c_void_p]
        funcs[dtype] = (gemm, ger, batch)
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
    edges = _split(funcs, c.dtype, m, k, n)
    if edges:  # one block of rows of c per thread, each the same every step (see _split)
        isz, ap, bp, cp = c.itemsize, a.ctypes.data, b.ctypes.data, c.ctypes.data
        _batch(funcs, c.dtype, _TRANS, alpha, beta,
               [(e1 - e0, n, k, ap + e0 * isz, m, bp, n, cp + e0 * n * isz, n) for e0, e1 in zip(edges, edges[1:])])
        return c
    # Row-major C = alpha A^T B + beta C, with A stored (k, m) and B (k, n).
    funcs[c.dtype][0](_ROW_MAJOR, _TRANS, _NO_TRANS, m, n, k, alpha, a.ctypes.data, m,
                      b.ctypes.data, n, beta, c.ctypes.data, n)
    return c


def matmul(x, w):
    """``x @ w`` for a batch ``x (batch, n_in)`` and weights ``w (n_in, n_out)``.

    Where :func:`gemm` updates ``w`` in blocks of rows, one per BLAS thread, this
    reads ``w`` in the same blocks (each thread multiplies its rows of ``w`` by the
    matching columns of ``x``, then the partial products are added), so every part of
    ``w`` stays in the cache of the core that updates it. Otherwise ``x @ w``.
    """
    funcs = _load()
    if x.ndim != 2 or w.ndim != 2 or w.size < MIN_SIZE or not funcs:
        return x @ w
    (k, m), n = x.shape, w.shape[1]
    edges = _split(funcs, w.dtype, m, k, n) if m == w.shape[0] and _usable(funcs, x, w) else None
    if not edges:
        return x @ w
    isz, xp, wp = w.itemsize, x.ctypes.data, w.ctypes.data
    parts = np.empty((len(edges) - 1, k, n), w.dtype)
    pp = parts.ctypes.data
    _batch(funcs, w.dtype, _NO_TRANS, 1.0, 0.0,
           [(k, n, e1 - e0, xp + e0 * isz, m, wp + e0 * n * isz, n, pp + i * k * n * isz, n)
            for i, (e0, e1) in enumerate(zip(edges, edges[1:]))])
    out = parts[0]
    for part in parts[1:]:
        out += part
    return out


#: Split only mini-batches (up to this many rows): for them the products are short and
#: the traffic of W between the cores' caches is a large part of a training step.
MAX_SPLIT_BATCH = 1024
MIN_SPLIT_ROWS = 64  # rows of W per block, at least
# OpenBLAS's gemm batch sends products with m*n*k <= 1e6 to its small-matrix kernels,
# and in 0.3.31 (numpy 2.4's) that path crashes the process; we batch only far above it.
MIN_SPLIT_WORK = 2**21


def _split(funcs, dtype, rows, batch, cols):
    """Block edges over ``rows`` of W ``(rows, cols)``, one per BLAS thread, or None for one plain call.

    With a single gemm, OpenBLAS splits the product ``x @ W`` between its threads by
    the columns of W (it cannot split the summed dimension) but the update
    ``W += x^T d`` by the rows (its heuristic splits the larger dimension), so each
    step half of W moved between the cores' caches, twice: on this project's 2-core
    machine the update took 113 us alone and 170 us after a product. Run as a gemm
    batch, one block of rows per thread, both touch W the same way, every step:
    forward + update 323 -> 239 us in float32 on fixed arrays, an epoch of the
    784-300-10 network 0.48 -> 0.46 s.
    """
    if batch > MAX_SPLIT_BATCH or funcs[dtype][2] is None:
        return None
    t = min(_threads(funcs), rows // MIN_SPLIT_ROWS)
    if t < 2 or batch * cols * (rows // t) <= MIN_SPLIT_WORK:
        return None
    return [round(i * rows / t) for i in range(t + 1)]


def _threads(funcs) -> int:
    """BLAS's current thread count (asked every time: threadpoolctl may change it)."""
    return funcs["threads"]() if funcs["threads"] is not None else 1


_plans = threading.local()  # ctypes argument arrays per thread: a panel may train beside the notebook


def _batch(funcs, dtype, trans_a, alpha, beta, items):
    """One OpenBLAS gemm batch call, a group of one gemm per item (B never transposed).

    ``items`` are ``(m, n, k, a, lda, b, ldb, c, ldc)``, pointers included.
    """
    cache = _plans.__dict__.setdefault("cache", {})
    plan = cache.get((dtype, len(items)))
    if plan is None:
        plan = cache[dtype, len(items)] = _Plan(len(items), _FLOATS[dtype], funcs["int_t"])
    for i, (m, n, k, a, lda, b, ldb, c, ldc) in enumerate(items):
        plan.ta[i], plan.tb[i], plan.alpha[i], plan.beta[i] = trans_a, _NO_TRANS, alpha, beta
        plan.m[i], plan.n[i], plan.k[i] = m, n, k
        plan.a[i], plan.lda[i], plan.b[i], plan.ldb[i], plan.c[i], plan.ldc[i] = a, lda, b, ldb, c, ldc
    funcs[dtype][2](_ROW_MAJOR, *plan.addresses, len(items), plan.group_sizes)


class _Plan:
    """The argument arrays of a gemm batch with ``count`` groups of one gemm each."""

    def __init__(self, count, real, int_t):
        self.ta, self.tb = (ctypes.c_int * count)(), (ctypes.c_int * count)()
        self.m, self.n, self.k = ((int_t * count)() for _ in range(3))
        self.alpha, self.beta = (real * count)(), (real * count)()
        self.a, self.b, self.c = ((ctypes.c_void_p * count)() for _ in range(3))
        self.lda, self.ldb, self.ldc = ((int_t * count)() for _ in range(3))
        self._sizes = (int_t * count)(*[1] * count)
        self.group_sizes = ctypes.addressof(self._sizes)
        self.addresses = [ctypes.addressof(v) for v in (self.ta, self.tb, self.m, self.n, self.k, self.alpha,
                                                        self.a, self.lda, self.b, self.ldb, self.beta, self.c,
                                                        self.ldc)]


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
