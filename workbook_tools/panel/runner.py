"""The panel's one run at a time: its state, its thread, and how Stop reaches it.

``Runner.state`` is the only record of whether a run is going on: ``idle``,
``running`` or ``stopping`` (Stop was asked; the run ends after its current
step). Stop never interrupts a step from outside: the :class:`Feed` callback,
which the run's training loop calls after every step, reads the state and asks
the loop to stop, so the model and the history stay consistent.

A notebook cell that builds a panel may be run again while the first panel's
thread still trains. :func:`claim` keeps one live runner per key: the newer
panel stops the older one's run instead of leaving it to compete for the CPU.
"""
from __future__ import annotations

import threading
import weakref

from course_lib.training import Callback

IDLE, RUNNING, STOPPING = "idle", "running", "stopping"

# key -> the runner of the newest panel with that key; weak, so that a panel
# nobody holds any more is not kept alive by being registered
_RUNNERS: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()
_RUNNERS_LOCK = threading.Lock()


class Runner:
    """Runs one job at a time, in this thread or in a background one, and asks it to stop."""

    def __init__(self, on_idle=None):
        self.on_idle = on_idle  # called after each job, once the state is idle again
        self._lock = threading.Lock()
        self.state = IDLE
        self.stop_why = ""  # how the end-of-run message says who stopped it
        self.thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.state != IDLE

    def start(self, job, *, blocking):
        """Run ``job()`` (here if ``blocking``, else in a new thread); returns its result when
        blocking. Returns None without running it while another job runs."""
        with self._lock:
            if self.state != IDLE:
                return None
            self.state, self.stop_why = RUNNING, ""
        if blocking:
            return self._run(job)
        self.thread = threading.Thread(target=self._run, args=(job,), name="TrainingPanel", daemon=True)
        self.thread.start()
        return None

    def _run(self, job):
        try:
            return job()
        finally:
            self.state = IDLE
            if self.on_idle is not None:
                self.on_idle()

    def request_stop(self, why="by you") -> bool:
        """Ask the running job to stop after its current step; False if none is running."""
        with self._lock:
            if self.state != RUNNING:
                return False
            self.state, self.stop_why = STOPPING, why
            return True

    def wait(self, timeout=None) -> bool:
        """Wait for a background job; True when none is running any more."""
        t = self.thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)
        return not (t is not None and t.is_alive())


class Feed(Callback):
    """The callback a panel passes to ``run``: hands the loop's progress to the panel
    (``on_begin``, ``on_step``, ``on_end`` receive the loop) and carries Stop in."""

    def __init__(self, runner, on_begin, on_step, on_end):
        self.runner, self.on_begin, self.on_step, self.on_end = runner, on_begin, on_step, on_end
        self.loop = None  # the run's loop, once run() has started training

    def on_train_begin(self, loop):
        self.loop = loop
        self.on_begin(loop)

    def on_step_end(self, loop):
        if self.runner.state == STOPPING and not loop.stopping:
            loop.stop("requested", f"stopped {self.runner.stop_why} at step {loop.step} of {loop.total_steps}")
        self.on_step(loop)

    def on_train_end(self, loop):
        self.on_end(loop)


def claim(key, runner, timeout=5.0):
    """Register ``runner`` as the live one for ``key``; stop the run of the one it replaces
    and wait for it (up to ``timeout`` s) so that the new panel has the CPU to itself."""
    with _RUNNERS_LOCK:
        old = _RUNNERS.get(key)
        _RUNNERS[key] = runner
    if old is not None and old is not runner and old.request_stop("by a newer panel (its cell was run again)"):
        old.wait(timeout)
