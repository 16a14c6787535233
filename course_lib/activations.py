"""Activation functions and their derivatives (notebook 01, section 2).

Each works elementwise on arrays of any shape. :data:`ACTIVATIONS` maps a name to
``(f, f', f' written through the output y = f(x))``; the layers use the last form,
because the forward pass has already computed ``y``.
"""
from __future__ import annotations

import numpy as np

# LeCun's improved sigmoid 1.7159 tanh(2x/3): f(±1) = ±1, slope 1.14 at 0.
IMPROVED_A = 1.7159
IMPROVED_B = 2.0 / 3.0


def _float(x):
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def sigmoid(x):
    """σ(x) = 1 / (1 + e^(-x))."""
    # For very negative x, e^(-x) overflows to inf and 1 / (1 + inf) = 0 is the right
    # answer; written this way the tiny outputs keep their full relative precision.
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-_float(x)))


def sigmoid_grad(x):
    """σ'(x) = σ(x) (1 - σ(x))."""
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x):
    return np.tanh(_float(x))


def tanh_grad(x):
    """tanh'(x) = 1 - tanh²(x)."""
    return 1.0 - np.tanh(_float(x)) ** 2


def relu(x):
    return np.maximum(_float(x), 0.0)


def relu_grad(x):
    """1 where x > 0, else 0. ReLU has no derivative at 0; 0 is a valid subgradient there."""
    x = _float(x)
    return (x > 0).astype(x.dtype)


# Maas, Hannun and Ng (2013): a small slope for x < 0, so that no unit's gradient is exactly 0.
LEAKY_SLOPE = 0.01


def leaky_relu(x):
    x = _float(x)
    return np.where(x > 0, x, LEAKY_SLOPE * x)


def leaky_relu_grad(x):
    """1 where x > 0, else the slope 0.01."""
    x = _float(x)
    return np.where(x > 0, 1.0, LEAKY_SLOPE).astype(x.dtype)


def improved_sigmoid(x):
    """1.7159 tanh(2x/3)."""
    return IMPROVED_A * np.tanh(IMPROVED_B * _float(x))


def improved_sigmoid_grad(x):
    """1.7159 · (2/3) · (1 - tanh²(2x/3))."""
    return IMPROVED_A * IMPROVED_B * (1.0 - np.tanh(IMPROVED_B * _float(x)) ** 2)


def identity(x):
    return _float(x)


def identity_grad(x):
    return np.ones_like(_float(x))


#: name -> (f, f' of the input, f' through the output y = f(x))
ACTIVATIONS = {
    "sigmoid": (sigmoid, sigmoid_grad, lambda y: y * (1.0 - y)),
    "tanh": (tanh, tanh_grad, lambda y: 1.0 - y * y),
    "relu": (relu, relu_grad, lambda y: (y > 0).astype(y.dtype)),
    "leaky_relu": (leaky_relu, leaky_relu_grad, lambda y: np.where(y > 0, 1.0, LEAKY_SLOPE).astype(y.dtype)),
    "improved_sigmoid": (improved_sigmoid, improved_sigmoid_grad,
                         lambda y: IMPROVED_B * (IMPROVED_A - y * y / IMPROVED_A)),
    "identity": (identity, identity_grad, np.ones_like),
}


def activation(name: str):
    """``(f, f', f' through the output)`` for an activation name."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}") from None
