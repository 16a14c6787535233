"""Random generators and weight initialisers (notebook 06, "the tricks").

Every random number of the course comes from a ``numpy.random.Generator`` that
the caller passes (or an int seed, turned into one): the same seed gives the
same run, and numpy's global random state is never touched.
"""
from __future__ import annotations

import numpy as np


def as_rng(rng) -> np.random.Generator:
    """A Generator from a Generator or an int seed; anything else is refused."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator or a non-negative int seed, got {rng!r};"
                    " e.g. rng=np.random.default_rng(0) or rng=0")


def _normal(std):
    return lambda rng, shape, n_in, n_out: rng.standard_normal(shape) * std(n_in, n_out)


def _uniform(limit):
    return lambda rng, shape, n_in, n_out: rng.uniform(-limit(n_in, n_out), limit(n_in, n_out), shape)


def truncated_normal(rng, shape, std=0.1):
    """N(0, std²) with every draw beyond two standard deviations drawn again (TensorFlow's
    ``truncated_normal``, which the Rice course's network uses with std 0.1)."""
    w = rng.standard_normal(shape)
    while (outside := np.abs(w) > 2.0).any():
        w[outside] = rng.standard_normal(np.count_nonzero(outside))
    return w * std


INITIALIZERS = {
    # N(0, 1): a first attempt; saturates sigmoids on 784 inputs.
    "normal": _normal(lambda n_in, n_out: 1.0),
    # U(-1, 1): the VU and NTNU courses' baseline.
    "uniform": _uniform(lambda n_in, n_out: 1.0),
    # N(0, 1/fan_in) keeps the variance of x·w near that of x (LeCun's "improved" init).
    "fan_in": _normal(lambda n_in, n_out: np.sqrt(1.0 / n_in)),
    # Glorot/Xavier: U(-a, a), a = sqrt(6 / (fan_in + fan_out)).
    "glorot": _uniform(lambda n_in, n_out: np.sqrt(6.0 / (n_in + n_out))),
    # He: N(0, 2/fan_in), for ReLU, which zeroes half of its inputs.
    "he": _normal(lambda n_in, n_out: np.sqrt(2.0 / n_in)),
    # the Rice course's CNN: a fixed spread, whatever the layer's size
    "truncated_normal": lambda rng, shape, n_in, n_out: truncated_normal(rng, shape, 0.1),
}
ALIASES = {"improved": "fan_in", "lecun": "fan_in", "xavier": "glorot", "standard_normal": "normal"}


def init_weights(name: str, n_in: int, n_out: int, rng, dtype=np.float64, shape=None) -> np.ndarray:
    """A weight matrix ``(n_in, n_out)`` drawn by the initialiser ``name`` (or an array of
    ``shape`` with those fan-in and fan-out)."""
    key = ALIASES.get(name, name)
    if key not in INITIALIZERS:
        raise ValueError(f"unknown initialiser {name!r}; choose one of {', '.join([*INITIALIZERS, *ALIASES])}")
    if int(n_in) < 1 or int(n_out) < 1:
        raise ValueError(f"layer sizes must be positive, got {n_in} -> {n_out}")
    shape = (int(n_in), int(n_out)) if shape is None else tuple(shape)
    return INITIALIZERS[key](as_rng(rng), shape, int(n_in), int(n_out)).astype(dtype, copy=False)


def init_kernel(name: str, shape, rng, dtype=np.float64) -> np.ndarray:
    """Convolution kernels ``(out_channels, in_channels, kh, kw)``: each output sums
    in_channels·kh·kw inputs (the fan-in); each input reaches out_channels·kh·kw outputs."""
    F, C, kh, kw = shape
    return init_weights(name, C * kh * kw, F * kh * kw, rng, dtype, shape=shape)
