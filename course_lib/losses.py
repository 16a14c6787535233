"""Softmax and the losses, each with its gradient (notebook 01, sections 1, 3 and 4).

The softmax family works along the last axis: ``(classes,)`` for one instance,
``(batch, classes)`` for a mini-batch. Labels are integer class indices.
"""
from __future__ import annotations

import numpy as np

from .activations import sigmoid


def log_softmax(z):
    """log softmax along the last axis, for logits of any size.

    Subtracting the row maximum changes nothing mathematically but keeps every
    exponent at most 0, so nothing overflows.
    """
    z = np.asarray(z)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(z):
    """y_i = e^(z_i) / Σ_j e^(z_j) along the last axis."""
    return np.exp(log_softmax(z))


def softmax_jacobian(y):
    """dy_i/do_j = y_i (δ_ij - y_j) for one softmax output ``y`` of shape ``(classes,)``."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"softmax_jacobian takes one output vector (classes,), got shape {y.shape}")
    return np.diag(y) - np.outer(y, y)


def check_labels(y, num_classes: int) -> np.ndarray:
    """Integer class labels in ``0 .. num_classes - 1``, or a ValueError that says what is wrong."""
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        if y.dtype.kind != "f" or not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError(f"labels must be integer class indices, got {y.dtype} values"
                             " (one-hot targets? pass y.argmax(axis=1) instead)")
        y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1} for {num_classes} classes,"
                         f" got values from {y.min()} to {y.max()}")
    return y


def _logits_and_labels(logits, y):
    """Logits as a batch ``(n, classes)`` and labels ``(n,)``, checked against each other."""
    logits = np.asarray(logits)
    if logits.ndim not in (1, 2):
        raise ValueError(f"logits must be (classes,) or (batch, classes), got shape {logits.shape}")
    y = check_labels(y, logits.shape[-1])
    expected = () if logits.ndim == 1 else (logits.shape[0],)
    if y.shape != expected:
        raise ValueError(f"logits of shape {logits.shape} need labels of shape {expected}, got {y.shape}")
    return np.atleast_2d(logits), np.atleast_1d(y)


def cross_entropy(probs, y) -> float:
    """-log y_c for probabilities (after softmax), averaged over a batch.

    For teaching the chain rule; training uses :func:`softmax_cross_entropy`,
    which works from the logits and never takes the log of 0.
    """
    probs, y = _logits_and_labels(probs, y)
    return float(-np.log(probs[np.arange(len(y)), y]).mean())


def softmax_cross_entropy(logits, y):
    """Cross-entropy of softmax(logits) against labels ``y``, and its gradient.

    logits: ``(classes,)`` with one label, or ``(batch, classes)`` with labels ``(batch,)``.
    Returns the mean loss over the batch and dL/dlogits (same shape as logits):
    ``(softmax(logits) - onehot(y)) / batch``.
    """
    one = np.ndim(logits) == 1
    logits, y = _logits_and_labels(logits, y)
    rows = np.arange(len(y))
    logp = log_softmax(logits)
    grad = np.exp(logp)            # softmax
    grad[rows, y] -= 1.0           # - onehot
    grad /= len(y)                 # the loss is a mean over the batch
    loss = float(-logp[rows, y].mean())
    return loss, (grad[0] if one else grad)


def binary_cross_entropy(logits, y):
    """Binary cross-entropy of sigmoid(logits) against 0/1 labels, and its gradient.

    Written through the logit z, -[y log σ(z) + (1 - y) log(1 - σ(z))]
    = max(z, 0) - z y + log(1 + e^(-|z|)), finite for any z.
    logits: ``(batch,)``, ``(batch, 1)`` or a scalar. Returns the mean loss and
    dL/dlogits ``(σ(z) - y) / batch`` of the logits' shape.
    """
    z = np.asarray(logits)
    y = check_labels(y, 2)
    if z.size != y.size:
        raise ValueError(f"logits of shape {z.shape} and labels of shape {y.shape} hold different numbers of instances")
    flat, target = z.reshape(-1), y.reshape(-1).astype(z.dtype)
    loss = np.maximum(flat, 0) - flat * target + np.log1p(np.exp(-np.abs(flat)))
    grad = (sigmoid(flat) - target) / flat.size
    return float(loss.mean()), grad.reshape(z.shape)


#: output layer -> loss of the logits
LOSSES = {"softmax": softmax_cross_entropy, "sigmoid": binary_cross_entropy}
