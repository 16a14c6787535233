"""How fast does course_lib train, next to PyTorch on the same network?

One epoch of the 784-300-10 sigmoid/softmax MLP on MNIST (60,000 images,
mini-batches of 64, plain SGD, lr 0.1, mean cross-entropy), trained

* by ``course_lib.Trainer`` (the batched numpy path the course teaches), and
* by the ordinary PyTorch CPU eager loop a student would write
  (``nn.Sequential`` + ``F.cross_entropy`` + ``loss.backward()`` + ``optim.SGD``),

from the same initial weights, in the same batch order, each epoch in a fresh
worker process, numpy and torch alternating, several repetitions; medians are
reported, for float32 and float64. The same run measures the machine's
matrix-multiply peak (a 2048x2048 product) to put the achieved GFLOP/s in
context, the speed ladder of the course (plain Python per instance, numpy per
instance, numpy batched) and the memory an epoch needs.

Usage (from the repository root)::

    python -m benchmarks.train_speed                 # the full benchmark (~2-3 minutes)
    python -m benchmarks.train_speed --reps 3 --dtypes float32
    python -m benchmarks.train_speed --wait-quiet 60 # on a shared machine: wait for idle CPUs
    python -m benchmarks.train_speed --busy 0 1 --threads 0 1  # quiet and contended, default and 1 thread
    python -m benchmarks.train_speed --batch-size 1 --n 10000  # one image at a time
    python -m benchmarks.train_speed --json out.json # also keep every measurement

PyTorch is optional (``pip install -e .[bench]``); without it only the numpy
side runs. Nothing here changes how BLAS is set up: the workers inherit the
environment and import ``workbook_tools`` as a notebook does (its thread
monitor, ``workbook_tools.threads``, included), so the figures are those of a
student's machine (see ``--blas-env`` and ``--threads`` to measure other
set-ups). ``--busy N`` measures under contention: the driver starts N
pure-Python spin loops before each epoch (after any quiet-waiting) and stops
them after it, like another program taking cores on a student's laptop.
"""
from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # also runnable as ``python benchmarks/train_speed.py``
    sys.path.insert(0, str(ROOT))

SIZES = (784, 300, 10)
BATCH_SIZE = 64
LR = 0.1
SEED = 2024
MNIST_DIR = Path(os.environ.get("WORKBOOK_MNIST_DIR", ROOT.parent / "shared" / "data" / "mnist"))
# Variables that pin OpenBLAS to a kernel or cache size; some machines set them
# to work around old OpenBLAS builds. ``--blas-env student`` removes them.
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_VERBOSE")
# numpy/torch time ratios at batch 64: the readable route (issue 12), the fused route (issues 8 and 12)
TARGETS = {("plain", "float32"): 0.80, ("fused", "float32"): 0.62, ("fused", "float64"): 1.0}
# one image at a time (issue 16): the fast route's examples per second in float32, and its
# speed against PyTorch's per-instance loop (time ratio) in both dtypes
TARGET_B1_RATE = {("fused", "float32"): 15000}
TARGET_B1_RATIO = {("fused", "float32"): 1 / 3, ("fused", "float64"): 1 / 3}
# under contention (issue 16): default epoch / quiet default epoch, default / one BLAS thread
TARGET_BUSY_SLOWDOWN, TARGET_BUSY_VS_ONE = 2.0, 1.10
PEAK_TARGET = 0.45  # fraction of the 2048^2 matmul peak, float32
NOISY_CPU = 0.25  # other programs using more CPUs than this during an epoch: a noisy measurement


# --- what every worker shares ------------------------------------------------

def cores() -> int:
    """CPUs this process may run on (not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _read_idx_gz(path: Path, offset: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def mnist_train(data_dir=MNIST_DIR):
    """The 60,000 training images (uint8, flattened) and labels, from the gzipped IDX files."""
    try:  # the course's loader checks sizes and checksums
        from workbook_tools.mnist import load_mnist

        images, labels = load_mnist(data_dir, download=False, progress=False).train
    except ImportError:  # an older course_lib: read the IDX files directly
        images = _read_idx_gz(Path(data_dir) / "train-images-idx3-ubyte.gz", 16)
        labels = _read_idx_gz(Path(data_dir) / "train-labels-idx1-ubyte.gz", 8)
    return images.reshape(len(labels), -1), labels


def load_data(cfg):
    """``(X, y)`` in the worker's dtype, ready before any timing starts.

    ``cfg["data"]`` is "mnist" or "synthetic" (random images of the same
    shape: a smoke test needs no files). ``cfg["n"]`` keeps the first n.
    """
    n = cfg.get("n")
    if cfg["data"] == "mnist":
        images, labels = mnist_train(cfg.get("data_dir", MNIST_DIR))
    elif cfg["data"] == "synthetic":
        rng = np.random.default_rng(SEED + 1)
        m = n or 1024
        labels = rng.integers(0, cfg["sizes"][-1], m).astype(np.uint8)
        images = rng.integers(0, 256, (m, cfg["sizes"][0])).astype(np.uint8)
    else:
        raise ValueError(f"unknown data {cfg['data']!r}")
    if n:
        images, labels = images[:n], labels[:n]
    X = images.astype(cfg["dtype"])  # one copy, then scaled in place: no float64 detour
    X *= X.dtype.type(1.0 / 255.0)
    return X, labels.astype(np.int64)


def initial_params(sizes, dtype, seed=SEED):
    """fan-in normal weights, zero biases; drawn in float64 so both dtypes start alike."""
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)
        params.append((W.astype(dtype), np.zeros(n_out, dtype)))
    return params


def batch_order(n, seed=SEED):
    """The epoch's permutation: what ``Trainer(rng=default_rng(seed))`` draws first."""
    return np.random.default_rng(seed).permutation(n)


def matmul_flops(sizes, n):
    """Multiply-adds (x2) of the matrix products in one epoch over n instances.

    Forward: every layer. Backward: dW for every layer, dL/dx for all but the
    first. Elementwise work (sigmoid, softmax, the update) is left out: it is
    what a GFLOP/s figure for a network conventionally counts.
    """
    pairs = list(zip(sizes[:-1], sizes[1:]))
    per_instance = sum(a * b for a, b in pairs) * 2 + sum(a * b for a, b in pairs[1:])
    return 2 * n * per_instance


class CpuWatch:
    """Wall time, this process's CPU time, and CPU time used by everything else.

    The last one comes from /proc/stat (Linux): on a shared machine another
    program's work shows up here, and a multi-threaded BLAS suffers badly from
    it (one descheduled thread stalls every product), so each measurement
    carries how busy the rest of the machine was.
    """

    def __enter__(self):
        self.t0, self.own0, self.sys0 = time.perf_counter(), _own_cpu(), _system_busy()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        own = _own_cpu() - self.own0
        busy = None if self.sys0 is None else _system_busy() - self.sys0
        self.own_cores = own / self.wall
        self.other_cores = None if busy is None else max(0.0, (busy - own) / self.wall)
        return False


def _own_cpu():
    t = os.times()
    return t.user + t.system


def _system_busy():
    """Seconds of CPU time all processes have used since boot (None off Linux)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _rss_status():
    """(current RSS, peak RSS) in MiB from /proc/self/status, or None off Linux."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    vals = {line.split(":")[0]: int(line.split()[1]) for line in text.splitlines()
            if line.startswith(("VmRSS", "VmHWM"))}
    return vals["VmRSS"] / 1024, vals["VmHWM"] / 1024


def _reset_peak_rss():
    """Restart the kernel's peak-RSS counter (Linux >= 4.0), so the epoch's own peak shows."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def blas_info():
    """Which BLAS numpy uses, its kernel and thread count (needs threadpoolctl for the last two)."""
    info = {"env": {k: os.environ[k] for k in (*BLAS_OVERRIDES, "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                 "MKL_NUM_THREADS") if k in os.environ}}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        cfg = np.show_config(mode="dicts") if hasattr(np, "show_config") else {}
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        info["blas"] = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
        return info
    for pool in threadpool_info():
        if pool.get("user_api") == "blas" and "numpy" in pool.get("filepath", ""):
            info.update(blas=f"{pool['internal_api']} {pool.get('version')}",
                        kernel=pool.get("architecture"), threads=pool["num_threads"])
    return info


# --- workers (each runs in its own process) ----------------------------------

def _trainer(cfg):
    """The route under test: the lesson's readable Trainer, or the toolbox's FusedTrainer."""
    import course_lib as cl

    if cfg.get("route", "plain") == "fused":
        from workbook_tools.fast import FusedTrainer
        return FusedTrainer
    return cl.Trainer


def numpy_epoch(cfg):
    """One epoch with course_lib's batched Trainer (or the fused one); returns time, loss and memory."""
    import course_lib as cl

    toolbox = _import_toolbox()  # a notebook imports it: its thread monitor is part of the default
    X, y = load_data(cfg)
    params = initial_params(cfg["sizes"], X.dtype)
    layers = []
    for i, (W, b) in enumerate(params):
        layers.append(cl.Linear(W, b))
        if i < len(params) - 1:
            layers.append(cl.Activation("sigmoid"))
    net = cl.Sequential(layers)
    trainer = _trainer(cfg)(net, lr=cfg["lr"], batch_size=cfg["batch_size"], epochs=1,
                            rng=np.random.default_rng(SEED))
    rss0 = _rss_status()
    peak_reset = _reset_peak_rss()
    threads0 = _threads_status(toolbox)
    with CpuWatch() as w:
        h = trainer.fit((X, y))
    rss1 = _rss_status()
    out = _result(cfg, w, len(X), h.epoch_loss[-1], h.loss[-1], rss0, rss1, peak_reset)
    out["blas"] = blas_info()
    out["threads"] = {"before": threads0, "after": _threads_status(toolbox)}
    _save_params(cfg, [(l.params["W"], l.params["b"]) for l in net.layers if isinstance(l, cl.Linear)])
    if cfg.get("trace_memory"):
        # A second, untimed epoch under tracemalloc: the epoch's own numpy allocations.
        import tracemalloc

        tracemalloc.start()
        _trainer(cfg)(net, lr=cfg["lr"], batch_size=cfg["batch_size"], rng=np.random.default_rng(SEED)).fit((X, y))
        out["traced_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return out


def _import_toolbox():
    """``workbook_tools`` as a notebook imports it (None for an older checkout without it)."""
    try:
        import workbook_tools
    except ImportError:
        return None
    return workbook_tools


def _threads_status(toolbox):
    """BLAS's thread count now and what the toolbox's thread monitor saw (if it has one)."""
    try:
        from workbook_tools import threads
    except ImportError:
        threads = None
    # (an older toolbox measured with --lib-path has no threads module; the editable install's
    # finder would hand us this checkout's instead)
    if toolbox is not None and threads is not None and Path(threads.__file__).parent == Path(toolbox.__file__).parent:
        return threads.status()
    try:
        from workbook_tools import blas
        f = blas._load().get("threads")
        return {"blas_threads": f() if f is not None else None}
    except (ImportError, AttributeError):
        return {}


def torch_epoch(cfg):
    """The same epoch the way a student writes it in PyTorch (CPU, eager, autograd)."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(cfg.get("threads") or cores())
    X, y = load_data(cfg)
    params = initial_params(cfg["sizes"], X.dtype)
    tdtype = {np.dtype("float32"): torch.float32, np.dtype("float64"): torch.float64}[X.dtype]
    layers = []
    for i, (W, b) in enumerate(params):
        lin = torch.nn.Linear(W.shape[0], W.shape[1], dtype=tdtype)
        with torch.no_grad():  # nn.Linear stores W as (out, in)
            lin.weight.copy_(torch.from_numpy(W.T))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i < len(params) - 1:
            layers.append(torch.nn.Sigmoid())
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(net.parameters(), lr=cfg["lr"])
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    n, bs = len(X), cfg["batch_size"]
    rss0 = _rss_status()
    peak_reset = _reset_peak_rss()
    with CpuWatch() as w:
        order = torch.from_numpy(batch_order(n))  # drawn inside the timing, as Trainer does
        losses, ep_loss, ep_correct = [], 0.0, 0
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            xb, yb = Xt[idx], yt[idx]
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            # the same bookkeeping as course_lib's History: loss and accuracy per step
            value = loss.item()
            correct = int((logits.argmax(dim=1) == yb).sum())
            losses.append(value)
            ep_loss += value * len(yb)
            ep_correct += correct
    rss1 = _rss_status()
    out = _result(cfg, w, n, ep_loss / n, losses[-1], rss0, rss1, peak_reset)
    out["torch"] = {"version": torch.__version__, "threads": torch.get_num_threads(),
                    "blas": "MKL" if torch.backends.mkl.is_available() else "?"}
    lins = [l for l in net if isinstance(l, torch.nn.Linear)]
    _save_params(cfg, [(l.weight.detach().numpy().T, l.bias.detach().numpy()) for l in lins])
    return out


def _result(cfg, w, n, epoch_loss, last_loss, rss0, rss1, peak_reset):
    out = {"seconds": w.wall, "own_cores": w.own_cores, "other_cores": w.other_cores,
           "epoch_loss": float(epoch_loss), "last_loss": float(last_loss), "n": n,
           "flops": matmul_flops(cfg["sizes"], n)}
    if rss0 and rss1:
        out["rss_mib"] = rss1[1]  # peak during the epoch (whole process, data included)
        if peak_reset:
            out["epoch_extra_mib"] = rss1[1] - rss0[0]
    return out


def _save_params(cfg, params):
    if cfg.get("save_params"):
        np.savez(cfg["save_params"], *[a for pair in params for a in pair])


def matmul_peak(cfg):
    """GFLOP/s of a 2048x2048 product: best of a few, after a warm-up."""
    n, dtype = cfg.get("peak_n", 2048), np.dtype(cfg["dtype"])
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((n, n)).astype(dtype), rng.standard_normal((n, n)).astype(dtype)
    C = np.empty_like(A)
    np.matmul(A, B, out=C)
    times = []
    for _ in range(cfg.get("peak_reps", 5)):
        with CpuWatch() as w:
            np.matmul(A, B, out=C)
        times.append(w.wall)
    return {"gflops": 2 * n**3 / min(times) / 1e9, "seconds": min(times), "blas": blas_info()}


def ladder(cfg):
    """Examples per second: plain Python per instance, numpy per instance (float64)."""
    import course_lib as cl
    from course_lib import scalar

    X, y = load_data(cfg)
    (W1, b1), (W2, b2) = initial_params(cfg["sizes"], np.float64)
    out = {}
    # Plain Python: lists and loops, one multiplication at a time (course_lib.scalar).
    params = {"W": W1.tolist(), "b": b1.tolist(), "V": W2.tolist(), "c": b2.tolist()}
    m = cfg.get("python_instances", 10)
    xs, ys = X[:m].tolist(), y[:m].tolist()
    with CpuWatch() as w:
        scalar.train(params, xs, ys, lr=cfg["lr"], epochs=1)
    out["python_per_instance"] = m / w.wall
    # numpy, one instance vector at a time (batch_size=1: np.outer gradients).
    m = min(cfg.get("numpy_instances", 5000), len(X))
    net = cl.Sequential([cl.Linear(W1.copy(), b1.copy()), cl.Activation("sigmoid"), cl.Linear(W2.copy(), b2.copy())])
    with CpuWatch() as w:
        cl.Trainer(net, lr=cfg["lr"], batch_size=1, rng=np.random.default_rng(SEED)).fit((X[:m], y[:m]))
    out["numpy_per_instance"] = m / w.wall
    # Why np.outer: the rank-1 gradient of the first layer, both ways.
    x, d = X[0], np.asarray(np.random.default_rng(0).standard_normal(W1.shape[1]))
    G = np.empty_like(W1)
    out["outer_us"] = _best_time(lambda: np.outer(x, d, out=G)) * 1e6
    out["matmul_rank1_us"] = _best_time(lambda: np.matmul(x[:, None], d[None, :], out=G)) * 1e6
    # The whole per-instance SGD update of that layer: gradient, then a separate step,
    # or BLAS's ger adding the outer product into W directly (what the Trainer does).
    W = W1.copy()

    def outer_then_step():
        np.outer(x, d, out=G)
        np.multiply(G, 1e-9, out=G)
        np.subtract(W, G, out=W)

    out["outer_step_us"] = _best_time(outer_then_step) * 1e6
    try:
        from workbook_tools import blas
    except ImportError:  # an older workbook
        blas = None
    if blas is not None and blas.available():
        out["ger_us"] = _best_time(lambda: blas.ger(-1e-9, x, d, W)) * 1e6
    return out


def _best_time(f, reps=200):
    f()
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps):
            f()
        best = min(best, (time.perf_counter() - t) / reps)
    return best


WORKERS = {"numpy": numpy_epoch, "torch": torch_epoch, "peak": matmul_peak, "ladder": ladder}


def run_worker(cfg):
    """Run one measurement in this process (the driver calls it in a fresh one)."""
    cfg = {"sizes": SIZES, "batch_size": BATCH_SIZE, "lr": LR, "data": "mnist", **cfg}
    cfg["sizes"] = tuple(cfg["sizes"])
    if cfg.get("lib_path"):  # measure another course_lib: it must win over this checkout's
        sys.path.insert(0, cfg["lib_path"])
    out = WORKERS[cfg["job"]](cfg)
    if "course_lib" in sys.modules:
        out["course_lib"] = str(Path(sys.modules["course_lib"].__file__).parent)
    return out


# --- the driver -----------------------------------------------------------------

def worker_env(blas_env, threads):
    env = dict(os.environ)
    if blas_env == "student":
        for key in BLAS_OVERRIDES:
            env.pop(key, None)
    if threads:
        for key in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[key] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def spawn(cfg, env, timeout=900):
    """Run ``run_worker(cfg)`` in a new Python process and return its result."""
    proc = subprocess.run([sys.executable, "-m", "benchmarks.train_speed", "--worker", json.dumps(cfg)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {cfg['job']} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def wait_quiet(max_wait, idle_cores=None, sample=1.0):
    """Wait (at most ``max_wait`` s) until the other programs use < 0.15 CPU; returns the seconds waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < max_wait:
        b0 = _system_busy()
        if b0 is None:
            return 0.0
        time.sleep(sample)
        if (_system_busy() - b0) / sample < 0.15:
            break
    return time.perf_counter() - t0


def median(xs):
    return statistics.median(xs) if xs else float("nan")


class Busy:
    """``count`` pure-Python spin loops, each wanting a whole core, for the length of a ``with``."""

    CODE = "while True: pass"

    def __init__(self, count):
        self.count, self.procs = count, []

    def __enter__(self):
        self.procs = [subprocess.Popen([sys.executable, "-c", self.CODE]) for _ in range(self.count)]
        if self.procs:
            time.sleep(0.3)  # running before the worker starts, as a student's other program would be
        return self

    def __exit__(self, *exc):
        for proc in self.procs:
            proc.kill()
        for proc in self.procs:
            proc.wait()
        self.procs = []
        return False


def conditions(args):
    """(busy processes, BLAS threads: 0 = as the environment and the toolbox decide), in the order measured."""
    return [(busy, threads) for busy in args.busy for threads in args.threads]


def condition_name(busy, threads):
    return f"{'quiet' if not busy else f'{busy} busy'}, {'default threads' if not threads else f'{threads} thread(s)'}"


def measure(args, log=print):
    """Every measurement the report needs, numpy and torch alternating; returns a dict."""
    torch_ok = not args.no_torch and importlib.util.find_spec("torch") is not None
    envs = {"inherit": ["inherit"], "student": ["student"], "both": ["inherit", "student"]}[args.blas_env]
    base = {"data": args.data, "n": args.n, "batch_size": args.batch_size, "lr": args.lr,
            "lib_path": str(Path(args.lib_path).resolve()) if args.lib_path else None}
    if args.data == "synthetic" and args.sizes:
        base["sizes"] = args.sizes
    results = {"cores": cores(), "args": vars(args), "torch": torch_ok, "runs": {}}
    tmp = Path(tempfile.mkdtemp(prefix="train_speed_"))
    for env_name in envs:
        for dtype in args.dtypes:
            for busy, threads in conditions(args):
                env = worker_env(env_name, threads)
                key = f"{env_name}/{dtype}/busy{busy}/threads{threads}"
                ours = [f"numpy-{route}" for route in args.routes]
                runs = results["runs"][key] = {**{fw: [] for fw in ours}, "torch": [], "peak": [],
                                               "meta": {"env": env_name, "dtype": dtype, "busy": busy,
                                                        "threads": threads}}
                frameworks = ours + ["torch"] if torch_ok else ours
                for rep in range(args.reps):
                    # alternate who goes first, so slow drifts in the machine hit both alike
                    for fw in frameworks if rep % 2 == 0 else frameworks[::-1]:
                        cfg = dict(base, job=fw.split("-")[0], route=fw.partition("-")[2] or None, dtype=dtype,
                                   threads=threads or None, trace_memory=(rep == 0 and fw != "torch"))
                        if rep == 0:
                            cfg["save_params"] = str(tmp / f"{key.replace('/', '-')}-{fw}.npz")
                        runs[fw].append(_measure_epoch(args, cfg, env, busy, f"[{key}] {fw:5s} rep {rep + 1}/{args.reps}",
                                                       log))
                    if not args.no_peak and not busy:
                        runs["peak"].append(spawn(dict(job="peak", dtype=dtype), env))
                if torch_ok:
                    b = np.load(tmp / f"{key.replace('/', '-')}-torch.npz")
                    for fw in ours:
                        a = np.load(tmp / f"{key.replace('/', '-')}-{fw}.npz")
                        runs[f"max_param_diff/{fw}"] = max(float(np.max(np.abs(a[k].astype(np.float64) - b[k])))
                                                           for k in a.files)
    if args.ladder:
        results["ladder"] = spawn(dict(base, job="ladder", dtype="float64", sizes=base.get("sizes", SIZES),
                                       n=min(args.n or 60000, 5000)), worker_env(envs[0], args.threads[0]))
    return results


def _measure_epoch(args, cfg, env, busy, label, log):
    """One epoch in a fresh process, with ``busy`` spin loops beside it; again if others were busier than that."""
    for attempt in range(args.retry_noisy + 1):
        waited = wait_quiet(args.wait_quiet) if args.wait_quiet else 0.0
        with Busy(busy):
            r = spawn(cfg, env)
        r.update(waited=waited, attempts=attempt + 1, busy=busy)
        other = "" if r["other_cores"] is None else f", others used {r['other_cores']:.2f} CPU"
        threads = r.get("threads", {}).get("after", {}).get("blas_threads")
        log(f"  {label}: {r['seconds']:.3f} s (loss {r['epoch_loss']:.6f}{other}"
            f"{'' if threads is None else f', BLAS threads at the end {threads}'})")
        if r["other_cores"] is None or r["other_cores"] <= busy + NOISY_CPU:
            return r
        if attempt < args.retry_noisy:
            log("    the machine was busier than planned: measuring this epoch again")
    return r


def report(results, out=print):
    """The summary table, as text."""
    torch_ok = results["torch"]
    a = results["args"]
    sizes = "-".join(map(str, a.get("sizes") or SIZES))
    out(f"\nMLP {sizes} on {a['data']}, sigmoid + softmax cross-entropy, SGD lr {a['lr']}, batch {a['batch_size']},"
        f" one epoch; {results['cores']} CPUs; medians of {a['reps']} fresh processes each")
    for key, runs in results["runs"].items():
        meta = runs["meta"]
        dtype = meta["dtype"]
        tr, pk = runs["torch"], runs["peak"]
        ours = [fw for fw in runs if fw.startswith("numpy")]
        first = runs[ours[0]][0]
        b = first["blas"]
        if first.get("course_lib") and Path(first["course_lib"]).parent != ROOT:
            out(f"\n(course_lib from {first['course_lib']})")
        out(f"\n{dtype}, {condition_name(meta['busy'], meta['threads'])} ({meta['env']} environment; numpy BLAS:"
            f" {b.get('blas')}, kernel {b.get('kernel', '?')}, {b.get('threads', '?')} BLAS thread(s) at the end"
            f"{', env ' + str(b['env']) if b['env'] else ''})")
        peak = median([p["gflops"] for p in pk]) if pk else None
        t_t = median([r["seconds"] for r in tr]) if torch_ok and tr else None
        for fw in ours:
            _report_route(out, fw, runs[fw], runs.get(f"max_param_diff/{fw}"), tr, t_t, peak, dtype, a["batch_size"])
        if t_t is not None:
            out(f"  PyTorch          {t_t:7.3f} s  (min {min(r['seconds'] for r in tr):.3f})  {first['n'] / t_t:9,.0f} ex/s"
                f"  {first['flops'] / t_t / 1e9:6.1f} GFLOP/s   (torch {tr[0]['torch']['version']},"
                f" {tr[0]['torch']['threads']} thread(s))")
            if "rss_mib" in tr[0]:
                out(f"  memory, PyTorch:    peak RSS {tr[0]['rss_mib']:.0f} MiB"
                    + (f"; epoch's own RSS growth {tr[0]['epoch_extra_mib']:.1f} MiB" if "epoch_extra_mib" in tr[0] else ""))
        busy = [r["other_cores"] for fw in [*ours, "torch"] for r in runs[fw] if r["other_cores"] is not None]
        noisy = sum(x > meta["busy"] + NOISY_CPU for x in busy)
        if busy:
            out(f"  other programs used {min(busy):.2f}-{max(busy):.2f} CPU during the epochs"
                f" ({meta['busy']} planned)")
        if noisy:
            out(f"  note: in {noisy} of {len(busy)} epochs other programs used more than {meta['busy'] + NOISY_CPU}"
                f" CPU (up to {max(busy):.1f}); those figures are noisy (try --wait-quiet 60 --retry-noisy 3)")
    contention_report(results, out)
    if "ladder" in results:
        lad = results["ladder"]
        route = a["routes"][0]
        batched = {runs["meta"]["dtype"]: median([r["seconds"] for r in runs[f"numpy-{route}"]])
                   for runs in results["runs"].values() if not runs["meta"]["busy"] and not runs["meta"]["threads"]}
        n = next(iter(results["runs"].values()))[f"numpy-{route}"][0]["n"]
        out("\nSpeed ladder (examples per second, training):")
        out(f"  plain Python, per instance (float64)   {lad['python_per_instance']:12,.1f}")
        out(f"  numpy, per instance (float64)          {lad['numpy_per_instance']:12,.0f}")
        for dtype, t in batched.items():
            out(f"  numpy, batches of {a['batch_size']} ({dtype})        {n / t:12,.0f}")
        out(f"  rank-1 gradient 784x300: np.outer {lad['outer_us']:.0f} µs,"
            f" (784,1) @ (1,300) matmul {lad['matmul_rank1_us']:.0f} µs")
        if "outer_step_us" in lad:
            fused = f", fused into W with BLAS ger {lad['ger_us']:.0f} µs" if "ger_us" in lad else ""
            out(f"  rank-1 SGD update 784x300: np.outer then W -= lr G {lad['outer_step_us']:.0f} µs{fused}")


def contention_table(results):
    """Rows (dtype, route, quiet default s, busy default s, busy one-thread s, slowdown, default / one thread)."""
    times = {}
    for runs in results["runs"].values():
        meta = runs["meta"]
        for fw in [k for k in runs if k.startswith("numpy") or k == "torch"]:
            if runs[fw]:
                times[meta["env"], meta["dtype"], fw, meta["busy"], meta["threads"]] = \
                    median([r["seconds"] for r in runs[fw]])
    rows = []
    for (env, dtype, fw, busy, threads), t in times.items():
        if not busy or threads:
            continue
        quiet = times.get((env, dtype, fw, 0, 0))
        one = times.get((env, dtype, fw, busy, 1))
        rows.append({"env": env, "dtype": dtype, "route": fw.partition("-")[2] or "PyTorch", "busy": busy,
                     "quiet": quiet, "contended": t, "contended_one": one,
                     "slowdown": t / quiet if quiet else None, "vs_one": t / one if one else None})
    return rows


def contention_report(results, out=print):
    rows = contention_table(results)
    if not rows:
        return
    out("\nUnder contention (medians; default = threads as the environment and the toolbox decide):")
    out("  dtype    route     busy  quiet default  busy default  busy 1 thread  busy/quiet  default/1 thread")
    for r in rows:
        ours = r["route"] != "PyTorch"

        def verdict(x, target):
            return "" if x is None or not ours else (" ok" if x <= target else " NOT met")

        fmt = (lambda x: f"{x:7.3f} s" if x is not None else "      -  ")
        ratio = (lambda x: f"{x:5.2f}" if x is not None else "   - ")
        out(f"  {r['dtype']:8s} {r['route']:8s} {r['busy']:4d}  {fmt(r['quiet'])}      {fmt(r['contended'])}"
            f"     {fmt(r['contended_one'])}     {ratio(r['slowdown'])}{verdict(r['slowdown'], TARGET_BUSY_SLOWDOWN):8s}"
            f" {ratio(r['vs_one'])}{verdict(r['vs_one'], TARGET_BUSY_VS_ONE)}")
    out(f"  targets for course_lib's routes: busy/quiet <= {TARGET_BUSY_SLOWDOWN}, default/1 thread <= {TARGET_BUSY_VS_ONE}")


def _report_route(out, fw, npr, param_diff, tr, t_t, peak, dtype, batch_size=BATCH_SIZE):
    """The lines of one of our routes: time, GFLOP/s, ratio to PyTorch, agreement, memory."""
    route = fw.partition("-")[2]
    t_np = median([r["seconds"] for r in npr])
    n, flops = npr[0]["n"], npr[0]["flops"]
    gf = flops / t_np / 1e9
    line = (f"  course_lib {route:5s} {t_np:7.3f} s  (min {min(r['seconds'] for r in npr):.3f})  {n / t_np:9,.0f} ex/s"
            f"  {gf:6.1f} GFLOP/s")
    if peak:
        line += f" = {gf / peak:.0%} of the {peak:.0f} GFLOP/s 2048² matmul peak"
    out(line)
    if batch_size == 1 and (route, dtype) in TARGET_B1_RATE:
        target = TARGET_B1_RATE[route, dtype]
        out(f"    examples per second: target >= {target:,}: {'met' if n / t_np >= target else 'NOT met'}")
    if t_t is not None:
        ratio = t_np / t_t
        target = (TARGETS if batch_size == BATCH_SIZE else TARGET_B1_RATIO if batch_size == 1 else {}).get((route, dtype))
        verdict = "" if target is None else f"  (target <= {target:.2f}: {'met' if ratio <= target else 'NOT met'})"
        out(f"    time ratio {route} / PyTorch: {ratio:.2f} ({1 / ratio:.1f}x as fast){verdict}")
        out(f"    same training? final epoch loss {npr[0]['epoch_loss']:.10f} vs {tr[0]['epoch_loss']:.10f}"
            f" (|diff| {abs(npr[0]['epoch_loss'] - tr[0]['epoch_loss']):.1e}), max |weight diff| {param_diff:.1e}")
    mem = [f"peak RSS {npr[0]['rss_mib']:.0f} MiB" if "rss_mib" in npr[0] else "",
           f"epoch's own RSS growth {npr[0]['epoch_extra_mib']:.1f} MiB" if "epoch_extra_mib" in npr[0] else "",
           f"numpy allocations during the epoch (tracemalloc peak) {npr[0]['traced_peak_mib']:.2f} MiB"
           if "traced_peak_mib" in npr[0] else ""]
    out("    memory: " + "; ".join(m for m in mem if m))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--worker", metavar="JSON", help=argparse.SUPPRESS)
    p.add_argument("--reps", type=int, default=5, help="fresh processes per framework and dtype (default 5)")
    p.add_argument("--dtypes", nargs="+", default=["float32", "float64"], choices=["float32", "float64"])
    p.add_argument("--data", default="mnist", choices=["mnist", "synthetic"])
    p.add_argument("--n", type=int, default=None, help="use the first n training images (default all)")
    p.add_argument("--sizes", type=int, nargs="+", default=None, help=argparse.SUPPRESS)
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    p.add_argument("--lr", type=float, default=LR)
    p.add_argument("--routes", nargs="+", default=["plain", "fused"], choices=["plain", "fused"],
                   help="course_lib's readable Trainer ('plain') and/or workbook_tools.fast.FusedTrainer")
    p.add_argument("--no-torch", action="store_true", help="numpy only")
    p.add_argument("--no-peak", action="store_true", help="skip the 2048² matmul peak")
    p.add_argument("--no-ladder", dest="ladder", action="store_false", help="skip the speed ladder")
    p.add_argument("--threads", type=int, nargs="+", default=[0], metavar="N",
                   help="set OPENBLAS/OMP/MKL_NUM_THREADS and torch threads for the workers; 0 (the default)"
                        " leaves them to the environment and the toolbox's thread monitor; several values are"
                        " measured one after the other")
    p.add_argument("--busy", type=int, nargs="+", default=[0], metavar="N",
                   help="run each epoch beside N pure-Python spin loops (contention); several values are measured"
                        " one after the other, e.g. --busy 0 1")
    p.add_argument("--blas-env", default="inherit", choices=["inherit", "student", "both"],
                   help="inherit this shell's environment, or drop OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE"
                        " ('student'), or measure both")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                   help="before each epoch wait up to this long for other programs to go idle")
    p.add_argument("--retry-noisy", type=int, default=0, metavar="N",
                   help=f"measure an epoch again (up to N times) when other programs used > {NOISY_CPU} CPU during it")
    p.add_argument("--lib-path", metavar="DIR", help="import course_lib from DIR in the workers"
                   " (to compare with another version, e.g. one exported by git archive)")
    p.add_argument("--json", type=Path, help="write every measurement to this file")
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return 0
    if max(args.threads) > cores():
        p.error(f"--threads {max(args.threads)} is more than the {cores()} CPUs here: BLAS would oversubscribe them")
    if min(args.threads) < 0 or min(args.busy) < 0:
        p.error("--threads and --busy take counts of 0 or more")
    results = measure(args)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
