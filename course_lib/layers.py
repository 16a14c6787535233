"""Layers with a hand-written backward pass (notebooks 03 and 04).

A layer's ``forward`` keeps what its ``backward`` needs. ``backward`` takes
dL/d(output), stores dL/d(parameter) in ``grads`` (same names and shapes as
``params``) and returns dL/d(input). Inputs are one instance ``(features,)`` or
a mini-batch ``(batch, features)``.
"""
from __future__ import annotations

import numpy as np

from .activations import activation
from .init import as_rng, init_weights


def float_dtype(dtype) -> np.dtype:
    """``dtype`` if it is float32 or float64: models and data compute in these two only."""
    dt = np.dtype(dtype)
    # float16 keeps 3 digits, too few for gradients (and numpy has no fast float16 matmul);
    # longdouble is slow and its precision differs from machine to machine
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dt}: models and data compute in these two only")
    return dt


class Layer:
    """Base class: a layer without parameters."""

    training = True  # Sequential.train()/eval() switch it; only Dropout behaves differently

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout, need_dx=True):
        raise NotImplementedError


class Linear(Layer):
    """A dense layer ``out = x W + b``; ``W`` is ``(n_in, n_out)``, ``b`` is ``(n_out,)``."""

    def __init__(self, W, b=None):
        super().__init__()
        W = np.asarray(W)
        if W.ndim != 2:
            raise ValueError(f"W must be a matrix (n_in, n_out), got shape {W.shape}")
        if W.dtype.kind != "f":  # e.g. the course's integer example weights
            W = W.astype(np.float64)
        b = np.zeros(W.shape[1], W.dtype) if b is None else np.array(b, dtype=W.dtype)
        if b.shape != (W.shape[1],):
            raise ValueError(f"b must have shape ({W.shape[1]},) to match W {W.shape}, got {b.shape}")
        self.params = {"W": W, "b": b}
        self.grads = {"W": np.zeros_like(W), "b": np.zeros_like(b)}

    @classmethod
    def init(cls, n_in, n_out, *, rng, init="fan_in", bias=0.0, dtype=np.float64):
        """A layer with weights from the initialiser ``init`` and every bias ``bias``."""
        W = init_weights(init, n_in, n_out, rng, float_dtype(dtype))
        return cls(W, np.full(n_out, bias, W.dtype))

    @property
    def shape(self):
        return self.params["W"].shape

    def forward(self, x):
        """x: ``(batch, n_in)`` or ``(n_in,)``  ->  ``(batch, n_out)`` or ``(n_out,)``."""
        n_in = self.shape[0]
        if x.ndim not in (1, 2) or x.shape[-1] != n_in:
            raise ValueError(f"Linear layer {n_in}->{self.shape[1]} expects input ({n_in},) or (batch, {n_in}),"
                             f" got shape {x.shape}")
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout, need_dx=True):
        """dout = dL/d(out) = δ. Then dL/dW = xᵀδ, dL/db = Σ δ over the batch, dL/dx = δWᵀ."""
        x = self.x
        if x.ndim == 1:  # one instance: dL/dW is the outer product x δᵀ
            self.grads["W"] = np.outer(x, dout)
            self.grads["b"] = dout.copy()
        else:  # a batch: xᵀδ sums the instances' outer products without storing them
            self.grads["W"] = x.T @ dout
            self.grads["b"] = dout.sum(axis=0)
        # The first layer of a network needs no dL/dx: skipping it saves a product
        # as large as the one for dL/dW.
        return dout @ self.params["W"].T if need_dx else None

    def __repr__(self):
        return f"Linear({self.shape[0]}, {self.shape[1]})"


class Activation(Layer):
    """An elementwise nonlinearity by name: sigmoid, tanh, relu, improved_sigmoid, identity."""

    def __init__(self, name: str):
        super().__init__()
        self.f, _, self.df_from_output = activation(name)
        self.name = name

    def forward(self, x):
        self.y = self.f(x)
        return self.y

    def backward(self, dout, need_dx=True):
        """dL/dx = dL/dy ⊙ f'(x), with f' written through the output y."""
        return dout * self.df_from_output(self.y)

    def __repr__(self):
        return f"Activation({self.name!r})"


class Flatten(Layer):
    """Images ``(batch, channels, height, width)`` -> rows ``(batch, channels·height·width)``."""

    def forward(self, x):
        self.shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, dout, need_dx=True):
        return dout.reshape(self.shape)

    def __repr__(self):
        return "Flatten()"


class Dropout(Layer):
    """Inverted dropout: in training each unit is zeroed with probability ``rate`` and the
    survivors are scaled by 1/(1 - rate), so that evaluation, which keeps every unit and
    scales nothing, sees the same expected input. The masks are drawn from ``rng``."""

    def __init__(self, rate=0.5, *, rng):
        super().__init__()
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"the dropout rate must be in [0, 1), got {rate!r} (keep probability = 1 - rate)")
        self.rate, self.rng, self.mask = float(rate), as_rng(rng), None
        self.frozen = False  # True: reuse the last mask (gradient checks need one fixed network)

    def forward(self, x):
        if not self.training:
            self.mask = None
            return x
        if not (self.frozen and self.mask is not None and self.mask.shape == x.shape):
            self.mask = (self.rng.random(x.shape) >= self.rate).astype(x.dtype) / (1.0 - self.rate)
        return x * self.mask

    def backward(self, dout, need_dx=True):
        return dout if self.mask is None else dout * self.mask

    def __repr__(self):
        return f"Dropout({self.rate})"


def Sigmoid():
    return Activation("sigmoid")


def Tanh():
    return Activation("tanh")


def ReLU():
    return Activation("relu")


def ImprovedSigmoid():
    return Activation("improved_sigmoid")
