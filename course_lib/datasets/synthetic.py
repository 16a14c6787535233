"""Small synthetic 2-D datasets, generated on the spot (no download).

They follow the MNIST conventions so one trainer runs on all of them:
``X`` float64 (n, 2), ``y`` int64 class indices (n,).

Randomness comes only from the ``rng`` you pass (a ``numpy.random.Generator``
or an int seed); numpy's global random state is never used, so the same seed
always gives identical arrays.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SYNTH_A", "SYNTH_THRESHOLD", "make_synth", "make_moons"]

# The "synth" decision boundary is the ellipse x^T A x = SYNTH_THRESHOLD.
# A is symmetric positive definite with an off-diagonal term, so the ellipse is
# tilted (eigenvalues 1.22 and 0.28: axes at about 33 degrees to the x-axis).
# For standard-normal inputs the threshold 0.9 puts ~50.3% of points inside,
# so the classes are balanced.
SYNTH_A = np.array([[1.0, 0.4], [0.4, 0.5]])
SYNTH_A.setflags(write=False)
SYNTH_THRESHOLD = 0.9


def _as_rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator or an int seed, got {rng!r}.")


def make_synth(n_train: int = 60_000, n_val: int = 10_000, *, rng):
    """The course's 2-D binary "synth" set (sizes as in the VU course).

    Inputs are two standard-normal features; the class is 1 inside the tilted
    ellipse ``x^T A x < SYNTH_THRESHOLD`` and 0 outside. Not linearly
    separable, but a small network learns it quickly.

    Parameters
    ----------
    n_train, n_val : number of training and validation points.
    rng : numpy.random.Generator or int seed (required).

    Returns
    -------
    (X_train, y_train), (X_val, y_val)
        float64 (n_train, 2), int64 (n_train,), float64 (n_val, 2), int64 (n_val,).
    """
    if n_train < 1 or n_val < 0:
        raise ValueError(f"need n_train >= 1 and n_val >= 0, got {n_train} and {n_val}.")
    rng = _as_rng(rng)
    X = rng.standard_normal((n_train + n_val, 2))
    q = np.einsum("ni,ij,nj->n", X, SYNTH_A, X)  # x^T A x for every row
    y = (q < SYNTH_THRESHOLD).astype(np.int64)
    return (X[:n_train], y[:n_train]), (X[n_train:], y[n_train:])


def make_moons(n: int = 200, noise: float = 0.2, *, rng):
    """Two interleaving half circles plus Gaussian noise (like scikit-learn's).

    Class 0 is the upper arc (centre (0, 0)), class 1 the lower arc
    (centre (1, 0.5)); n // 2 points in class 0, the rest in class 1.
    Rows are shuffled so any prefix holds both classes.

    Parameters
    ----------
    n : number of points.
    noise : std of the Gaussian noise added to each coordinate.
    rng : numpy.random.Generator or int seed (required).

    Returns
    -------
    X float64 (n, 2), y int64 (n,)
    """
    if n < 2:
        raise ValueError(f"make_moons needs n >= 2, got {n}.")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}.")
    rng = _as_rng(rng)
    n_upper = n // 2
    n_lower = n - n_upper
    t_upper = np.linspace(0, np.pi, n_upper)
    t_lower = np.linspace(0, np.pi, n_lower)
    X = np.concatenate(
        [
            np.column_stack([np.cos(t_upper), np.sin(t_upper)]),
            np.column_stack([1 - np.cos(t_lower), 0.5 - np.sin(t_lower)]),
        ]
    )
    y = np.concatenate([np.zeros(n_upper, np.int64), np.ones(n_lower, np.int64)])
    order = rng.permutation(n)
    X, y = X[order], y[order]
    X += rng.normal(scale=noise, size=X.shape)
    return X, y
