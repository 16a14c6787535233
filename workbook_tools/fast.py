"""The fast path: plain SGD with the update inside the gradient's matrix product.

What frameworks do, and what notebook 04 explains after writing the plain loop.
The SGD step of a dense layer is ``W <- W - η xᵀδ`` (with L2, ``(1 - ηλ) W - η xᵀδ``).
Computed as the lesson does, numpy makes two passes over ``W``'s size: the
product writes dL/dW into a new array, then the step reads it and ``W`` and
writes ``W``. BLAS's ``gemm`` computes ``C <- βC + α AᵀB`` in one routine: with
``C = W``, ``α = -η`` and ``β = 1 - ηλ`` the step happens while the product is
computed and the gradient is never stored (for one instance, ``ger`` adds the
outer product straight into ``W``).

:class:`FusedTrainer` is :class:`course_lib.Trainer` with that step. The
result is the same up to rounding; the layers' ``grads`` are not filled.

One instance at a time (``batch_size=1``, the VU course's plain SGD) every product
is a matrix-vector product of a few microseconds, and numpy's per-call costs
(new arrays, checks, dispatch) take most of a step. There the trainer computes
the same step with buffers allocated once per run, the numpy calls writing into
them (``out=``), and BLAS's ``ger`` called directly, on one BLAS thread
(:func:`workbook_tools.threads.pinned`: the weights fit in one core's cache, and
a second thread only adds a wait at every product).
"""
from __future__ import annotations

import contextlib
import math

import numpy as np

from course_lib.activations import IMPROVED_A, IMPROVED_B
from course_lib.layers import Activation, Linear
from course_lib.losses import softmax_cross_entropy
from course_lib.optim import SGD
from course_lib.training import Trainer

from . import blas, threads


def fused_linear_step(layer: Linear, dout, lr: float, l2: float = 0.0, need_dx: bool = True):
    """Backward through ``layer`` with the SGD step folded in; returns dL/dx (or None).

    dL/dx is computed first, with the weights the forward pass used.
    """
    x, W, b = layer.x, layer.params["W"], layer.params["b"]
    dx = dout @ W.T if need_dx else None
    if x.ndim == 1:
        if l2:
            W *= 1.0 - lr * l2
        blas.ger(-lr, x, dout, W)
        b -= lr * dout
    else:
        blas.gemm(-lr, x, dout, 1.0 - lr * l2, W)
        b -= lr * dout.sum(axis=0)
    return dx


def backward_sgd(model, dlogits, lr: float, l2: float = 0.0):
    """Backpropagate dL/dlogits and take the SGD step on the way down, one layer at a time.

    The same step as ``model.backward`` + ``model.add_l2_grad`` + ``SGD(lr).step``,
    up to rounding; the layers' ``grads`` are not filled.
    """
    d = dlogits
    for i in range(len(model.layers) - 1, -1, -1):
        layer = model.layers[i]
        if isinstance(layer, Linear):
            d = fused_linear_step(layer, d, lr, l2, need_dx=i > 0)
        else:
            d = layer.backward(d)
    return d


class FusedTrainer(Trainer):
    """:class:`course_lib.Trainer` with plain SGD fused into the backward pass.

    Takes the same options as ``Trainer`` except the optimiser: it is always
    ``SGD(lr)``. Faster (see ``benchmarks.train_speed``), the same steps up to
    rounding, but ``layer.grads`` are left as they were. With ``batch_size=1``
    BLAS runs on one thread for the length of :meth:`fit`.
    """

    def __init__(self, model, *, lr=0.01, **options):
        if "optimizer" in options:
            raise TypeError("FusedTrainer always takes plain SGD steps: pass lr=..., not optimizer=...")
        super().__init__(model, SGD(lr), **options)
        self._one = None

    def fit(self, train, val=None):
        """As :meth:`course_lib.Trainer.fit`; one BLAS thread when training on one instance at a time."""
        self._one = None
        pin = threads.pinned(1) if self.batch_size == 1 else contextlib.nullcontext()
        try:
            with pin:
                return super().fit(train, val)
        finally:
            self._one = None  # the buffers belong to this run

    def train_step(self, xb, yb) -> None:
        if xb.ndim == 1:
            one = self._one
            if one is None or (one is not False and not one.fits(self.model)):
                one = self._one = InstanceStep.build(self.model, self.optimizer.lr, self.l2)
            if one is not False and xb.dtype == one.dtype:
                return self.record_step(*one(xb, yb))
        model = self.model
        logits = model.forward(xb)
        loss, dlogits = model.loss_fn(logits, yb)
        backward_sgd(model, dlogits, self.optimizer.lr, self.l2)
        self.record_step(loss, np.count_nonzero(model.classify(logits) == yb), np.size(yb))


def fused_train(model, train_data, val_data=None, **options):
    """``FusedTrainer(model, **options).fit(train_data, val_data)``."""
    return FusedTrainer(model, **options).fit(train_data, val_data)


# --- one instance at a time ------------------------------------------------------------

def _forward_activation(name, y):
    """The activation ``name`` applied to ``y`` in place, with the lesson's operations in its order."""
    if name == "sigmoid":  # 1 / (1 + e^-x); e^-x may overflow to inf, and 1 / inf = 0 is right
        np.negative(y, out=y)
        with np.errstate(over="ignore"):
            np.exp(y, out=y)
        np.add(y, 1.0, out=y)
        np.divide(1.0, y, out=y)
    elif name == "tanh":
        np.tanh(y, out=y)
    elif name == "relu":
        np.maximum(y, 0.0, out=y)
    elif name == "improved_sigmoid":  # 1.7159 tanh(2x/3)
        np.multiply(y, IMPROVED_B, out=y)
        np.tanh(y, out=y)
        np.multiply(y, IMPROVED_A, out=y)


def _backward_activation(name, y, d, tmp):
    """``d *= f'(y)``, f' written through the output y as the lesson writes it."""
    if name == "sigmoid":  # y (1 - y)
        np.subtract(1.0, y, out=tmp)
        np.multiply(y, tmp, out=tmp)
        np.multiply(d, tmp, out=d)
    elif name == "tanh":  # 1 - y y
        np.multiply(y, y, out=tmp)
        np.subtract(1.0, tmp, out=tmp)
        np.multiply(d, tmp, out=d)
    elif name == "relu":  # (y > 0)
        np.greater(y, 0, out=tmp)
        np.multiply(d, tmp, out=d)
    elif name == "improved_sigmoid":  # B (A - y y / A)
        np.multiply(y, y, out=tmp)
        np.divide(tmp, IMPROVED_A, out=tmp)
        np.subtract(IMPROVED_A, tmp, out=tmp)
        np.multiply(IMPROVED_B, tmp, out=tmp)
        np.multiply(d, tmp, out=d)


class InstanceStep:
    """The fused SGD step on one instance vector, every buffer allocated once.

    For a :class:`~course_lib.network.Sequential` of ``Linear`` and ``Activation``
    layers with a softmax output; ``build`` returns False for anything else (the
    trainer then takes the general step). Calling it with ``(x, y)`` takes the
    step and returns ``(loss, correct, 1)`` for ``record_step``. It computes what
    ``Trainer.train_step`` computes (forward, softmax cross-entropy, backward,
    SGD with L2), operation for operation where numpy allows, so the numbers agree
    up to rounding; the layers' ``x``, ``y`` and ``grads`` are not kept.
    """

    NAMES = {"sigmoid", "tanh", "relu", "improved_sigmoid", "identity"}

    @classmethod
    def build(cls, model, lr, l2):
        layers = model.layers
        if model.loss_fn is not softmax_cross_entropy or not isinstance(layers[0], Linear):
            return False
        if not all(isinstance(l, Linear) or (type(l) is Activation and l.name in cls.NAMES) for l in layers):
            return False
        return cls(model, lr, l2)

    def __init__(self, model, lr, l2):
        self.model, self.lr, self.l2 = model, float(lr), float(l2)
        self.dtype = dtype = model.dtype
        # a numpy scalar of the model's dtype: what the Python float becomes in the lesson's
        # ``lr * grad`` (NEP 50), without converting it on every call
        self.lr_t = dtype.type(self.lr)
        self.decay = None if not self.l2 else 1.0 - self.lr * self.l2
        funcs = blas._load()
        self._ger = funcs[dtype][1] if funcs and dtype in funcs else None
        layers = model.layers
        self.x = np.empty(layers[0].shape[0], dtype)  # the instance is copied here: one fixed address
        # One tuple per Linear: W, Wᵀ, b, its output buffer, the activation after it (or None),
        # a dL/dx buffer (None for the first layer), a scratch buffer, its input buffer, the
        # activation that made that input, a scratch buffer of the input's size, and the
        # arguments of BLAS's ger straight into W (None: numpy's outer product instead).
        linears = []
        for i, layer in enumerate(layers):
            if not isinstance(layer, Linear):
                continue
            W, b = layer.params["W"], layer.params["b"]
            n_in, n_out = W.shape
            act = layers[i + 1].name if i + 1 < len(layers) and isinstance(layers[i + 1], Activation) else None
            prev = linears[-1] if linears else None
            linears.append([W, W.T, b, np.empty(n_out, dtype), None if act == "identity" else act,
                            np.empty(n_in, dtype) if prev else None, np.empty(n_out, dtype),
                            prev[3] if prev else self.x, prev[4] if prev else None, prev[6] if prev else None, None])
        self.shifted, self.grad = np.empty_like(linears[-1][3]), np.empty_like(linears[-1][3])
        for j, L in enumerate(linears):
            W = L[0]
            if self._ger is not None and W.flags.c_contiguous and W.flags.aligned and W.flags.writeable:
                d = self.grad if j == len(linears) - 1 else linears[j + 1][5]
                m, n = W.shape
                L[10] = (blas._ROW_MAJOR, m, n, -self.lr, L[7].ctypes.data, 1, d.ctypes.data, 1, W.ctypes.data, n)
        self.linears = [tuple(L) for L in linears]
        self.backward = self.linears[::-1]
        self.layers = list(layers)
        self.arrays = [(l.params, l.params["W"], l.params["b"]) for l in layers if isinstance(l, Linear)]

    def fits(self, model) -> bool:
        """Whether the model still holds the layers and arrays the buffers were made for (checked every
        step: a callback may swap a layer's arrays, and the step must then follow the new ones)."""
        if model is not self.model or model.layers != self.layers:
            return False
        for params, W, b in self.arrays:
            if params["W"] is not W or params["b"] is not b:
                return False
        return True

    def __call__(self, x, y):
        matmul, add, subtract, multiply, exp = np.matmul, np.add, np.subtract, np.multiply, np.exp
        # forward: out = x W + b, then the activation in place
        a = self.x
        np.copyto(a, x)
        for W, _, b, out, act, *_ in self.linears:
            matmul(a, W, out=out)
            add(out, b, out=out)
            if act is not None:
                _forward_activation(act, out)
            a = out
        # softmax cross-entropy of the logits (course_lib.losses.softmax_cross_entropy, one instance)
        logits, shifted, grad = a, self.shifted, self.grad
        top = logits.argmax()
        subtract(logits, logits[top], out=shifted)
        exp(shifted, out=grad)
        # log Σ e^shifted: a handful of terms, summed exactly and logged in Python (numpy's sum and log
        # cost a microsecond each here; the result differs from theirs by rounding at most)
        subtract(shifted, math.log(math.fsum(grad.tolist())), out=shifted)  # log-probabilities
        exp(shifted, out=grad)
        grad[y] -= 1.0
        loss = -float(shifted[y])
        # backward, each layer's step folded in (dL/dx first, with the weights the forward pass used)
        lr, ger, decay = self.lr_t, self._ger, self.decay
        d = grad
        for W, WT, b, _, _, dx, tmp, inp, act, scratch, ger_args in self.backward:
            if dx is not None:
                matmul(d, WT, out=dx)
            if decay is not None:
                multiply(W, decay, out=W)
            if ger_args is not None:
                ger(*ger_args)  # W += -lr inp dᵀ
            else:
                W += np.outer(-self.lr * inp, d)
            multiply(d, lr, out=tmp)
            subtract(b, tmp, out=b)
            if dx is None:
                break
            if act is not None:
                _backward_activation(act, inp, dx, scratch)
            d = dx
        return loss, (1 if top == y else 0), 1
