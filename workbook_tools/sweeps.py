"""Run a training function over a grid of settings and seeds, on every core.

Each run gets its own ``numpy.random.Generator`` spawned from one seed, so a
sweep gives the same numbers however the runs are scheduled.
"""
from __future__ import annotations

import itertools
import os

import numpy as np


def grid(**options) -> list[dict]:
    """Every combination of the options: ``grid(lr=[0.1, 0.01], hidden=[32, 64])``."""
    keys = list(options)
    return [dict(zip(keys, values)) for values in itertools.product(*options.values())]


def _run_one(fn, config, seed_seq):
    return fn(**config, rng=np.random.default_rng(seed_seq))


def sweep(fn, configs, *, repeats: int = 1, seed: int = 0, paired: bool = False, n_jobs: int | None = None,
          progress: bool = True) -> list[dict]:
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
    n_jobs : worker processes (default: one per core; 1 runs in this process)

    Returns
    -------
    list of dict, one row per run: the config, ``run`` (0..repeats-1) and ``fn``'s results
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
    n_jobs = n_jobs or os.cpu_count() or 1
    rows = [None] * len(jobs)
    with tqdm(total=len(jobs), unit="run", disable=not progress) as bar:
        # loky workers are told to use cpu_count // n_jobs BLAS threads, so the
        # processes together never ask for more threads than there are cores.
        results = Parallel(n_jobs=min(n_jobs, len(jobs)), return_as="generator_unordered")(
            delayed(lambda i, c, s: (i, _run_one(fn, c, s)))(i, c, seeds[i]) for i, (c, _) in enumerate(jobs)
        )
        for i, result in results:
            if not isinstance(result, dict):
                raise TypeError(f"the sweep function must return a dict of results, got {type(result).__name__}")
            config, run = jobs[i]
            rows[i] = {**config, "run": run, **result}
            bar.update()
    return rows


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
