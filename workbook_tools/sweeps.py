"""Run a training function over a grid of settings and seeds, on every core, or on a cluster.

Each run gets its own ``numpy.random.Generator`` spawned from one seed, so a
sweep gives the same numbers however the runs are scheduled: one after the
other in this process, on this machine's cores (joblib's worker processes), or
on a Dask cluster (``client=``, through joblib's Dask backend; ``pip install
-e '.[cluster]'``).

Ctrl-C (the kernel's interrupt button) stops a sweep: it returns the runs that
had finished, in their usual order, and says which did not. A run that was
going when Ctrl-C came is never among the results, even where the training
loop inside it turned Ctrl-C into an early stop and returned normally.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import sys
import threading
import warnings

import numpy as np


def grid(**options) -> list[dict]:
    """Every combination of the options: ``grid(lr=[0.1, 0.01], hidden=[32, 64])``."""
    keys = list(options)
    return [dict(zip(keys, values)) for values in itertools.product(*options.values())]


def _run_one(fn, config, seed_seq):
    return fn(**config, rng=np.random.default_rng(seed_seq))


def _indexed(i, fn, config, seed_seq):
    """One run in a worker: its index and result (module level, so that every backend can pickle it)."""
    return i, _run_one(fn, config, seed_seq)


class SweepRows(list):
    """The rows of a sweep (a list of dicts), and whether it was interrupted.

    ``interrupted``: Ctrl-C stopped the sweep; the list then holds the finished
    runs only, and ``missing`` the ``{**config, "run": r}`` of those that did not
    finish (stopped while going, or never started).
    """

    interrupted: bool = False
    missing: list

    def __init__(self, rows=(), missing=()):
        super().__init__(rows)
        self.missing = list(missing)
        self.interrupted = bool(self.missing)


class _SigintWatch:
    """Notices every Ctrl-C in the main thread, even one a training loop handles itself.

    ``Trainer`` turns Ctrl-C into "stop after this step" and returns normally, so a
    run cut short looks finished. Signals always write their number to Python's
    wakeup file descriptor, whoever handles them: we read it before accepting each
    result. Outside the main thread (where no signal arrives) it does nothing.
    """

    def __init__(self):
        self.fired = False
        self._socks = self._old = None

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        try:
            self._old = signal.set_wakeup_fd(b.fileno(), warn_on_full_buffer=False)
        except (ValueError, OSError):
            a.close()
            b.close()
            return self
        self._socks = (a, b)
        return self

    def check(self) -> bool:
        """Whether SIGINT has arrived since the watch began."""
        if self._socks is None or self.fired:
            return self.fired
        try:
            data = self._socks[0].recv(4096)
        except (BlockingIOError, InterruptedError):
            return False
        if signal.SIGINT in data:
            self.fired = True
        self._forward(data)
        return self.fired

    def _forward(self, data):
        if self._old is not None and self._old != -1 and data:
            with contextlib.suppress(OSError):
                os.write(self._old, data)  # whoever listened before us still hears of their signals

    def __exit__(self, *exc):
        if self._socks is not None:
            self.check()
            signal.set_wakeup_fd(self._old if self._old is not None else -1)
            for sock in self._socks:
                sock.close()
            self._socks = None
        return False


def sweep(fn, configs, *, repeats: int = 1, seed: int = 0, paired: bool = False, n_jobs: int | None = None,
          progress: bool = True, client=None) -> SweepRows:
    """Call ``fn(**config, rng=Generator)`` for each config, ``repeats`` times.

    Parameters
    ----------
    fn : a function importable by worker processes (defined at module level, or in
        a notebook: joblib ships notebook functions to the workers by value) that
        returns a dict of results, e.g. ``{"val_acc": 0.96, "history": h}``
    configs : list of dicts (see :func:`grid`)
    repeats : runs per config, each with its own seed
    paired : give run ``r`` of every config the same seed, so configs are compared
        from the same initial weights and data order (less noise in differences)
    n_jobs : worker processes (default: one per core; 1 runs in this process);
        with a ``client``, at most this many runs at once (default: as many as
        the cluster's workers take)
    client : a ``dask.distributed.Client``, or the address of a Dask scheduler
        (``"tcp://host:8786"``): the runs go to that cluster through joblib's Dask
        backend, with the same seeds, so the rows are those of a local sweep

    Returns
    -------
    :class:`SweepRows`, a list of dicts, one row per run in the order of the
    configs and then of the repeats: the config, ``run`` (0..repeats-1) and
    ``fn``'s results. After Ctrl-C: only the runs that finished, with
    ``interrupted`` set and ``missing`` naming the others (also printed).
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    configs = [dict(c) for c in configs]
    if not configs:
        raise ValueError("no configurations to run")
    if int(repeats) < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    jobs = [(c, r) for c in configs for r in range(repeats)]
    seeds = np.random.SeedSequence(seed).spawn(repeats if paired else len(jobs))
    if paired:
        seeds = [seeds[r] for _, r in jobs]
    if client is not None:
        backend = _dask_backend(client)
        n_jobs = n_jobs or -1
    else:
        # loky workers are told to use cpu_count // n_jobs BLAS threads, so the
        # processes together never ask for more threads than there are cores.
        backend = contextlib.nullcontext()
        n_jobs = min(n_jobs or os.cpu_count() or 1, len(jobs))
    rows = [None] * len(jobs)
    with tqdm(total=len(jobs), unit="run", disable=not progress) as bar, _SigintWatch() as watch:
        results = None
        try:
            with backend:
                results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
                    delayed(_indexed)(i, fn, c, seeds[i]) for i, (c, _) in enumerate(jobs))
                for i, result in results:
                    if watch.check():
                        break  # Ctrl-C came while this run went on: it may have been cut short
                    if not isinstance(result, dict):
                        raise TypeError(f"the sweep function must return a dict of results,"
                                        f" got {type(result).__name__}")
                    config, run = jobs[i]
                    rows[i] = {**config, "run": run, **result}
                    bar.update()
        except KeyboardInterrupt:
            watch.fired = True
        finally:
            if results is not None and watch.fired:
                with warnings.catch_warnings():  # joblib warns of the runs it cancels: we say it below
                    warnings.simplefilter("ignore")
                    results.close()
    if any(r is None for r in rows):
        return _interrupted(rows, jobs)
    return SweepRows(rows)


def _dask_backend(client):
    """joblib's Dask backend on ``client`` (a Client or a scheduler address)."""
    try:
        import distributed
    except ImportError:
        raise ImportError("a sweep on a Dask cluster needs the 'distributed' package:"
                          " pip install -e '.[cluster]'") from None
    from joblib import parallel_config

    if not isinstance(client, str):
        return parallel_config(backend="dask", client=client)
    # our own client for an address, closed with the sweep (joblib's would outlive it and keep
    # trying to reconnect once the cluster is gone)
    stack = contextlib.ExitStack()
    stack.enter_context(parallel_config(backend="dask", client=stack.enter_context(distributed.Client(client))))
    return stack


def _interrupted(rows, jobs) -> SweepRows:
    done = [r for r in rows if r is not None]
    missing = [{**jobs[i][0], "run": jobs[i][1]} for i, r in enumerate(rows) if r is None]
    names = ", ".join(" ".join(f"{k}={v}" for k, v in m.items()) for m in missing[:8])
    more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
    print(f"sweep interrupted: {len(done)} of {len(rows)} runs finished and are returned;"
          f" not finished (not in the results): {names}{more}", file=sys.stderr, flush=True)
    return SweepRows(done, missing)


def summarize(rows, by, metrics) -> list[dict]:
    """Mean and standard deviation of ``metrics`` for each value of the ``by`` keys.

    Returns rows like ``{"lr": 0.01, "val_acc_mean": ..., "val_acc_std": ..., "runs": 3}``
    in the order the groups first appear.
    """
    by = [by] if isinstance(by, str) else list(by)
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    groups: dict[tuple, list] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in by), []).append(row)
    out = []
    for key, members in groups.items():
        summary = dict(zip(by, key))
        for m in metrics:
            values = np.array([r[m] for r in members], dtype=float)
            summary[f"{m}_mean"] = float(values.mean())
            summary[f"{m}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        summary["runs"] = len(members)
        out.append(summary)
    return out


def format_table(rows, columns=None, digits: int = 4) -> str:
    """Rows of dicts as an aligned text table; floats rounded to ``digits`` places."""
    if not rows:
        return "(no rows)"
    columns = columns or list(rows[0])
    cells = [[f"{r[c]:.{digits}f}" if isinstance(r[c], float) else str(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)
