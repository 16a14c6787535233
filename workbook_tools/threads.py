"""How many threads BLAS uses, decided while the notebook runs, from what is actually free.

numpy's OpenBLAS starts one thread per core. At the end of every matrix product its
threads wait for each other, spinning. That is fast while every thread has a core
of its own, and disastrous when another program takes one: the product waits for
the thread that lost its core, and an epoch runs 5-70 times slower than with one
thread. On a student's laptop something else is always running.

So ``import workbook_tools`` starts a light daemon thread, the *monitor*, that
four times a second reads

* the cores this process may use: its CPU affinity and any cgroup CPU quota
  (a container's ``cpu.max``), and
* how much CPU the other programs took meanwhile: ``/proc/stat`` (every process,
  on the CPUs we may use) minus this process's own CPU time,

and sets OpenBLAS's thread count to the cores that are free: a core counts as
free while others take less than a quarter of it. It lowers the count at once when
others surely take a core (more than half of it), otherwise after two readings in a
row, and raises it again after two readings in a row, never above the count
OpenBLAS started with (``OPENBLAS_NUM_THREADS``, or one per core). Products too
small to gain from threads run on one: :func:`pinned` holds a count for a block of
code (``FusedTrainer`` pins one thread when it trains on one instance at a time),
and the monitor leaves a pinned count alone.

``WORKBOOK_THREADS=off`` switches the monitor off (BLAS keeps the count the
environment gave it); :func:`status` tells what it saw and decided.

Why the count may change while another thread is inside a BLAS call
--------------------------------------------------------------------
``openblas_set_num_threads(n)`` (OpenBLAS 0.3.2x-0.3.31, ``driver/others/blas_server.c``,
``goto_set_num_threads``) does three things: after a ``fork`` it re-creates the
thread pool (under its ``server_lock``); if ``n`` is larger than the pool it creates
threads (also under the lock); and it stores ``n`` in the global ``blas_cpu_number``.
Affinity is not touched: numpy's wheels are built with ``NO_AFFINITY``, which
:func:`status` reports. Every BLAS routine reads ``blas_cpu_number`` once, at its
start (``num_cpu_avail()`` in ``interface/*.c``), into its own ``nthreads``, and
hands the pieces of work to that many threads from then on; nothing else in the
call reads it again. We never ask for more threads than the pool started with,
so the pool itself never changes: a change is a single aligned ``int`` store,
which a running call does not see (it keeps the count it started with) and the
next call picks up. threadpoolctl's ``threadpool_limits`` makes the same call at
any time. OpenMP builds of OpenBLAS reset the count from OpenMP's own setting in
every call, so the monitor only acts on the pthreads build (``openblas_get_parallel()
== 1``, numpy's), and on nothing else (MKL, Accelerate: left as they are).

What is not counted as "others": threads of this process that compute outside BLAS
(a panel drawing frames while a run trains beside it). The panels throttle their
frames to a third of the training thread's CPU time.
"""
from __future__ import annotations

import atexit
import contextlib
import math
import os
import sys
import threading
import time

ENV = "WORKBOOK_THREADS"
INTERVAL = 0.25  # seconds between readings
FIRST_INTERVAL = 0.1  # the first decision comes quickly: an epoch can be over in a second
SLACK = 0.25  # a core is free while other programs take less than this much of it
SURE = 0.5  # ... and surely taken when they take more than this: fewer threads at once
AGREE = 2  # readings in a row that agree before the count goes up, or down for a core taken less surely
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def enabled() -> bool:
    """Whether the monitor should run (``WORKBOOK_THREADS`` is not off)."""
    return os.environ.get(ENV, "auto").strip().lower() not in {"off", "0", "no", "false"}


# --- what the machine lets us use -----------------------------------------------

def affinity() -> set[int]:
    """The CPUs this process may run on."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return set(range(os.cpu_count() or 1))


def parse_cpu_max(text: str) -> float | None:
    """Cores allowed by a cgroup v2 ``cpu.max`` ("max 100000" or "150000 100000"), or None."""
    parts = text.split()
    if len(parts) < 1 or parts[0] == "max":
        return None
    period = float(parts[1]) if len(parts) > 1 else 100000.0
    return float(parts[0]) / period if period > 0 else None


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def cgroup_quota(root: str = "/sys/fs/cgroup", proc_cgroup: str = "/proc/self/cgroup"):
    """``(cores, usage_file)``: the tightest CPU quota of this process's cgroups, or ``(None, None)``.

    cgroup v2: ``cpu.max`` of our cgroup and its parents; its ``cpu.stat`` gives the
    group's usage. cgroup v1: ``cpu.cfs_quota_us / cpu.cfs_period_us``, usage in
    ``cpuacct.usage``.
    """
    text = _read(proc_cgroup) or ""
    best, usage = None, None
    for line in text.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":  # v2
            parts = [p for p in path.strip().split("/") if p]
            for depth in range(len(parts), -1, -1):
                d = os.path.join(root, *parts[:depth])
                quota = parse_cpu_max(_read(os.path.join(d, "cpu.max")) or "max")
                if quota is not None and (best is None or quota < best):
                    best, usage = quota, os.path.join(d, "cpu.stat")
        elif "cpu" in controllers.split(","):  # v1
            for d in (os.path.join(root, controllers, path.lstrip("/")), os.path.join(root, "cpu", path.lstrip("/"))):
                q, p = _read(os.path.join(d, "cpu.cfs_quota_us")), _read(os.path.join(d, "cpu.cfs_period_us"))
                if q is not None and p is not None:
                    if int(q) > 0 and int(p) > 0 and (best is None or int(q) / int(p) < best):
                        best = int(q) / int(p)
                        acct = os.path.join(root, "cpuacct", path.lstrip("/"), "cpuacct.usage")
                        usage = acct if os.path.exists(acct) else None
                    break
    return best, usage


def usable_cores(cpus: int | None = None, quota: float | None = None) -> int:
    """Cores this process can keep busy: its CPUs, or fewer under a cgroup quota (1.5 cores: 2)."""
    n = len(affinity()) if cpus is None else cpus
    if quota is None and cpus is None:
        quota = cgroup_quota()[0]
    if quota is not None:
        n = min(n, max(1, int(quota + 0.5)))
    return max(1, n)


# --- readings -----------------------------------------------------------------------

def parse_proc_stat(text: str, cpus=None) -> float:
    """CPU seconds used (not idle, not waiting for I/O) on ``cpus`` (None: all) since boot.

    Steal time counts as used: a virtual CPU whose host runs something else is as
    unavailable to a BLAS thread as one another program uses.
    """
    total = 0
    for line in text.splitlines():
        if not line.startswith("cpu"):
            break
        name, *fields = line.split()
        if cpus is None:
            if name != "cpu":
                continue
        elif name == "cpu" or int(name[3:]) not in cpus:
            continue
        values = [int(v) for v in fields[:8]]
        total += sum(values) - values[3] - (values[4] if len(values) > 4 else 0)
        if cpus is None:
            break
    return total / CLK_TCK


def parse_cgroup_usage(text: str) -> float | None:
    """CPU seconds from a cgroup v2 ``cpu.stat`` (usage_usec) or a v1 ``cpuacct.usage`` (ns)."""
    text = text.strip()
    if text.isdigit():
        return int(text) / 1e9
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "usage_usec":
            return int(value) / 1e6
    return None


class Reading:
    """One look at the machine: when, CPU used on our CPUs by everyone, by us, by our cgroup."""

    __slots__ = ("time", "busy", "own", "group")

    def __init__(self, time, busy, own, group=None):
        self.time, self.busy, self.own, self.group = time, busy, own, group


class Machine:
    """Reads what :class:`Policy` needs from /proc and /sys (Linux; elsewhere ``read()`` is None)."""

    def __init__(self):
        self.cpus = affinity()
        self.quota, self.usage_file = cgroup_quota()
        self.all_cpus = self.cpus == set(range(os.cpu_count() or 1))

    @property
    def cores(self) -> int:
        return len(self.cpus)

    def read(self) -> Reading | None:
        stat = _read("/proc/stat")
        if stat is None:
            return None
        group = None
        if self.usage_file:
            text = _read(self.usage_file)
            group = None if text is None else parse_cgroup_usage(text)
        return Reading(time.monotonic(), parse_proc_stat(stat, None if self.all_cpus else self.cpus),
                       time.process_time(), group)


# --- the decision -----------------------------------------------------------------

class Policy:
    """Threads for BLAS from what other programs take; pure arithmetic, so it can be tested.

    ``update(previous, current)`` returns the count to use: the free cores (our CPUs
    minus what others took, and within a quota minus what the rest of our cgroup
    took), at least 1, at most ``max_threads``. A core counts as free while others
    take less than ``slack`` (a quarter) of it. The count goes down at once when
    others surely take a core (more than ``sure``, a half: one descheduled thread
    stalls every product, so waiting costs most), after ``agree`` readings in a
    row when they take between a quarter and a half (a reading lasts a quarter of
    a second and /proc/stat counts in hundredths of a second: one reading can be
    off by a tenth of a core), and up after ``agree`` readings in a row.
    """

    def __init__(self, cores: int, max_threads: int, quota: float | None = None, slack: float = SLACK,
                 sure: float = SURE, agree: int = AGREE):
        self.cores, self.quota, self.slack, self.sure, self.agree = cores, quota, slack, sure, agree
        self.max_threads = max(1, min(max_threads, usable_cores(cores, quota)))
        self.threads, self.up_streak, self.down_streak = self.max_threads, 0, 0
        self.others = self.free = None

    def free_cores(self, previous: Reading, current: Reading) -> float | None:
        dt = current.time - previous.time
        if dt <= 0:
            return None
        own = max(0.0, current.own - previous.own)
        others = max(0.0, (current.busy - previous.busy) - own) / dt
        free = self.cores - others
        if self.quota is not None and current.group is not None and previous.group is not None:
            group_others = max(0.0, (current.group - previous.group) - own) / dt
            free = min(free, self.quota - group_others)
        self.others, self.free = others, free
        return free

    def want(self, free: float, slack: float | None = None) -> int:
        return max(1, min(self.max_threads, math.floor(free + (self.slack if slack is None else slack))))

    def update(self, previous: Reading, current: Reading) -> int:
        free = self.free_cores(previous, current)
        if free is None:
            return self.threads
        want, surely = self.want(free), self.want(free, self.sure)
        if surely < self.threads:
            self.threads, self.up_streak, self.down_streak = surely, 0, 0
        elif want < self.threads:
            self.up_streak, self.down_streak = 0, self.down_streak + 1
            if self.down_streak >= self.agree:
                self.threads, self.down_streak = want, 0
        elif want > self.threads:
            self.up_streak, self.down_streak = self.up_streak + 1, 0
            if self.up_streak >= self.agree:
                self.threads, self.up_streak = want, 0
        else:
            self.up_streak = self.down_streak = 0
        return self.threads


# --- BLAS ------------------------------------------------------------------------------

def _blas():
    """The OpenBLAS calls from workbook_tools.blas, or None where the count cannot be set safely."""
    from . import blas  # imports numpy: only called once numpy is loaded

    funcs = blas._load()
    get, set_, parallel = funcs.get("threads"), funcs.get("set_threads"), funcs.get("parallel")
    if get is None or set_ is None or (parallel is not None and parallel() != 1):
        return None  # not OpenBLAS, or its OpenMP build
    pool_size((get, set_))
    return get, set_


class _State:
    """The count BLAS should have: pinned by a block of code, or the monitor's (one lock for both)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pins: list[int] = []
        self.target: int | None = None  # the monitor's decision
        self.before_pins: int | None = None  # the count when the first pin began
        self.last_set: int | None = None  # what we last set: another value means someone else set it
        self.external = False


_state = _State()
_monitor: "Monitor | None" = None
_pool: int | None = None  # OpenBLAS's count when we first saw it: the size of its thread pool


def blas_threads() -> int | None:
    """OpenBLAS's current thread count (None: no OpenBLAS whose count we can set)."""
    if "numpy" not in sys.modules:
        return None
    calls = _blas()
    return None if calls is None else calls[0]()


def pool_size(calls) -> int:
    """The count OpenBLAS started with (what ``OPENBLAS_NUM_THREADS`` or the cores gave it)."""
    global _pool
    if _pool is None:
        _pool = calls[0]()
    return _pool


def _set(calls, n):
    if calls[0]() != n:
        calls[1](n)
    _state.last_set = n


@contextlib.contextmanager
def pinned(n: int = 1):
    """BLAS on ``n`` threads (at most as many as it started with) for the block; then as before.

    For work too small to gain from more threads (one instance at a time: every
    product is a matrix-vector product, and the weights fit in one core's cache).
    Pins may nest or overlap across threads: the smallest one holds.
    """
    n = max(1, int(n))
    calls = _blas() if "numpy" in sys.modules else None
    if calls is None:
        yield
        return
    with _state.lock:
        if not _state.pins:
            _state.before_pins = calls[0]()
        _state.pins.append(n)
        _set(calls, min(_state.pins))
    try:
        yield
    finally:
        with _state.lock:
            if n in _state.pins:  # (a fork inside the block starts the child afresh)
                _state.pins.remove(n)
            if _state.pins:
                _set(calls, min(_state.pins))
            else:
                back = _state.target if _state.target is not None and not _state.external else _state.before_pins
                _set(calls, back)


class Monitor:
    """The daemon thread that keeps BLAS's thread count at the free cores (see the module's doc)."""

    def __init__(self, machine: Machine | None = None, interval: float = INTERVAL):
        self.machine, self.interval = machine, interval
        self.policy: Policy | None = None
        self.changes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.state = "starting"

    def start(self):
        self._thread = threading.Thread(target=self._run, name="workbook-threads", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 1.0):
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self):
        # Nothing to steer before numpy is loaded (``import workbook_tools`` must stay cheap).
        self.state = "waiting for numpy"
        while "numpy" not in sys.modules:
            if self._stop.wait(self.interval):
                return
        try:
            calls = _blas()
        except Exception as e:  # noqa: BLE001 - a monitor must never break the notebook
            calls, self.state = None, f"no BLAS found ({e})"
        if calls is None:
            self.state = "idle: numpy's BLAS is not an OpenBLAS (pthreads) whose thread count can be set"
            return
        machine = self.machine or Machine()
        previous = machine.read()
        if previous is None:
            self.state = "idle: no /proc/stat on this system"
            return
        self.policy = Policy(machine.cores, pool_size(calls), machine.quota)
        self.state = "running"
        wait = FIRST_INTERVAL
        while not self._stop.wait(wait):
            wait = self.interval
            current = machine.read()
            if current is None:
                continue
            target = self.policy.update(previous, current)
            previous = current
            self._apply(calls, target)

    def _apply(self, calls, target):
        with _state.lock:
            _state.target = target
            if _state.pins:
                return  # a pinned block holds the count; it restores ours when it ends
            current = calls[0]()
            if _state.last_set is not None and current != _state.last_set:
                _state.external = True  # set by someone else (threadpoolctl, the user): theirs to keep
                return
            _state.external = False
            if current != target:
                self.changes += 1
            _set(calls, target)


def start_monitor() -> Monitor | None:
    """Start the monitor once per process (unless ``WORKBOOK_THREADS=off``); returns it."""
    global _monitor
    if not enabled():
        return None
    if _monitor is None or not _monitor.running:
        _monitor = Monitor().start()
    return _monitor


def stop_monitor() -> None:
    global _monitor
    if _monitor is not None:
        _monitor.stop()
    _monitor = None


def status() -> dict:
    """What the monitor saw and decided, and BLAS's thread count now."""
    m = _monitor
    policy = m.policy if m is not None else None
    out = {"blas_threads": blas_threads(), "monitor": "off" if m is None else m.state,
           "pinned": list(_state.pins), "set_elsewhere": _state.external}
    if policy is not None:
        out.update(cores=policy.cores, quota=policy.quota, max_threads=policy.max_threads, target=policy.threads,
                   others=None if policy.others is None else round(policy.others, 2),
                   free=None if policy.free is None else round(policy.free, 2), changes=m.changes)
    if "numpy" in sys.modules:
        from . import blas
        out["blas_config"] = blas.config()
    return out


def _after_fork_in_child():
    # The monitor thread does not survive a fork, and its lock may have been held:
    # start afresh (the child's readings begin now).
    global _state, _monitor
    _state = _State()
    if _monitor is not None:
        _monitor = None
        start_monitor()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
# Stop before the interpreter (and OpenBLAS's own exit handler) tears things down.
atexit.register(stop_monitor)
