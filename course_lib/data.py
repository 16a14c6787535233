"""Data as the courses prepare it: preprocessing, splits and small synthetic sets.

Conventions shared with the trainer: features ``X`` are floats ``(n, features)``,
labels ``y`` int64 class indices ``(n,)``, splits are ``(X, y)`` pairs. Nothing
here downloads anything (``workbook_tools.mnist`` fetches MNIST).
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

from .init import as_rng
from .layers import float_dtype
from .losses import check_labels


# --- preprocessing (notebooks 03 and 06) ------------------------------------------

def flatten(images) -> np.ndarray:
    """``(n, rows, cols)`` -> ``(n, rows * cols)``; a view when possible."""
    images = np.asarray(images)
    if images.ndim < 2:
        raise ValueError(f"flatten needs (n, ...) with at least 2 dimensions, got shape {images.shape}")
    return images.reshape(len(images), -1)


def scale(images, dtype=np.float64, *, to=(0.0, 1.0)) -> np.ndarray:
    """Raw pixels 0..255 -> floats in ``to`` (``(0, 1)``; NTNU uses ``(-1, 1)``), as a new array.

    Only integer pixels are accepted: scaling values that were already scaled is
    a silent bug worth catching.
    """
    images = np.asarray(images)
    if images.dtype.kind not in "iu":
        raise TypeError(f"scale expects raw integer pixels 0..255, got {images.dtype} (already scaled?)")
    if images.size and (images.min() < 0 or images.max() > 255):
        raise ValueError(f"pixel values must be in 0..255, got {images.min()}..{images.max()}")
    lo, hi = to
    out = images.astype(float_dtype(dtype))
    out *= (hi - lo) / 255
    out += lo
    return out


@dataclass(frozen=True)
class Standardizer:
    """One mean and one std over all pixels, as the NTNU course standardises.

    Fit it on the training images, then apply the same numbers to every split:
    ``st = Standardizer.fit(X_train); X_val = st.transform(X_val)``. On the first
    20,000 MNIST training images: mean 33.5527, std 78.8755.
    """

    mean: float
    std: float

    @classmethod
    def fit(cls, X, chunk: int = 8192) -> "Standardizer":
        """Mean and population std (ddof 0) of ``X``, in float64 a block of rows at a time
        (a float64 copy of all of MNIST would take 376 MB)."""
        X = np.asarray(X)
        if X.size == 0:
            raise ValueError("cannot fit a Standardizer on an empty array")
        flat = X.reshape(len(X), -1) if X.ndim > 1 else X.reshape(-1, 1)
        blocks = lambda: (flat[s:s + chunk].astype(np.float64) for s in range(0, len(flat), chunk))  # noqa: E731
        mean = sum(b.sum() for b in blocks()) / X.size
        std = float(np.sqrt(sum(((b - mean) ** 2).sum() for b in blocks()) / X.size))
        if not std > 0:
            raise ValueError(f"all values are equal ({mean}): the std is 0, so standardising would divide by 0")
        return cls(float(mean), std)

    def transform(self, X, dtype=np.float64) -> np.ndarray:
        """(X - mean) / std as a new float array."""
        out = np.asarray(X).astype(float_dtype(dtype))
        out -= self.mean
        out /= self.std
        return out


def standardize(train, *others, dtype=np.float64) -> tuple:
    """``train`` and each of ``others`` standardised with the statistics of ``train`` (always a tuple)."""
    st = Standardizer.fit(train)
    return tuple(st.transform(X, dtype) for X in (train, *others))


def one_hot(y, num_classes: int, dtype=np.float64) -> np.ndarray:
    """Class indices ``(n,)`` -> one-hot rows ``(n, num_classes)``; e.g. 3 -> [0, 0, 0, 1, 0, ...].

    ``num_classes`` is required: guessing it from ``max(y) + 1`` fails on a batch
    that happens to lack the highest class.
    """
    y = check_labels(y, num_classes)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D class indices (n,), got shape {y.shape}")
    out = np.zeros((len(y), num_classes), dtype=dtype)
    out[np.arange(len(y)), y] = 1
    return out


def add_bias(X) -> np.ndarray:
    """Append a column of ones, ``(n, d)`` -> ``(n, d + 1)``: the "bias trick" (last, as in NTNU)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"add_bias needs a 2-D array (n, features), got shape {X.shape}; flatten first")
    return np.hstack([X, np.ones((len(X), 1), dtype=X.dtype)])


# --- splits ------------------------------------------------------------------------

def _count(value, name: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None


def _pair(X, y):
    X, y = np.asarray(X), np.asarray(y)
    if y.ndim != 1 or X.ndim == 0 or len(X) != len(y):
        raise ValueError(f"X and y must have the same length, y 1-D; got X {X.shape} and y {y.shape}")
    return X, y


def train_val_split(X, y, n_val: int = 5000):
    """The last ``n_val`` examples become the validation set (VU: 55,000 / 5,000), the same for everyone."""
    X, y = _pair(X, y)
    n_val = _count(n_val, "n_val")
    if not 0 <= n_val < len(X):
        raise ValueError(f"n_val must be between 0 and {len(X) - 1} (the data has {len(X)} examples), got {n_val}")
    cut = len(X) - n_val
    return (X[:cut], y[:cut]), (X[cut:], y[cut:])


def first_n(X, y, n: int):
    """The first ``n`` examples (NTNU: the first 20,000 MNIST training images)."""
    X, y = _pair(X, y)
    n = _count(n, "n")
    if not 1 <= n <= len(X):
        raise ValueError(f"n must be between 1 and {len(X)} (the number of examples), got {n}")
    return X[:n], y[:n]


def binary_subset(X, y, classes=(2, 3)):
    """Keep two classes, relabelled: ``classes[0]`` -> 0 and ``classes[1]`` -> 1, in their order."""
    X, y = _pair(X, y)
    if len(classes) != 2 or classes[0] == classes[1]:
        raise ValueError(f"classes must be two different labels, e.g. (2, 3); got {classes!r}")
    for label in classes:
        if not np.any(y == label):
            raise ValueError(f"class {label!r} does not occur in y (labels present: {np.unique(y).tolist()})")
    keep = (y == classes[0]) | (y == classes[1])
    return X[keep], (y[keep] == classes[1]).astype(np.int64)


# --- synthetic sets (notebooks 02 and 07) ----------------------------------------------

# The VU course's quadratic form: class 1 where xᵀQx > 0.6, outside an ellipse (Q is not
# symmetric; only its symmetric part [[1, 0.475], [0.475, 0.4]] matters, positive definite).
SYNTH_Q = np.array([[1.0, -0.05], [1.0, 0.4]])
SYNTH_Q.setflags(write=False)
SYNTH_THRESHOLD = 0.6


def load_synth(num_train: int = 60_000, num_val: int = 10_000, seed: int = 0):
    """The VU course's synthetic set, point for point: ``(xtrain, ytrain), (xval, yval), 2``.

    Two standard-normal features; class 1 (55.8 %) outside the ellipse xᵀQx = 0.6.
    The course draws with ``np.random.seed(seed); np.random.randn(...)``; a legacy
    ``RandomState(seed)`` of our own gives the same points without touching numpy's
    global state (a ``Generator`` draws different normals, so it cannot reproduce them).
    """
    if num_train < 1 or num_val < 0:
        raise ValueError(f"need num_train >= 1 and num_val >= 0, got {num_train} and {num_val}")
    x = np.random.RandomState(seed).randn(num_train + num_val, 2)
    y = (np.einsum("bf,fk,bk->b", x, SYNTH_Q, x) > SYNTH_THRESHOLD).astype(np.int64)
    return (x[:num_train], y[:num_train]), (x[num_train:], y[num_train:]), 2


# The workbook's own ellipse set (not the VU course's): class 1 inside x^T A x < 0.9.
ELLIPSE_A = np.array([[1.0, 0.4], [0.4, 0.5]])
ELLIPSE_A.setflags(write=False)
ELLIPSE_THRESHOLD = 0.9


def make_ellipse(n_train: int = 60_000, n_val: int = 10_000, *, rng):
    """Two standard-normal features; class 1 inside the tilted ellipse ``xᵀAx < 0.9`` (about half)."""
    if n_train < 1 or n_val < 0:
        raise ValueError(f"need n_train >= 1 and n_val >= 0, got {n_train} and {n_val}")
    X = as_rng(rng).standard_normal((n_train + n_val, 2))
    y = (np.einsum("ni,ij,nj->n", X, ELLIPSE_A, X) < ELLIPSE_THRESHOLD).astype(np.int64)
    return (X[:n_train], y[:n_train]), (X[n_train:], y[n_train:])


def course_moons(n: int = 200, noise: float = 0.2, seed: int = 0):
    """The Rice course's two moons, point for point: ``(X (n, 2), y (n,))``.

    The starter code calls ``np.random.seed(0)`` and scikit-learn's
    ``make_moons(200, noise=0.20)``; this is that algorithm (two half circles,
    shuffled, then Gaussian noise) on a ``RandomState(seed)`` of our own, which
    gives the same points without touching numpy's global state.
    """
    if n < 2 or noise < 0:
        raise ValueError(f"course_moons needs n >= 2 and noise >= 0, got {n} and {noise}")
    rs = np.random.RandomState(seed)
    upper, lower = np.linspace(0, np.pi, n // 2), np.linspace(0, np.pi, n - n // 2)
    # written as scikit-learn writes it (1 - sin - 0.5, not 0.5 - sin): the same bits, not just the same numbers
    X = np.column_stack([np.append(np.cos(upper), 1 - np.cos(lower)), np.append(np.sin(upper), 1 - np.sin(lower) - 0.5)])
    y = np.repeat([0, 1], [len(upper), len(lower)])
    order = np.arange(n)
    rs.shuffle(order)
    return X[order] + rs.normal(scale=noise, size=X.shape), y[order]


def make_moons(n: int = 200, noise: float = 0.2, *, rng):
    """Two interleaving half circles plus Gaussian noise, shuffled; n // 2 points in class 0."""
    if n < 2 or noise < 0:
        raise ValueError(f"make_moons needs n >= 2 and noise >= 0, got {n} and {noise}")
    rng = as_rng(rng)
    upper, lower = np.linspace(0, np.pi, n // 2), np.linspace(0, np.pi, n - n // 2)
    X = np.concatenate([np.column_stack([np.cos(upper), np.sin(upper)]),
                        np.column_stack([1 - np.cos(lower), 0.5 - np.sin(lower)])])
    y = np.repeat([0, 1], [len(upper), len(lower)])
    order = rng.permutation(n)
    X, y = X[order], y[order]
    return X + rng.normal(scale=noise, size=X.shape), y
