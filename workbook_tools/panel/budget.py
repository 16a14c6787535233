"""What a run would cost, known before it starts, and the budget it must fit.

A panel trains in the notebook's kernel. Settings that need more memory than the
machine has do not fail politely: the kernel swaps, then the OOM killer ends it,
and Stop cannot help because it acts between steps and one step never ends. So a
panel with an ``estimate`` asks it, before each run, for a :class:`Cost`, and
:class:`Budget` refuses a run that would need more than a share of the memory
available now, or steps so long that Stop would not be heard, with a message
saying what was asked, what it needs and what fits.

:func:`mlp_estimate` makes the estimate of the usual panel (an MLP whose hidden
sizes, epochs or batch size are controls); :func:`mlp_cost` is the arithmetic
behind it, usable on its own.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
import time
from typing import Callable

import numpy as np

EVAL_CHUNK = 8192  # course_lib.training.evaluate forwards the validation set this many rows at a time


class BudgetError(ValueError):
    """Settings that would need more memory or time than the panel allows."""


@dataclasses.dataclass(frozen=True)
class Cost:
    """The estimated cost of one run.

    bytes: peak memory the run adds; seconds: its duration (without drawing);
    what: the setting in words ("784-100000-10"); parts: ``(label, bytes)`` pairs
    that add up to ``bytes``; step_seconds: the longest stretch between two
    steps (Stop acts only there); fits: ``fits(max_bytes, max_step_seconds)``
    says in words which setting would fit, or is None.
    """

    bytes: float
    seconds: float
    what: str = "these values"
    parts: tuple = ()
    step_seconds: float = 0.0
    fits: Callable[[float, float], str] | None = None


@dataclasses.dataclass(frozen=True)
class Budget:
    """At most ``memory_share`` of the memory available when Train is pressed, and
    no step longer than ``max_step_seconds`` (else Stop would wait that long)."""

    memory_share: float = 0.5
    max_step_seconds: float = 10.0

    def __post_init__(self):
        if not 0 < self.memory_share <= 1:
            raise ValueError(f"memory_share must be in (0, 1], got {self.memory_share}")
        if not self.max_step_seconds > 0:
            raise ValueError(f"max_step_seconds must be positive, got {self.max_step_seconds}")

    def check(self, cost: Cost, available: float | None = None) -> None:
        """Raise BudgetError, saying what fits, if ``cost`` is over budget."""
        free = available_memory() if available is None else available
        limit = self.memory_share * free
        if cost.bytes > limit:
            parts = "; ".join(f"{label}: {format_bytes(b)}" for label, b in cost.parts)
            share = "half" if self.memory_share == 0.5 else f"{self.memory_share:.0%}"
            raise BudgetError(f"{cost.what} needs about {format_bytes(cost.bytes)}"
                              f"{f' ({parts})' if parts else ''}; {format_bytes(free)} are free and a panel"
                              f" may use {share} of that: {self._advice(cost, limit)}.")
        if cost.step_seconds > self.max_step_seconds:
            raise BudgetError(f"{cost.what}: one step would take {about(cost.step_seconds)},"
                              f" and Stop can only act between steps (a panel allows"
                              f" {format_seconds(self.max_step_seconds)}): {self._advice(cost, limit)}.")

    def _advice(self, cost, limit):
        return cost.fits(limit, self.max_step_seconds) if cost.fits is not None else "choose smaller values"


def available_memory() -> float:
    """Bytes the kernel can still allocate without swapping: MemAvailable, within a
    container's cgroup limit; elsewhere half the physical memory, or 2 GiB."""
    free = _meminfo_available()
    if free is None:
        try:
            free = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2
        except (AttributeError, ValueError, OSError):
            free = 2 * 2**30
    room = _cgroup_room()
    return float(min(free, room) if room is not None else free)


def _meminfo_available():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room():
    """What a cgroup v2 memory limit leaves (containers see the host's MemAvailable)."""
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        if limit == "max":
            return None
        with open("/sys/fs/cgroup/memory.current") as f:
            return max(0, int(limit) - int(f.read()))
    except (OSError, ValueError):
        return None


# ----------------------------------------------------------------------------- an MLP's cost
def mlp_cost(sizes, *, batch_size, n_train, n_val=0, epochs=1, val_every=None, dtype=np.float64, grid=None,
             eval_chunk=EVAL_CHUNK) -> Cost:
    """Memory and time of training the MLP ``sizes`` with ``course_lib.train``.

    Memory: the parameters three times (weights, gradients, optimiser state), the
    activations of a training batch (forward, kept for backward, and backward's
    temporaries), those of one evaluation chunk of the validation set, and those
    of a ``grid`` x ``grid`` decision-boundary picture if the panel draws one.
    The data themselves are already in memory and are not counted.
    Time: the FLOPs of the matrix products at the rate this machine reaches,
    plus Python's overhead per layer and step, both measured once per process.
    """
    from course_lib import parse_sizes

    sizes = parse_sizes(sizes)
    itemsize = np.dtype(dtype).itemsize
    widths, weights = sizes[1:], sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    batch = max(1, min(int(batch_size), int(n_train)))
    chunk = min(int(eval_chunk), int(n_val))

    def acts(rows, backward):  # kept outputs of every layer, plus the widest layer's temporaries
        return rows * (sizes[0] + sum(widths) + (4 if backward else 2) * max(widths)) * itemsize

    parts = [("parameters, gradients and optimiser state", 3 * sum((a + 1) * b for a, b in
                                                                   zip(sizes[:-1], sizes[1:])) * itemsize),
             (f"activations of a batch of {batch:,}", acts(batch, True))]
    if chunk:
        parts.append((f"the validation in chunks of {chunk:,}", acts(chunk, False)))
    if grid:
        parts.append(_grid_part(int(grid), sizes, itemsize, acts))
    seconds, step_seconds = _mlp_seconds(sizes, weights, batch, int(n_train), int(n_val), int(epochs), val_every,
                                         grid, np.dtype(dtype))
    return Cost(bytes=float(sum(b for _, b in parts)), seconds=seconds, what="-".join(map(str, sizes)),
                parts=tuple(parts), step_seconds=step_seconds)


def _grid_part(grid: int, sizes, itemsize: int, acts) -> tuple[str, int]:
    """The decision-boundary picture's share: plot_decision_boundary sends the grid through
    the network in chunks, so it costs one chunk's activations, not the whole grid's."""
    from ..plots import grid_chunk_rows

    rows = min(grid ** 2, grid_chunk_rows(sizes, itemsize))
    at_a_time = f", {rows:,} points at a time" if rows < grid ** 2 else ""
    return f"the {grid}×{grid} decision-boundary grid{at_a_time}", acts(rows, False)


def _mlp_seconds(sizes, weights, batch, n_train, n_val, epochs, val_every, grid, dtype):
    """(whole run, longest stretch between steps) in seconds."""
    rate, overhead, per_element = machine_speed(dtype.name)
    layers, units = len(sizes) - 1, sum(sizes[1:])

    def forward(rows):  # 2 FLOPs per weight and row, a third of the activations' work
        return 2 * rows * weights / rate + rows * units * per_element / 3

    steps_per_epoch = math.ceil(n_train / batch)
    step = 3 * forward(batch) + overhead * layers  # backward costs about twice the forward pass
    validation = sum(forward(min(EVAL_CHUNK, n_val - s)) + overhead * layers / 3
                     for s in range(0, n_val, EVAL_CHUNK))
    validations = steps_per_epoch * epochs // int(val_every or steps_per_epoch)
    picture = forward(int(grid) ** 2) if grid else 0.0
    return steps_per_epoch * epochs * step + validations * validation, step + validation + picture


@functools.lru_cache(maxsize=None)
def machine_speed(dtype_name: str = "float64") -> tuple[float, float, float]:
    """What a training step costs on this machine, measured with course_lib's own Trainer
    the first time it is asked (about 0.1 s): FLOP/s of the matrix products, seconds of
    Python per layer, and seconds per activation (one unit of one row, forward and back)."""
    def flops(sizes, rows):
        return 6 * rows * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))

    overhead = _seconds_per_step([2, 2, 2], 4, 20, dtype_name) / 2
    products = [128, 256, 128, 10]  # products dominate
    rate = flops(products, 256) / max(_seconds_per_step(products, 256, 3, dtype_name) - 3 * overhead, 1e-6)
    wide = [2, 512, 2]  # the activations dominate, on arrays that stay in cache as a small network's do
    rest = _seconds_per_step(wide, 64, 10, dtype_name) - 2 * overhead - flops(wide, 64) / rate
    return rate, overhead, max(rest, 0.0) / (64 * sum(wide[1:]))


def _seconds_per_step(sizes, rows, steps, dtype_name):
    import course_lib as cl

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((rows, sizes[0])), rng.integers(0, sizes[-1], rows)
    best = math.inf
    for _ in range(3):  # the best of three: a busy moment must not stick for the whole session
        net = cl.mlp(sizes, rng=0, activation="tanh", dtype=dtype_name)
        start = time.perf_counter()
        cl.train(net, (X, y), lr=0.01, epochs=steps, batch_size=rows, shuffle=False)
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def mlp_estimate(*, inputs, outputs, n_train, n_val=0, hidden="hidden", epochs="epochs", batch_size=32,
                 val_every=None, grid=None, dtype=np.float64):
    """An ``estimate`` for :class:`TrainingPanel`: ``values -> Cost`` of training an MLP.

    ``hidden``, ``epochs``, ``batch_size`` and ``val_every`` are each either the
    name of a control (a string) or a fixed value (for ``hidden`` a list of sizes,
    ``[]`` for none). ``grid``: the resolution of a live decision boundary. The
    Cost's ``fits`` scales the hidden sizes down to what fits.
    """
    from course_lib import parse_sizes

    def estimate(values):
        def get(x):
            if not isinstance(x, str):
                return x
            if x not in values:
                raise ValueError(f"mlp_estimate: no control named {x!r} (the controls are {', '.join(values)});"
                                 f" pass the control's name or a fixed value")
            return values[x]

        hid = [] if isinstance(get(hidden), (list, tuple)) and not get(hidden) else parse_sizes(get(hidden))
        options = dict(batch_size=get(batch_size), n_train=n_train, n_val=n_val, epochs=get(epochs),
                       val_every=get(val_every), dtype=dtype, grid=grid)

        def cost_of(h):
            return mlp_cost([inputs, *h, outputs], **options)

        cost = cost_of(hid)
        return dataclasses.replace(cost, fits=_hidden_that_fits(hid, cost_of) if hid else None)

    return estimate


def _hidden_that_fits(hidden, cost_of):
    """``fits(max_bytes, max_step_seconds)`` for these hidden sizes: the largest proportional
    scaling of them that stays within both limits, found by bisection."""
    def fits(max_bytes, max_step_seconds):
        def ok(h):
            c = cost_of(h)
            return c.bytes <= max_bytes and c.step_seconds <= max_step_seconds

        def scaled(f):
            return [max(1, int(w * f)) for w in hidden]

        if not ok(scaled(0)):
            return "even one unit per hidden layer does not fit: use a smaller batch or fewer layers"
        lo, hi = 0.0, 1.0
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if ok(scaled(mid)) else (lo, mid)
        best = [_round_down(w) for w in scaled(lo)]
        if len(best) == 1:
            return f"at most about {best[0]:,} hidden units fit"
        return f"hidden sizes up to about {'-'.join(f'{w:,}' for w in best)} fit"

    return fits


def _round_down(n: int) -> int:
    """Two significant digits, rounded down: what fits must still fit."""
    if n < 100:
        return n
    unit = 10 ** (len(str(n)) - 2)
    return n // unit * unit


def format_bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.2g} {unit}" if n < 10 * size else f"{n / size:.0f} {unit}"
    return f"{n:.0f} bytes"


def about(s: float) -> str:
    """``about 4 s``, ``about 3 min``, ``under a second``."""
    return "under a second" if s < 1 else f"about {format_seconds(s)}"


def format_seconds(s: float) -> str:
    if s < 1:
        return f"{s:.1g} s"
    if s < 90:
        return f"{s:.0f} s"
    if s < 90 * 60:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"
