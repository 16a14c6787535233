"""workbook_tools.threads: BLAS's thread count from what is free (the decisions on fake readings)."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import course_lib as cl
from workbook_tools import threads
from workbook_tools.fast import FusedTrainer
from workbook_tools.threads import Policy, Reading

PROC_STAT = """cpu  1000 10 200 5000 50 0 5 20 0 0
cpu0 500 5 100 2500 25 0 2 10 0 0
cpu1 500 5 100 2500 25 0 3 10 0 0
intr 12345
"""


def reading(t, busy, own, group=None):
    return Reading(t, busy, own, group)


# --- reading the machine ----------------------------------------------------

def test_proc_stat_counts_busy_time_with_steal_but_not_idle_or_iowait():
    hz = threads.CLK_TCK
    # user + nice + system + irq + softirq + steal
    assert threads.parse_proc_stat(PROC_STAT) == pytest.approx((1000 + 10 + 200 + 0 + 5 + 20) / hz)
    assert threads.parse_proc_stat(PROC_STAT, {1}) == pytest.approx((500 + 5 + 100 + 0 + 3 + 10) / hz)
    assert threads.parse_proc_stat(PROC_STAT, {0, 1}) == pytest.approx(threads.parse_proc_stat(PROC_STAT))


@pytest.mark.parametrize("text, cores", [("max 100000\n", None), ("150000 100000\n", 1.5), ("50000 100000", 0.5),
                                         ("200000", 2.0)])
def test_cgroup_cpu_max(text, cores):
    assert threads.parse_cpu_max(text) == cores


def test_cgroup_usage_v2_and_v1():
    assert threads.parse_cgroup_usage("usage_usec 2500000\nuser_usec 2000000\n") == 2.5
    assert threads.parse_cgroup_usage("7000000000\n") == 7.0


def test_the_tightest_cgroup_quota_on_the_way_up(tmp_path):
    root = tmp_path / "cg"
    (root / "a" / "b").mkdir(parents=True)
    (root / "cpu.max").write_text("max 100000\n")
    (root / "a" / "cpu.max").write_text("150000 100000\n")
    (root / "a" / "b" / "cpu.max").write_text("300000 100000\n")
    (root / "a" / "cpu.stat").write_text("usage_usec 1000\n")
    proc = tmp_path / "cgroup"
    proc.write_text("0::/a/b\n")
    quota, usage = threads.cgroup_quota(str(root), str(proc))
    assert quota == 1.5 and usage == str(root / "a" / "cpu.stat")
    proc.write_text("0::/\n")
    assert threads.cgroup_quota(str(root), str(proc)) == (None, None)


def test_cgroup_v1_quota(tmp_path):
    root = tmp_path / "cg"
    (root / "cpu,cpuacct").mkdir(parents=True)
    (root / "cpu,cpuacct" / "cpu.cfs_quota_us").write_text("250000\n")
    (root / "cpu,cpuacct" / "cpu.cfs_period_us").write_text("100000\n")
    proc = tmp_path / "cgroup"
    proc.write_text("4:memory:/x\n3:cpu,cpuacct:/\n")
    assert threads.cgroup_quota(str(root), str(proc))[0] == 2.5
    (root / "cpu,cpuacct" / "cpu.cfs_quota_us").write_text("-1\n")
    assert threads.cgroup_quota(str(root), str(proc))[0] is None


def test_usable_cores():
    assert threads.usable_cores(8, None) == 8
    assert threads.usable_cores(8, 1.5) == 2
    assert threads.usable_cores(8, 1.2) == 1
    assert threads.usable_cores(2, 0.3) == 1
    assert threads.usable_cores(2, 16.0) == 2
    assert 1 <= threads.usable_cores() <= (os.cpu_count() or 1)


def test_the_machine_can_be_read_here():
    m = threads.Machine()
    r = m.read()
    assert m.cores >= 1
    if sys.platform.startswith("linux"):
        assert r is not None and r.busy > 0 and r.own > 0


# --- the decisions ------------------------------------------------------------

def test_a_quiet_machine_keeps_every_thread():
    p = Policy(cores=2, max_threads=2)
    assert p.update(reading(0, 0, 0), reading(1, 2.0, 1.95)) == 2  # we used both cores, others 0.05
    assert p.others == pytest.approx(0.05)


def test_a_busy_core_means_one_thread_at_once():
    p = Policy(cores=2, max_threads=2)
    # another program took 0.7 of a core while our two threads fought it for the rest
    assert p.update(reading(0, 0, 0), reading(0.25, 0.5, 0.325)) == 1
    assert p.others == pytest.approx(0.7)


def test_a_little_noise_is_not_a_busy_core():
    p = Policy(cores=2, max_threads=2)
    assert p.update(reading(0, 0, 0), reading(1, 1.2, 1.0)) == 2  # others 0.2 < slack 0.25
    assert p.update(reading(1, 1.2, 1.0), reading(2, 2.7, 2.2)) == 2  # others 0.3: once may be a miscount
    assert p.update(reading(2, 2.7, 2.2), reading(3, 3.8, 3.1)) == 2  # 0.2: it was
    assert p.update(reading(3, 3.8, 3.1), reading(4, 5.3, 4.2)) == 2  # 0.4 (not surely: that is over 0.5)
    assert p.update(reading(4, 5.3, 4.2), reading(5, 6.75, 5.3)) == 1  # 0.35, the second reading in a row


def test_agreeing_readings(monkeypatch):
    p = Policy(cores=2, max_threads=2, agree=2)
    prev = reading(0.0, 0.0, 0.0)

    def step(others, ours):
        nonlocal prev
        cur = reading(prev.time + 1, prev.busy + others + ours, prev.own + ours)
        out = p.update(prev, cur)
        prev = cur
        return out

    assert step(1.0, 1.0) == 1  # the other program: down at once
    assert step(0.0, 1.0) == 1  # it stopped: one quiet reading is not enough
    assert step(1.0, 1.0) == 1  # back again: the streak starts over
    assert step(0.0, 1.0) == 1
    assert step(0.0, 1.0) == 2  # two quiet readings in a row
    assert step(0.3, 1.7) == 2  # a little busy...
    assert step(0.1, 1.9) == 2  # ...but not twice in a row
    assert step(0.4, 1.6) == 2
    assert step(0.4, 1.6) == 1  # twice in a row: down


def test_never_more_than_the_pool_or_the_cores():
    assert Policy(cores=8, max_threads=4).max_threads == 4
    assert Policy(cores=2, max_threads=64).max_threads == 2
    p = Policy(cores=8, max_threads=8)
    assert p.update(reading(0, 0, 0), reading(1, 3.0, 0.5)) == 6  # others took 2.5 of 8 cores: surely 2
    assert p.update(reading(1, 3.0, 0.5), reading(2, 6.0, 1.0)) == 6
    assert p.update(reading(2, 6.0, 1.0), reading(3, 9.0, 1.5)) == 5  # the half of a third, twice in a row
    assert p.update(reading(3, 9.0, 1.5), reading(4, 17.0, 2.0)) == 1  # others took 7.5


def test_a_quota_and_the_rest_of_our_cgroup():
    # 16 CPUs (a big shared host) but a quota of 2 cores for our container
    p = Policy(cores=16, max_threads=16, quota=2.0)
    assert p.max_threads == 2
    # the host is busy elsewhere (10 cores), our container only runs us: 2 threads
    assert p.update(reading(0, 0, 0, 0), reading(1, 11.0, 1.0, 1.0)) == 2
    # another process in our container takes a core of our quota: 1 thread
    assert p.update(reading(1, 11.0, 1.0, 1.0), reading(2, 13.0, 2.0, 3.0)) == 1


def test_time_must_pass_between_readings():
    p = Policy(cores=2, max_threads=2)
    assert p.update(reading(1, 0, 0), reading(1, 5, 0)) == 2


def test_monitor_off_by_environment_variable():
    code = "import workbook_tools, numpy; from workbook_tools import threads; print(threads.status()['monitor'])"
    for value, expected in [("off", "off"), ("auto", "")]:
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "WORKBOOK_THREADS": value},
                             capture_output=True, text=True, check=True).stdout.strip()
        assert (out == "off") == (expected == "off"), out


# --- the monitor and pins on the real BLAS ---------------------------------------

needs_openblas = pytest.mark.skipif(threads.blas_threads() is None, reason="numpy's BLAS is not a pthreads OpenBLAS")


@pytest.fixture
def no_monitor():
    """The process's monitor off for the test (it would change the count meanwhile), back on afterwards."""
    was = threads._monitor is not None
    threads.stop_monitor()
    before = threads.blas_threads()
    yield
    calls = threads._blas()
    if calls is not None and before is not None:
        calls[1](before)
        threads._state.last_set = None
    if was:
        threads.start_monitor()


@needs_openblas
def test_pins_nest_and_restore(no_monitor):
    calls = threads._blas()
    start = calls[0]()
    with threads.pinned(1):
        assert threads.blas_threads() == 1
        with threads.pinned(2):
            assert threads.blas_threads() == 1  # the smallest pin holds
        assert threads.blas_threads() == 1
    assert threads.blas_threads() == start


class ThreadsSeen(cl.Callback):
    def on_train_begin(self, loop):
        self.seen = set()

    def on_step_end(self, loop):
        self.seen.add(threads.blas_threads())


@needs_openblas
@pytest.mark.parametrize("batch_size", [1, 16])
def test_fused_trainer_pins_one_thread_for_one_instance_at_a_time(no_monitor, batch_size):
    calls = threads._blas()
    before = calls[0]()
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 6)), rng.integers(0, 3, 40)
    seen = ThreadsSeen()
    FusedTrainer(cl.mlp([6, 5, 3], rng=0), lr=0.1, batch_size=batch_size, callbacks=[seen], rng=1).fit((X, y))
    assert seen.seen == ({1} if batch_size == 1 else {before})
    assert calls[0]() == before  # given back


@needs_openblas
def test_the_monitor_lowers_the_count_when_others_take_a_core(no_monitor):
    class Busy:
        """Fake readings: another program takes a whole core."""
        cores, quota = 2, None

        def __init__(self):
            self.t = self.busy = self.own = 0.0

        def read(self):
            self.t += 1.0
            self.busy += 1.0 + 0.5
            self.own += 0.5
            return Reading(self.t, self.busy, self.own)

    calls = threads._blas()
    calls[1](2)
    threads._state.last_set = None
    m = threads.Monitor(machine=Busy(), interval=0.01).start()
    try:
        for _ in range(200):
            if calls[0]() == 1:
                break
            threading.Event().wait(0.01)
        assert calls[0]() == 1
        assert m.policy.others == pytest.approx(1.0)
    finally:
        m.stop()


@needs_openblas
def test_a_count_set_elsewhere_is_left_alone(no_monitor):
    class Quiet:
        cores, quota = 2, None

        def __init__(self):
            self.t = 0.0

        def read(self):
            self.t += 1.0
            return Reading(self.t, self.t * 2.0, self.t * 2.0)  # nobody else

    calls = threads._blas()
    calls[1](2)
    threads._state.last_set = 2
    calls[1](1)  # threadpoolctl, or the user, after the monitor's last word
    m = threads.Monitor(machine=Quiet(), interval=0.01).start()
    try:
        threading.Event().wait(0.2)
        assert calls[0]() == 1 and threads._state.external
    finally:
        m.stop()
