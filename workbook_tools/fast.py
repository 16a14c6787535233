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
"""
from __future__ import annotations

import numpy as np

from course_lib.layers import Linear
from course_lib.optim import SGD
from course_lib.training import Trainer

from . import blas


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
    rounding, but ``layer.grads`` are left as they were.
    """

    def __init__(self, model, *, lr=0.01, **options):
        if "optimizer" in options:
            raise TypeError("FusedTrainer always takes plain SGD steps: pass lr=..., not optimizer=...")
        super().__init__(model, SGD(lr), **options)

    def train_step(self, xb, yb) -> None:
        model = self.model
        logits = model.forward(xb)
        loss, dlogits = model.loss_fn(logits, yb)
        backward_sgd(model, dlogits, self.optimizer.lr, self.l2)
        self.record_step(loss, np.count_nonzero(model.classify(logits) == yb), np.size(yb))


def fused_train(model, train_data, val_data=None, **options):
    """``FusedTrainer(model, **options).fit(train_data, val_data)``."""
    return FusedTrainer(model, **options).fit(train_data, val_data)
