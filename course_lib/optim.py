"""Optimisers: ``step(params, grads)`` updates each parameter in place from its gradient.

``params`` and ``grads`` are dicts by name, as ``Sequential.params`` and
``Sequential.grads`` give them (notebooks 02-04 for SGD, 06 for momentum).
"""
from __future__ import annotations

import math

import numpy as np


def check_lr(lr) -> float:
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"learning rate must be a positive finite number, got {lr!r}")
    return float(lr)


class SGD:
    """Plain gradient descent: w <- w - η dL/dw."""

    def __init__(self, lr: float = 0.01):
        self.lr = check_lr(lr)

    def step(self, params, grads) -> None:
        for name, p in params.items():
            p -= self.lr * grads[name]

    def __repr__(self):
        return f"SGD(lr={self.lr})"


class Momentum:
    """SGD with momentum: v <- μ v - η dL/dw, then w <- w + v (v starts at 0).

    The NTNU course writes it as Δw <- dL/dw + μ Δw, w <- w - η Δw: the same
    steps, with v = -η Δw, as long as η stays fixed.
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        self.lr = check_lr(lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self.velocity = {}

    def step(self, params, grads) -> None:
        for name, p in params.items():
            v = self.velocity.get(name)
            if v is None or v.shape != p.shape or v.dtype != p.dtype:
                v = self.velocity[name] = np.zeros_like(p)
            v *= self.momentum
            v -= self.lr * grads[name]
            p += v

    def __repr__(self):
        return f"Momentum(lr={self.lr}, momentum={self.momentum})"
