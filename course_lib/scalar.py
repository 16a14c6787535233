"""The 2-layer network in plain Python: lists, loops and ``math``, no numpy.

One sigmoid hidden layer and a softmax output, written one multiplication at a
time so that every line is one step of the chain rule. Parameters are a dict
``{"W": [[...]] (inputs x hidden), "b": [...], "V": [[...]] (hidden x classes), "c": [...]}``.
"""
from __future__ import annotations

import math

from .initializers import check_rng
from .train import History


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
    return -math.log(y[target])


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

    ``rng`` is a ``numpy.random.Generator``, as everywhere in the course, so a
    seed reproduces the run; its numbers are turned into plain Python floats.
    """
    check_rng(rng)
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


class _Run:
    """What callbacks see during :func:`train`: the same attributes as a ``Trainer``."""

    def __init__(self, params, epochs, steps_per_epoch):
        self.model, self.epochs = params, epochs
        self.total_steps = epochs * steps_per_epoch
        self.history = History(steps_per_epoch=steps_per_epoch)
        self.step = self.epoch = 0
        self._stop_reason = None

    def stop(self, reason="requested", message=""):
        self._stop_reason = reason
        self.history.message = message

    @property
    def stopping(self):
        return self._stop_reason is not None


def train(params, xs, ys, lr: float = 0.01, epochs: int = 1, *, val=None, callbacks=()):
    """Per-instance SGD over ``xs`` (lists of inputs) and ``ys`` (class indices), in order.

    ``val = (xs_val, ys_val)`` is evaluated after every epoch. ``callbacks`` are
    :class:`course_lib.train.Callback` objects, as for the numpy trainer (live
    plots, Stop). Returns a :class:`~course_lib.train.History`; ``epoch_loss``
    holds the mean loss of each epoch.
    """
    if len(xs) != len(ys):
        raise ValueError(f"{len(xs)} inputs but {len(ys)} targets")
    run = _Run(params, epochs, len(xs))
    h = run.history
    hooks = lambda name: [getattr(c, name) for c in callbacks if hasattr(c, name)]
    on_step, on_epoch = hooks("on_step_end"), hooks("on_epoch_end")
    for hook in hooks("on_train_begin"):
        hook(run)
    for run.epoch in range(epochs):
        total = correct = 0.0
        for x, t in zip(xs, ys):
            cache = forward(params, x)
            step_loss = loss(cache, t)
            sgd_step(params, backward(params, cache, t), lr)
            hit = float(cache["y"].index(max(cache["y"])) == t)
            total, correct = total + step_loss, correct + hit
            run.step += 1
            h.step.append(run.step)
            h.loss.append(step_loss)
            h.acc.append(hit)
            for hook in on_step:
                hook(run)
            if run.stopping:
                break
        if run.stopping:
            break
        h.epoch_loss.append(total / len(xs))
        h.epoch_acc.append(correct / len(xs))
        if val is not None:
            vx, vy = val
            h.val_step.append(run.step)
            h.val_loss.append(sum(loss(forward(params, x), t) for x, t in zip(vx, vy)) / len(vy))
            h.val_acc.append(sum(predict(params, x) == t for x, t in zip(vx, vy)) / len(vy))
        for hook in on_epoch:
            hook(run)
    h.stop_reason = run._stop_reason or "completed"
    for hook in hooks("on_train_end"):
        hook(run)
    return h
