"""Turning raw images into training features, and labels into targets.

Conventions shared with the trainer: features ``X`` are a float array
(n, features); labels ``y`` are int64 class indices (n,). One-hot targets
are a separate helper, for the notebooks that derive the loss by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["flatten", "scale", "Standardizer", "standardize", "one_hot", "add_bias"]


def flatten(images) -> np.ndarray:
    """(n, rows, cols) -> (n, rows * cols); a view when possible."""
    images = np.asarray(images)
    if images.ndim < 2:
        raise ValueError(f"flatten needs (n, ...) with at least 2 dimensions, got shape {images.shape}.")
    return images.reshape(len(images), -1)


def _float_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"dtype must be a float type such as np.float64 or np.float32, got {dtype}.")
    return dtype


def scale(images, dtype=np.float64) -> np.ndarray:
    """Raw pixels 0..255 -> floats in [0, 1]. Same shape, new array.

    Only integer input is accepted: scaling floats that were already scaled
    is a silent bug we would rather catch.
    """
    images = np.asarray(images)
    dtype = _float_dtype(dtype)
    if not np.issubdtype(images.dtype, np.integer):
        raise TypeError(f"scale expects raw integer pixels 0..255, got {images.dtype} (already scaled?).")
    if images.dtype != np.uint8 and images.size and (images.min() < 0 or images.max() > 255):
        raise ValueError(f"pixel values must be in 0..255, got {images.min()}..{images.max()}.")
    out = images.astype(dtype)
    out /= 255  # in place: one float copy of the data, not two
    return out


def _mean_std(X: np.ndarray, chunk: int = 8192) -> tuple[float, float]:
    """Global mean and population std (ddof=0) in float64, a block of rows at a time.

    Blocks keep memory small: a float64 copy of all 60,000 images is 376 MB.
    """
    flat = X.reshape(len(X), -1) if X.ndim > 1 else X.reshape(-1, 1)
    total = 0.0
    for start in range(0, len(flat), chunk):
        total += flat[start : start + chunk].sum(dtype=np.float64)
    mean = total / flat.size
    squares = 0.0
    for start in range(0, len(flat), chunk):
        diff = flat[start : start + chunk].astype(np.float64) - mean
        squares += np.einsum("ij,ij->", diff, diff)
    return float(mean), float(np.sqrt(squares / flat.size))


@dataclass(frozen=True)
class Standardizer:
    """One global mean and std (over all pixels), as the NTNU course does.

    Fit it on the training part only, then apply it to every split::

        st = Standardizer.fit(X_train)
        X_train, X_val = st.transform(X_train), st.transform(X_val)

    On the first 20,000 raw MNIST training images: mean 33.5527, std 78.8755.
    """

    mean: float
    std: float

    @classmethod
    def fit(cls, X) -> "Standardizer":
        """Statistics of ``X`` (any shape; population std, ddof=0)."""
        X = np.asarray(X)
        if X.size == 0:
            raise ValueError("cannot fit a Standardizer on an empty array.")
        mean, std = _mean_std(X)
        if not std > 0:
            raise ValueError(f"all values are equal ({mean}); the std is 0, so standardising would divide by zero.")
        return cls(mean, std)

    def transform(self, X, dtype=np.float64) -> np.ndarray:
        """(X - mean) / std as a new float array of the same shape."""
        out = np.asarray(X).astype(_float_dtype(dtype))
        out -= self.mean
        out /= self.std
        return out


def standardize(train, *others, dtype=np.float64) -> tuple[np.ndarray, ...]:
    """Standardise ``train`` and each of ``others`` with the statistics of ``train``.

    Returns
    -------
    tuple (train_std, *others_std), always a tuple: ``X_tr, = standardize(X_tr)``.
    """
    st = Standardizer.fit(train)
    return tuple(st.transform(X, dtype) for X in (train, *others))


def one_hot(y, num_classes: int, dtype=np.float64) -> np.ndarray:
    """Class indices (n,) -> one-hot rows (n, num_classes).

    ``num_classes`` is required: guessing it from ``max(y) + 1`` goes wrong on
    a batch that happens to lack the highest class.
    """
    y = np.asarray(y)
    if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or y.size == 0):
        raise ValueError(f"y must be 1-D integer class indices, got shape {y.shape} and dtype {y.dtype}.")
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}.")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        bad = y[(y < 0) | (y >= num_classes)][0]
        raise ValueError(f"label {bad} is out of range for num_classes={num_classes} (labels must be 0..{num_classes - 1}).")
    out = np.zeros((len(y), num_classes), dtype=dtype)
    out[np.arange(len(y)), y] = 1
    return out


def add_bias(X) -> np.ndarray:
    """Append a column of ones: (n, d) -> (n, d + 1), the "bias trick".

    The ones go last, as in the NTNU course, so weight ``w[-1]`` is the bias.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"add_bias needs a 2-D array (n, features), got shape {X.shape}; flatten first.")
    return np.hstack([X, np.ones((len(X), 1), dtype=X.dtype)])
