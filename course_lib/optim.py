"""Optimisers: ``step(params, grads)`` updates each parameter in place from its gradient.

``params`` and ``grads`` are dicts by name, as ``Sequential.params`` and
``Sequential.grads`` give them (notebooks 02-04 for SGD, 06 for momentum,
08 for Adagrad and Adam). Each keeps its running sums per parameter name.
"""
from __future__ import annotations

import numpy as np

from .validate import positive_number


def state(store: dict, name: str, p) -> np.ndarray:
    """The running sum kept for parameter ``name``: zeros at first (and if ``p`` changed shape or dtype)."""
    s = store.get(name)
    if s is None or s.shape != p.shape or s.dtype != p.dtype:
        s = store[name] = np.zeros_like(p)
    return s


class SGD:
    """Plain gradient descent: w <- w - η dL/dw."""

    def __init__(self, lr: float = 0.01):
        self.lr = positive_number("learning rate", lr)

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
        self.lr = positive_number("learning rate", lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self.velocity = {}

    def step(self, params, grads) -> None:
        for name, p in params.items():
            v = state(self.velocity, name, p)
            v *= self.momentum
            v -= self.lr * grads[name]
            p += v

    def __repr__(self):
        return f"Momentum(lr={self.lr}, momentum={self.momentum})"


class Adagrad:
    """Adagrad (Duchi, Hazan and Singer 2011): G <- G + g², w <- w - η g / (√G + ε), G from 0.

    Each weight's steps shrink with the squared gradients it has seen: weights with
    large or frequent gradients slow down, rarely-updated ones keep large steps.
    """

    def __init__(self, lr: float = 0.01, eps: float = 1e-10):
        # ε > 0: where every gradient so far was 0, the step would be 0/0 without it
        self.lr, self.eps, self.sum_sq = positive_number("learning rate", lr), positive_number("eps", eps), {}

    def step(self, params, grads) -> None:
        for name, p in params.items():
            g, G = grads[name], state(self.sum_sq, name, p)
            G += g * g
            p -= self.lr * g / (np.sqrt(G) + self.eps)

    def __repr__(self):
        return f"Adagrad(lr={self.lr})"


class Adam:
    """Adam (Kingma and Ba 2015, Algorithm 1), with t the number of steps so far:

    m <- β1 m + (1 - β1) g,  v <- β2 v + (1 - β2) g²,  w <- w - η m̂ / (√v̂ + ε),
    where m̂ = m / (1 - β1^t) and v̂ = v / (1 - β2^t) undo the pull of the zero start.
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise ValueError(f"beta1 and beta2 must be in [0, 1), got {beta1!r} and {beta2!r}")
        self.lr, self.eps = positive_number("learning rate", lr), positive_number("eps", eps)  # ε > 0: as in Adagrad
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.m, self.v, self.t = {}, {}, 0

    def step(self, params, grads) -> None:
        self.t += 1
        c1, c2 = 1.0 - self.beta1 ** self.t, 1.0 - self.beta2 ** self.t
        for name, p in params.items():
            g, m, v = grads[name], state(self.m, name, p), state(self.v, name, p)
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * (g * g)
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)

    def __repr__(self):
        return f"Adam(lr={self.lr})"
