"""The 2-layer network in plain Python: lists, loops and ``math``, no numpy.

One sigmoid hidden layer and a softmax output, written one multiplication at a
time so that every line is one step of the chain rule. Parameters are a dict
``{"W": [[...]] (inputs x hidden), "b": [...], "V": [[...]] (hidden x classes), "c": [...]}``.
"""
from __future__ import annotations

import math

from .init import as_rng
from .training import Loop


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def forward(params, x):
    """Forward pass for one instance ``x`` (a list of inputs); returns every intermediate."""
    W, b, V, c = params["W"], params["b"], params["V"], params["c"]
    n_in, n_hidden, n_out = len(W), len(b), len(c)
    if len(x) != n_in:
        raise ValueError(f"the network takes {n_in} inputs, got {len(x)}")
    k = [b[j] + sum(W[i][j] * x[i] for i in range(n_in)) for j in range(n_hidden)]
    h = [sigmoid(kj) for kj in k]
    o = [c[m] + sum(V[j][m] * h[j] for j in range(n_hidden)) for m in range(n_out)]
    top = max(o)  # shift for a softmax that cannot overflow
    e = [math.exp(om - top) for om in o]
    total = sum(e)
    y = [em / total for em in e]
    return {"x": list(x), "k": k, "h": h, "o": o, "y": y}


def loss(cache, target: int) -> float:
    """Cross-entropy -log y_target."""
    y = cache["y"]
    if not 0 <= target < len(y):
        raise ValueError(f"target class must be in 0..{len(y) - 1}, got {target}")
    # y_target rounds to 0 only after a far too large step: the loss is then infinite
    return -math.log(y[target]) if y[target] > 0 else math.inf


def backward(params, cache, target: int):
    """All derivatives of the loss for one instance, by the chain rule."""
    V = params["V"]
    x, h, y = cache["x"], cache["h"], cache["y"]
    if not 0 <= target < len(y):
        raise ValueError(f"target class must be in 0..{len(y) - 1}, got {target}")
    n_in, n_hidden, n_out = len(x), len(h), len(y)
    # softmax + cross-entropy together: dL/do_m = y_m - [m = target]
    do = [y[m] - (1.0 if m == target else 0.0) for m in range(n_out)]
    dV = [[do[m] * h[j] for m in range(n_out)] for j in range(n_hidden)]
    dc = list(do)
    dh = [sum(do[m] * V[j][m] for m in range(n_out)) for j in range(n_hidden)]
    dk = [dh[j] * h[j] * (1.0 - h[j]) for j in range(n_hidden)]
    dW = [[dk[j] * x[i] for j in range(n_hidden)] for i in range(n_in)]
    db = list(dk)
    return {"W": dW, "b": db, "V": dV, "c": dc}


def sgd_step(params, grads, lr: float) -> None:
    """p <- p - lr * dL/dp for every weight, in place."""
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"learning rate must be a positive finite number, got {lr!r}")
    for name in ("b", "c"):
        p, g = params[name], grads[name]
        for j in range(len(p)):
            p[j] -= lr * g[j]
    for name in ("W", "V"):
        p, g = params[name], grads[name]
        for i in range(len(p)):
            for j in range(len(p[i])):
                p[i][j] -= lr * g[i][j]


def init_params(n_in: int, n_hidden: int, n_out: int, *, rng):
    """Weights from N(0, 1), biases 0, as the course's first network does.

    ``rng`` is a ``numpy.random.Generator`` or an int seed, as everywhere in the
    course, so a seed reproduces the run; its numbers become plain Python floats.
    """
    rng = as_rng(rng)
    return {
        "W": rng.standard_normal((n_in, n_hidden)).tolist(),
        "b": [0.0] * n_hidden,
        "V": rng.standard_normal((n_hidden, n_out)).tolist(),
        "c": [0.0] * n_out,
    }


def predict(params, x) -> int:
    """The most probable class for one instance."""
    y = forward(params, x)["y"]
    return y.index(max(y))


def train(params, xs, ys, lr: float = 0.01, epochs: int = 1, *, val=None, callbacks=()):
    """Per-instance SGD over ``xs`` (lists of inputs) and ``ys`` (class indices), in order.

    The same :class:`~course_lib.training.Loop` as the numpy trainer: a History,
    callbacks (live plots, Stop), and Ctrl-C or divergence end the run cleanly.
    ``val = (xs_val, ys_val)`` is evaluated after every epoch.
    """
    if len(xs) != len(ys) or not xs:
        raise ValueError(f"need as many targets as inputs (at least one), got {len(xs)} inputs and {len(ys)} targets")
    loop = Loop(params, epochs, callbacks, num_classes=len(params["c"]))
    with loop.running(steps_per_epoch=len(xs)):
        for loop.epoch in range(epochs):
            for x, t in zip(xs, ys):
                cache = forward(params, x)
                sgd_step(params, backward(params, cache, t), lr)
                loop.record_step(loss(cache, t), int(cache["y"].index(max(cache["y"])) == t), 1)
                loop.emit("on_step_end")
                if loop.stopping:
                    break
            else:
                loop.end_epoch()
                if val is not None:
                    loop.record_validation(*evaluate(params, *val))
            if loop.stopping:
                break
    return loop.history


def evaluate(params, xs, ys):
    """Mean loss and accuracy on ``xs``, ``ys``."""
    caches = [forward(params, x) for x in xs]
    mean_loss = sum(loss(c, t) for c, t in zip(caches, ys)) / len(ys)
    accuracy = sum(c["y"].index(max(c["y"])) == t for c, t in zip(caches, ys)) / len(ys)
    return mean_loss, accuracy
