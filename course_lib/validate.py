"""Checks of the numbers that several modules take: a clear error, raised before anything changes."""
from __future__ import annotations

import math

import numpy as np


def whole_number(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int if it is a whole number >= ``minimum`` (epochs, batch sizes, strides, ...).

    A float is refused rather than rounded: int(1.5) would quietly train one epoch.
    A bool is refused too (True is not a count); numpy integers are welcome.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum} (an int), got {value!r}")
    return int(value)


def positive_number(name: str, value) -> float:
    """``value`` as a float if it is a finite number > 0: a step size, or an ε or h that is divided by."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)
