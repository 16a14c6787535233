"""Weight initialisers by name, seeded through a ``numpy.random.Generator``."""
from __future__ import annotations

import numpy as np


def _normal(rng, n_in, n_out, std):
    return rng.standard_normal((n_in, n_out)) * std


INITIALIZERS = {
    # N(0, 1): what a first attempt uses; saturates sigmoids on 784 inputs.
    "normal": lambda rng, n_in, n_out: _normal(rng, n_in, n_out, 1.0),
    "uniform": lambda rng, n_in, n_out: rng.uniform(-1.0, 1.0, (n_in, n_out)),
    # N(0, 1/fan_in) keeps the pre-activation variance near 1 (LeCun's "improved" init).
    "fan_in": lambda rng, n_in, n_out: _normal(rng, n_in, n_out, np.sqrt(1.0 / n_in)),
    # Glorot/Xavier uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)).
    "glorot": lambda rng, n_in, n_out: rng.uniform(
        -np.sqrt(6.0 / (n_in + n_out)), np.sqrt(6.0 / (n_in + n_out)), (n_in, n_out)
    ),
    # He: N(0, 2/fan_in), for ReLU, which zeroes half of its inputs.
    "he": lambda rng, n_in, n_out: _normal(rng, n_in, n_out, np.sqrt(2.0 / n_in)),
}
ALIASES = {"improved": "fan_in", "lecun": "fan_in", "xavier": "glorot", "standard_normal": "normal"}


def check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator, got {type(rng).__name__};"
            " make one with np.random.default_rng(seed)"
        )
    return rng


def init_weights(name: str, n_in: int, n_out: int, rng: np.random.Generator, dtype=np.float64):
    """Weight matrix of shape ``(n_in, n_out)`` drawn by the initialiser ``name``.

    Names: normal, uniform, fan_in (alias improved), glorot, he.
    """
    key = ALIASES.get(name, name)
    if key not in INITIALIZERS:
        names = ", ".join([*INITIALIZERS, *ALIASES])
        raise ValueError(f"unknown initialiser {name!r}; choose one of {names}")
    check_rng(rng)
    if int(n_in) < 1 or int(n_out) < 1:
        raise ValueError(f"layer sizes must be positive, got {n_in} -> {n_out}")
    return INITIALIZERS[key](rng, int(n_in), int(n_out)).astype(dtype, copy=False)
