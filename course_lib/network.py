"""A network as a list of layers with a loss on top (notebooks 03, 04 and 07)."""
from __future__ import annotations

import contextlib
import re

import numpy as np

from .activations import sigmoid
from .init import as_rng
from .layers import Activation, Linear, float_dtype
from .losses import LOSSES, softmax


class Sequential:
    """Layers applied in order; the last one's outputs are the logits.

    ``output="softmax"``: class labels 0..k-1 and cross-entropy; ``output="sigmoid"``:
    one output unit, labels 0/1 and binary cross-entropy. Parameters are reachable
    by name, numbered by the layers that have them: ``net.params["W1"]``,
    ``net.params["b1"]``, ``net.params["W2"]``, ...; ``net.grads`` has the same names.
    """

    def __init__(self, layers, output: str = "softmax"):
        if output not in LOSSES:
            raise ValueError(f"unknown output {output!r}; choose 'softmax' or 'sigmoid'")
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("a network needs at least one layer")
        self.output, self.loss_fn = output, LOSSES[output]

    # --- parameters by name ---------------------------------------------------
    def _named(self, which):
        named, number = {}, 0
        for layer in self.layers:
            if layer.params:
                number += 1
                for key in layer.params:
                    named[f"{key}{number}"] = getattr(layer, which)[key]
        return named

    @property
    def params(self) -> dict:
        """Every parameter array by name (the arrays themselves: changing them changes the network)."""
        return self._named("params")

    @property
    def grads(self) -> dict:
        """dL/d(parameter) from the last backward pass, by the same names as :attr:`params`."""
        return self._named("grads")

    @property
    def num_params(self) -> int:
        return sum(p.size for p in self.params.values())

    @property
    def dtype(self):
        return next(iter(self.params.values())).dtype

    @property
    def num_classes(self) -> int:
        return 2 if self.output == "sigmoid" else [l for l in self.layers if isinstance(l, Linear)][-1].shape[1]

    def weights(self):
        """The weight matrices: what L2 regularisation penalises (biases are not)."""
        return [p for name, p in self.params.items() if name.startswith("W")]

    def get_params(self) -> dict:
        """A copy of every parameter, by name (to restore the best weights later)."""
        return {name: p.copy() for name, p in self.params.items()}

    def set_params(self, values: dict) -> None:
        for name, p in self.params.items():
            p[...] = values[name]

    def astype(self, dtype) -> "Sequential":
        """Cast every parameter to ``dtype`` (float32 or float64) in place; returns the network."""
        dtype = float_dtype(dtype)
        for layer in self.layers:
            for key in layer.params:
                layer.params[key] = layer.params[key].astype(dtype, copy=False)
                layer.grads[key] = layer.grads[key].astype(dtype, copy=False)
        return self

    # --- training or evaluating ---------------------------------------------------
    @property
    def training(self) -> bool:
        return all(layer.training for layer in self.layers)

    def train(self, on: bool = True) -> "Sequential":
        """Training mode (the default): dropout drops units. ``train(False)``: evaluation mode."""
        for layer in self.layers:
            layer.training = bool(on)
        return self

    def eval(self) -> "Sequential":
        """Evaluation mode: every unit is kept (what predictions and validation use)."""
        return self.train(False)

    @contextlib.contextmanager
    def evaluating(self):
        """``with net.evaluating():`` evaluation mode inside, the previous mode afterwards."""
        was = self.training
        self.eval()
        try:
            yield self
        finally:
            self.train(was)

    # --- the passes -------------------------------------------------------------
    def forward(self, x):
        """Logits for ``x`` of shape ``(features,)`` or ``(batch, features)``."""
        x = np.asarray(x)
        if x.dtype.kind not in "iuf":  # here once for every layer: text would fail deep inside a matmul
            raise TypeError(f"the network's input must hold numbers, got dtype {x.dtype};"
                            " convert it with np.asarray(x, float)")
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dlogits):
        """Backpropagate dL/dlogits through every layer, filling each layer's ``grads``."""
        d = dlogits
        for i in range(len(self.layers) - 1, -1, -1):
            d = self.layers[i].backward(d, need_dx=i > 0)
        return d

    def l2_penalty(self, l2: float) -> float:
        """(λ/2) Σ‖W‖², so that its gradient is λW."""
        return 0.5 * l2 * float(sum(np.vdot(W, W) for W in self.weights())) if l2 else 0.0

    def add_l2_grad(self, l2: float) -> None:
        """Add the penalty's gradient λW to every weight gradient (not to the biases)."""
        params, grads = self.params, self.grads
        for name in params:
            if name.startswith("W"):
                grads[name] += l2 * params[name]

    def loss(self, x, y, l2: float = 0.0) -> float:
        """Data loss plus the L2 penalty, without touching the gradients."""
        return self.loss_fn(self.forward(x), y)[0] + self.l2_penalty(l2)

    def forward_backward(self, x, y, l2: float = 0.0) -> float:
        """One forward and backward pass: returns the loss (with the penalty), fills ``grads``."""
        loss, dlogits = self.loss_fn(self.forward(x), y)
        self.backward(dlogits)
        if l2:
            self.add_l2_grad(l2)
        return loss + self.l2_penalty(l2)

    # --- predictions --------------------------------------------------------------
    def classify(self, logits):
        """Class labels from logits: the argmax, or logit > 0 for a sigmoid output."""
        if self.output == "sigmoid":
            return (logits.reshape(logits.shape[:-1]) > 0).astype(np.int64)
        return logits.argmax(axis=-1)

    def predict(self, x):
        """Predicted class labels ``(batch,)`` (in evaluation mode, like every prediction)."""
        with self.evaluating():
            return self.classify(self.forward(x))

    def predict_proba(self, x):
        with self.evaluating():
            z = self.forward(x)
        return sigmoid(z.reshape(z.shape[:-1])) if self.output == "sigmoid" else softmax(z)

    def accuracy(self, x, y) -> float:
        return float(np.mean(self.predict(x) == np.asarray(y)))

    def __repr__(self):
        return f"Sequential([{', '.join(map(repr, self.layers))}], output={self.output!r})"


_SIZES = re.compile(r"[0-9]+(?:(?:\s*[-,]\s*|\s+)[0-9]+)*")


def parse_sizes(sizes) -> list[int]:
    """Layer sizes from text like ``"10-6-4-3-3"`` (or commas or spaces), or from a list or array."""
    if isinstance(sizes, str):
        text = sizes.strip()
        if not text:
            raise ValueError("no layer sizes given: type them like 10-6-4-3-3")
        if not _SIZES.fullmatch(text):
            raise ValueError(f"layer sizes must be whole numbers separated by single '-', ',' or spaces"
                             f" (like 10-6-4-3-3), got {sizes!r}")
        values = [int(v) for v in re.findall(r"[0-9]+", text)]
    else:
        arr = np.asarray(sizes)
        if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iuf" or np.any(arr != np.round(arr)):
            raise ValueError(f"layer sizes must be a list of whole numbers or text like 10-6-4-3-3, got {sizes!r}")
        values = [int(v) for v in arr]
    if min(values) < 1:
        raise ValueError(f"every layer needs at least one unit, got {values}")
    return values


def mlp(sizes, *, rng, activation="sigmoid", init="fan_in", output="softmax", dtype=np.float64):
    """A fully connected network, e.g. ``mlp([784, 64, 10], rng=0)`` or ``mlp("784-64-10", rng=rng)``.

    sizes: input, hidden..., output sizes; activation: of the hidden layers;
    init: the weight initialiser; output: "softmax" or "sigmoid" (one output unit).
    """
    sizes, rng, dtype = parse_sizes(sizes), as_rng(rng), float_dtype(dtype)
    Activation(activation)  # an unknown name fails here, before any weights are drawn
    if len(sizes) < 2:
        raise ValueError(f"need at least an input and an output size, got {sizes}")
    if output == "sigmoid" and sizes[-1] != 1:
        raise ValueError(f"a sigmoid output has one unit, got {sizes[-1]}")
    if output == "softmax" and sizes[-1] < 2:
        raise ValueError(f"a softmax output needs at least two classes, got {sizes[-1]}")
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [Linear.init(n_in, n_out, rng=rng, init=init, dtype=dtype), Activation(activation)]
    return Sequential(layers[:-1], output=output)  # no activation on the logits


def count_params(sizes) -> int:
    """Weights and biases of a fully connected network: the sum of (n_in + 1) n_out."""
    sizes = parse_sizes(sizes)
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
