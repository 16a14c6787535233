"""A network as a sequence of layers, with a loss on top."""
from __future__ import annotations

import re

import numpy as np

from .functions import LOSSES, sigmoid, softmax
from .initializers import check_rng
from .layers import Activation, Linear


class Sequential:
    """Layers applied in order; the last one's output are the logits.

    Parameters
    ----------
    layers : list of Layer
    output : "softmax" (class labels 0..k-1, cross-entropy) or
        "sigmoid" (one output unit, labels 0/1, binary cross-entropy)
    """

    def __init__(self, layers, output: str = "softmax"):
        if output not in LOSSES:
            raise ValueError(f"unknown output {output!r}; choose 'softmax' or 'sigmoid'")
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("a network needs at least one layer")
        self.output = output
        self.loss_fn = LOSSES[output]
        linears = [l for l in self.layers if isinstance(l, Linear)]
        for layer in linears[1:]:
            layer.input_grad = True
        if linears:
            linears[0].input_grad = self.layers[0] is not linears[0]

    # --- parameters ------------------------------------------------------
    def parameters(self):
        """Yield ``(name, param, grad)`` for every parameter, e.g. ``("0.W", W, dW)``."""
        for i, layer in enumerate(self.layers):
            for key, p in layer.params.items():
                yield f"{i}.{key}", p, layer.grads[key]

    @property
    def num_params(self) -> int:
        return sum(p.size for _, p, _ in self.parameters())

    @property
    def num_classes(self) -> int:
        if self.output == "sigmoid":
            return 2
        return [l for l in self.layers if isinstance(l, Linear)][-1].shape[1]

    @property
    def dtype(self):
        return next(p for _, p, _ in self.parameters()).dtype

    def weights(self):
        """The weight matrices (what L2 regularisation penalises; biases are not)."""
        return [l.params["W"] for l in self.layers if isinstance(l, Linear)]

    def get_params(self) -> dict:
        """A copy of every parameter, by name (for restoring the best weights)."""
        return {name: p.copy() for name, p, _ in self.parameters()}

    def set_params(self, values: dict) -> None:
        for name, p, _ in self.parameters():
            p[...] = values[name]

    def astype(self, dtype) -> "Sequential":
        """Cast every parameter and gradient buffer to ``dtype`` in place; returns self."""
        for layer in self.layers:
            for key in layer.params:
                layer.params[key] = layer.params[key].astype(dtype, copy=False)
                layer.grads[key] = layer.grads[key].astype(dtype, copy=False)
        return self

    # --- passes ------------------------------------------------------------
    def forward(self, x):
        """Logits for ``x`` of shape ``(features,)`` or ``(batch, features)``."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dlogits):
        """Backpropagate dL/dlogits through every layer, filling the gradients."""
        d = dlogits
        for layer in reversed(self.layers):
            d = layer.backward(d)
        return d

    def backward_sgd(self, dlogits, lr: float, l2: float = 0.0):
        """Backpropagate dL/dlogits and take a plain SGD step on the way down.

        Each layer updates its parameters as soon as it has passed dL/dx on
        (``W <- (1 - lr l2) W - lr dL/dW``), in one BLAS call per weight matrix;
        the gradients are not stored. The same step as ``backward`` +
        ``add_l2_grad`` + ``SGD(lr).step``, up to rounding.
        """
        d = dlogits
        for layer in reversed(self.layers):
            d = layer.backward_sgd(d, lr, l2 if isinstance(layer, Linear) else 0.0)
        return d

    def l2_penalty(self, l2: float) -> float:
        """(l2 / 2) * sum of squared weights, so that its gradient is l2 * W."""
        if not l2:
            return 0.0
        return 0.5 * l2 * float(sum(np.vdot(W, W) for W in self.weights()))

    def loss(self, x, y, l2: float = 0.0) -> float:
        """Data loss plus the L2 penalty, without touching the gradients."""
        return self.loss_fn(self.forward(x), y)[0] + self.l2_penalty(l2)

    def forward_backward(self, x, y, l2: float = 0.0) -> float:
        """One forward and backward pass. Returns the loss (with the L2 penalty)
        and leaves dLoss/dparam in each layer's ``grads``."""
        loss, dlogits = self.loss_fn(self.forward(x), y)
        self.backward(dlogits)
        if l2:
            self.add_l2_grad(l2)
            loss += self.l2_penalty(l2)
        return loss

    def add_l2_grad(self, l2: float) -> None:
        """Add the penalty's gradient l2 * W to each weight gradient (not to biases)."""
        for layer in self.layers:
            if isinstance(layer, Linear):
                layer.grads["W"] += l2 * layer.params["W"]

    def classify(self, logits):
        """Class labels from logits: argmax, or logit > 0 for a sigmoid output."""
        if self.output == "sigmoid":
            return (logits.reshape(logits.shape[:-1]) > 0).astype(np.int64)
        return logits.argmax(axis=-1)

    def predict_proba(self, x):
        z = self.forward(x)
        return sigmoid(z.reshape(z.shape[:-1])) if self.output == "sigmoid" else softmax(z)

    def predict(self, x):
        """Predicted class labels: ``(batch,)`` integers."""
        return self.classify(self.forward(x))

    def accuracy(self, x, y) -> float:
        return float(np.mean(self.predict(x) == np.asarray(y)))

    def __repr__(self):
        inner = ", ".join(map(repr, self.layers))
        return f"Sequential([{inner}], output={self.output!r})"


def parse_sizes(text) -> list[int]:
    """Layer sizes from text like ``"10-6-4-3-3"`` (also commas or spaces)."""
    if isinstance(text, (list, tuple)):
        sizes = list(text)
    else:
        parts = [p for p in re.split(r"[\s,\-]+", str(text).strip()) if p]
        if not parts:
            raise ValueError("no layer sizes given: type them like 10-6-4-3-3")
        try:
            sizes = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"layer sizes must be whole numbers separated by '-', got {text!r}") from None
    if any(int(s) < 1 for s in sizes):
        raise ValueError(f"every layer needs at least one unit, got {sizes}")
    return [int(s) for s in sizes]


def mlp(sizes, *, rng, activation="sigmoid", init="fan_in", output="softmax", dtype=np.float64):
    """A fully connected network, e.g. ``mlp([784, 64, 10], rng=rng)``.

    Parameters
    ----------
    sizes : list of int or text like "784-64-10": input, hidden..., output sizes
    rng : numpy.random.Generator
    activation : hidden-layer nonlinearity (see ``functions.ACTIVATIONS``)
    init : weight initialiser name (see ``initializers.INITIALIZERS``)
    output : "softmax" or "sigmoid" (then the last size must be 1)
    """
    sizes = parse_sizes(sizes)
    check_rng(rng)
    if len(sizes) < 2:
        raise ValueError(f"need at least an input and an output size, got {sizes}")
    if output == "sigmoid" and sizes[-1] != 1:
        raise ValueError(f"a sigmoid output has one unit, got {sizes[-1]}")
    if output == "softmax" and sizes[-1] < 2:
        raise ValueError(f"a softmax output needs at least two classes, got {sizes[-1]}")
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear.init(n_in, n_out, rng=rng, init=init, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(Activation(activation))
    return Sequential(layers, output=output)


def count_params(sizes) -> int:
    """Weights and biases of a fully connected network: sum of (n_in + 1) * n_out."""
    sizes = parse_sizes(sizes)
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
