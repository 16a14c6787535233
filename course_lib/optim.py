"""Optimisers: update parameters in place from the gradients a backward pass left."""
from __future__ import annotations

import math

import numpy as np


def _check_lr(lr):
    if not (isinstance(lr, (int, float, np.floating)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"learning rate must be a positive finite number, got {lr!r}")
    return float(lr)


class SGD:
    """Plain gradient descent: p <- p - lr * dL/dp."""

    def __init__(self, lr: float = 0.01):
        self.lr = _check_lr(lr)

    def step(self, model) -> None:
        lr = self.lr
        for _, p, g in model.parameters():
            p -= lr * g

    def __repr__(self):
        return f"SGD(lr={self.lr})"


class Momentum:
    """SGD with momentum: v <- mu v - lr g;  p <- p + v."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        self.lr = _check_lr(lr)
        if not (0.0 <= momentum < 1.0):
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self.velocity = {}

    def step(self, model) -> None:
        lr, mu = self.lr, self.momentum
        for name, p, g in model.parameters():
            v = self.velocity.get(name)
            if v is None or v.shape != p.shape or v.dtype != p.dtype:
                v = self.velocity[name] = np.zeros_like(p)
            v *= mu
            v -= lr * g
            p += v

    def __repr__(self):
        return f"Momentum(lr={self.lr}, momentum={self.momentum})"


def make_optimizer(name: str = "sgd", lr: float = 0.01, momentum: float = 0.9):
    """An optimiser by name: "sgd" or "momentum"."""
    if name == "sgd":
        return SGD(lr)
    if name == "momentum":
        return Momentum(lr, momentum)
    raise ValueError(f"unknown optimiser {name!r}; choose 'sgd' or 'momentum'")
