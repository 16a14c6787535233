"""Layers with a hand-written backward pass.

Each layer's ``forward`` keeps what its ``backward`` needs; ``backward`` takes
dL/d(output) and returns dL/d(input), filling ``grads`` for its parameters.
``backward_sgd`` does the same but takes a plain SGD step instead of storing the
gradients (for ``Linear``, inside the gradient's matrix product).
Inputs are either one instance ``(features,)`` or a mini-batch ``(batch, features)``.
"""
from __future__ import annotations

import numpy as np

from . import blas
from .functions import activation
from .initializers import init_weights


class Layer:
    """Base class: no parameters."""

    params: dict
    grads: dict

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def backward_sgd(self, dout, lr, l2=0.0):
        """``backward``, then a plain SGD step ``p <- p - lr dL/dp`` on this layer's parameters.

        Layers that can, fuse the two (see :meth:`Linear.backward_sgd`). ``l2``
        only concerns layers with weights to penalise.
        """
        dx = self.backward(dout)
        for key, p in self.params.items():
            p -= lr * self.grads[key]
        return dx


class Linear(Layer):
    """Dense layer ``out = x @ W + b`` with ``W`` of shape ``(n_in, n_out)``."""

    def __init__(self, W, b=None):
        super().__init__()
        W = np.asarray(W)
        if W.ndim != 2:
            raise ValueError(f"W must be a matrix (n_in, n_out), got shape {W.shape}")
        b = np.zeros(W.shape[1], W.dtype) if b is None else np.asarray(b, dtype=W.dtype)
        if b.shape != (W.shape[1],):
            raise ValueError(f"b must have shape ({W.shape[1]},) to match W {W.shape}, got {b.shape}")
        self.params = {"W": W, "b": b}
        self.grads = {"W": np.zeros_like(W), "b": np.zeros_like(b)}
        # The first layer of a network never needs dL/dx; skipping it saves a
        # matrix product as large as the one for dL/dW.
        self.input_grad = True

    @classmethod
    def init(cls, n_in, n_out, *, rng, init="fan_in", dtype=np.float64):
        return cls(init_weights(init, n_in, n_out, rng, dtype))

    @property
    def shape(self):
        return self.params["W"].shape

    def forward(self, x):
        W = self.params["W"]
        if x.shape[-1] != W.shape[0] or x.ndim > 2:
            raise ValueError(
                f"Linear layer {W.shape[0]}->{W.shape[1]} expects input (features={W.shape[0]},)"
                f" or (batch, {W.shape[0]}), got shape {x.shape}"
            )
        self.x = x
        # A batch goes through blas.matmul: x @ W, read the way the fused update writes W.
        out = x @ W if x.ndim == 1 else blas.matmul(x, W)
        out += self.params["b"]  # in place: one array per call, not two
        return out

    def backward(self, dout):
        x, W = self.x, self.params["W"]
        if x.ndim == 1:
            # One instance: dL/dW is the rank-1 outer product x^T dout.
            # np.outer is faster than a (n,1) @ (1,m) matrix product (1.4-1.6x for
            # 784x300 here: BLAS gains nothing on a product with an inner size of 1),
            # and writing into the gradient buffer spares a matrix-sized temporary.
            np.outer(x, dout, out=self.grads["W"])
            self.grads["b"][...] = dout
            return W @ dout if self.input_grad else None
        # A batch: the matrix product sums the per-instance outer products
        # without ever storing the (batch, n_in, n_out) tensor.
        np.matmul(x.T, dout, out=self.grads["W"])
        np.sum(dout, axis=0, out=self.grads["b"])
        return dout @ W.T if self.input_grad else None

    def backward_sgd(self, dout, lr, l2=0.0):
        """The backward pass with the SGD step folded in; returns dL/dx.

        ``W <- (1 - lr l2) W - lr x^T dout`` and ``b <- b - lr sum(dout)``, where
        ``x^T dout`` is dL/dW of :meth:`backward`. BLAS adds the product straight
        into ``W`` (:func:`course_lib.blas.gemm`, or ``ger`` for one instance), so
        dL/dW is never stored: ``grads`` is left as it was. dL/dx is computed
        first, with the weights the forward pass used.
        """
        x, W, b = self.x, self.params["W"], self.params["b"]
        if x.ndim == 1:
            dx = W @ dout if self.input_grad else None
            if l2:
                W *= 1.0 - lr * l2
            blas.ger(-lr, x, dout, W)
            b -= lr * dout
        else:
            dx = dout @ W.T if self.input_grad else None
            blas.gemm(-lr, x, dout, 1.0 - lr * l2, W)
            b -= lr * dout.sum(axis=0)
        return dx

    def __repr__(self):
        return f"Linear({self.shape[0]}, {self.shape[1]})"


class Activation(Layer):
    """Elementwise nonlinearity by name: sigmoid, tanh, relu, improved_sigmoid, identity."""

    def __init__(self, name: str):
        super().__init__()
        self.f, _, self.df_from_output = activation(name)
        self.name = name

    def forward(self, x):
        self.y = self.f(x)
        return self.y

    def backward(self, dout):
        g = self.df_from_output(self.y)  # a new array: multiply into it
        if g.shape == dout.shape and g.dtype == np.result_type(g, dout):
            g *= dout
            return g
        return dout * g

    def __repr__(self):
        return f"Activation({self.name!r})"


def Sigmoid():
    return Activation("sigmoid")


def Tanh():
    return Activation("tanh")


def ReLU():
    return Activation("relu")


def ImprovedSigmoid():
    return Activation("improved_sigmoid")
