"""Splitting a dataset ``(X, y)`` the ways the course does.

All functions take features ``X`` (n, ...) and labels ``y`` (n,) and return
``(X, y)`` tuples. Slices are views (no copy); the class subset is a copy.
"""

from __future__ import annotations

import operator

import numpy as np

__all__ = ["train_val_split", "first_n", "binary_subset"]


def _check_xy(X, y) -> tuple[np.ndarray, np.ndarray]:
    X, y = np.asarray(X), np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (n,) class indices, got shape {y.shape}.")
    if X.ndim == 0 or len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got X {X.shape} and y {y.shape}.")
    return X, y


def _count(value, name: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}.") from None


def train_val_split(X, y, n_val: int = 5000):
    """Take the last ``n_val`` examples as the validation set.

    The end of the training set, not a random draw, so every student gets the
    same split (the VU course uses 55,000 / 5,000 on MNIST).

    Returns
    -------
    (X_train, y_train), (X_val, y_val)
        Shapes (n - n_val, ...), (n - n_val,), (n_val, ...), (n_val,).
    """
    X, y = _check_xy(X, y)
    n_val = _count(n_val, "n_val")
    if not 0 <= n_val < len(X):
        raise ValueError(f"n_val must be between 0 and {len(X) - 1} (the data has {len(X)} examples), got {n_val}.")
    cut = len(X) - n_val
    return (X[:cut], y[:cut]), (X[cut:], y[cut:])


def first_n(X, y, n: int):
    """The first ``n`` examples, e.g. the first 20,000 MNIST training images (NTNU course).

    Returns
    -------
    (X[:n], y[:n])
    """
    X, y = _check_xy(X, y)
    n = _count(n, "n")
    if not 1 <= n <= len(X):
        raise ValueError(f"n must be between 1 and {len(X)} (the number of examples), got {n}.")
    return X[:n], y[:n]


def binary_subset(X, y, classes: tuple[int, int] = (2, 3)):
    """Keep only two classes and relabel them 0 and 1.

    Parameters
    ----------
    classes : (negative, positive)
        ``classes[0]`` becomes label 0 and ``classes[1]`` becomes label 1.

    Returns
    -------
    (X_sub, y_sub) with y_sub int64 in {0, 1}; the original order is kept.
    """
    X, y = _check_xy(X, y)
    if len(classes) != 2 or classes[0] == classes[1]:
        raise ValueError(f"classes must be two different labels, e.g. (2, 3); got {classes!r}.")
    neg, pos = classes
    is_neg, is_pos = y == neg, y == pos
    for label, mask in ((neg, is_neg), (pos, is_pos)):
        if not mask.any():
            present = np.unique(y)
            raise ValueError(f"class {label!r} does not occur in y (labels present: {present.tolist()}).")
    keep = is_neg | is_pos
    return X[keep], is_pos[keep].astype(np.int64)
