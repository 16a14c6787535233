"""Checks for notebook 02, the 2-3-2 network in plain Python.

Forward pass and loss: the course's example values (k = 2, y = (½, ½), loss ln 2)
and, on random weights, course_lib.scalar (a reference implementation). Backward
pass: the course's 17 derivatives and central differences of the loss on random
weights. The SGD step and the training loop: compared with what they must do,
step by step.
"""
from __future__ import annotations

import copy
import math
import types

import numpy as np

from course_lib import scalar

from .core import Exercise, Wrong, central_differences, compare

COURSE = {"W": [[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]], "b": [0.0, 0.0, 0.0],
          "V": [[1.0, 1.0], [-1.0, -1.0], [-1.0, -1.0]], "c": [0.0, 0.0]}
X0, T0 = [1.0, -1.0], 0


def _random_params(seed, n_in=2, n_hidden=3, n_out=2):
    rng = np.random.default_rng(seed)
    params = scalar.init_params(n_in, n_hidden, n_out, rng=rng)
    params["b"] = rng.standard_normal(n_hidden).tolist()
    params["c"] = rng.standard_normal(n_out).tolist()
    return params


def _uses_numpy(fn) -> bool:
    """Whether the function's code (or code nested in it) refers to numpy."""
    def names(code):
        yield from code.co_names
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                yield from names(const)
    code = getattr(fn, "__code__", None)
    return code is not None and any(n in ("np", "numpy") for n in names(code))


def _plain_python(fn, name):
    if _uses_numpy(fn):
        raise Wrong(f"{name} uses numpy", "this exercise is plain Python: lists, loops and the math module"
                                          " (math.exp, math.log); numpy comes in notebook 03")


def verify_forward(forward):
    _plain_python(forward, "forward")
    cache = forward(copy.deepcopy(COURSE), list(X0))
    if not isinstance(cache, dict) or not {"k", "h", "o", "y"} <= set(cache):
        raise Wrong("forward should return a dict with the keys 'k', 'h', 'o' and 'y'",
                    "collect every intermediate value: the backward pass needs them")
    s2 = 1 / (1 + math.exp(-2))
    compare("k", cache["k"], [2.0, 2.0, 2.0], hints=[([0.0, 0.0, 0.0], "k_j = Σ_i x_i w_ij + b_j: sum over the inputs")])
    compare("h", cache["h"], [s2] * 3, hints=[([2.0] * 3, "h = σ(k): apply the sigmoid")])
    compare("o", cache["o"], [-s2, -s2])
    compare("y", cache["y"], [0.5, 0.5], hints=[([math.exp(-s2)] * 2, "softmax divides by the sum of the exponentials")])
    p = _random_params(1)
    got, want = forward(copy.deepcopy(p), [0.3, -1.2]), scalar.forward(p, [0.3, -1.2])
    for key in ("k", "h", "o", "y"):
        compare(f"{key} on random weights", got[key], want[key], hints=[
            ([sum(p["W"][i][j] * [0.3, -1.2][i] for i in range(2)) for j in range(3)],
             "the bias b_j is missing")] if key == "k" else [])
    return "the course's values (k = 2, h = σ(2), y = (½, ½)) and course_lib.scalar's on random weights, in plain Python"


def verify_loss(loss):
    _plain_python(loss, "loss")
    got = loss({"y": [0.5, 0.5]}, 0)
    compare("loss for y = (½, ½)", got, math.log(2), hints=[
        (-math.log(2), "the sign: l = -log y_target, which is ≥ 0"),
        (2 * math.log(2), "only the target's probability counts: l = -log y_t, not -Σ_i log y_i"
                          " (E-VU-1 in the course texts)")])
    y = [0.7, 0.2, 0.1]
    compare("loss for y = (0.7, 0.2, 0.1), target 1", loss({"y": y}, 1), -math.log(0.2), hints=[
        (-sum(math.log(v) for v in y), "only the target's probability counts: l = -log y_t, not -Σ_i log y_i"
                                       " (E-VU-1 in the course texts)"),
        (-math.log(0.7), "use the target class's probability, y[target]")])
    return "ln 2 on the course's example, -log y_t in general"


def _numeric_grads(p, x, t):
    out = {}
    for name, value in p.items():
        arr = np.array(value, dtype=float)

        def f(v, name=name):
            q = copy.deepcopy(p)
            q[name] = v.tolist()
            return scalar.loss(scalar.forward(q, x), t)
        out[name] = central_differences(f, arr)
    return out


def verify_backward(backward):
    _plain_python(backward, "backward")
    g = backward(copy.deepcopy(COURSE), scalar.forward(COURSE, X0), T0)
    missing = {"W", "b", "V", "c"} - set(g or {})
    if missing:
        raise Wrong(f"backward returned no {', '.join(sorted(missing))}",
                    "report all 17 derivatives: W (2×3), b (3), V (3×2) and c (2)")
    half = 0.5 / (1 + math.exp(-2))
    compare("dL/dV on the course's example", g["V"], [[-half, half]] * 3,
            hints=[([[half, -half]] * 3, "the sign: dL/do = y - onehot(t) = (-½, ½)")])
    compare("dL/dc on the course's example", g["c"], [-0.5, 0.5])
    compare("dL/dW on the course's example", g["W"], [[0.0] * 3] * 2)
    compare("dL/db on the course's example", g["b"], [0.0] * 3)
    p, x, t = _random_params(2), [0.8, -0.4], 1
    got, numeric = backward(copy.deepcopy(p), scalar.forward(p, x), t), _numeric_grads(p, x, t)
    cache = scalar.forward(p, x)
    dk_plain = [sum((cache["y"][m] - (m == t)) * p["V"][j][m] for m in range(2)) for j in range(3)]
    for name in ("V", "c", "W", "b"):
        hints = []
        if name in ("W", "b"):
            wrong = [[dk_plain[j] * x[i] for j in range(3)] for i in range(2)] if name == "W" else dk_plain
            hints = [(wrong, "the sigmoid's derivative h_j (1 - h_j) is missing from dL/dk")]
        compare(f"dL/d{name} on random weights", got[name], numeric[name], rtol=1e-5, atol=1e-8, hints=hints)
    return ("the course's values (dL/dV = ±0.4404, dL/dc = ∓½, dL/dW = dL/db = 0) and central differences"
            " of the loss on random weights: all 17 derivatives")


def verify_sgd_step(sgd_step):
    p, g = _random_params(3), _random_params(4)
    before = copy.deepcopy(p)
    result = sgd_step(p, copy.deepcopy(g), 0.1)
    if p == before:
        raise Wrong("sgd_step did not change params", "update the lists in place (params['W'][i][j] -= ...):"
                    " the caller keeps using the same params" + (" — returning a new dict is not enough"
                                                                  if result is not None else ""))
    want = {k: (np.array(before[k]) - 0.1 * np.array(g[k])).tolist() for k in before}
    for name in ("W", "b", "V", "c"):
        compare(f"params[{name!r}] after one step", p[name], want[name], hints=[
            ((np.array(before[name]) + 0.1 * np.array(g[name])).tolist(), "step against the gradient: p - lr·g"),
            (before[name], f"the step skipped {name}: update every parameter, biases included")])
    return "p <- p - lr·dL/dp for all 17 parameters, in place"


def verify_train(train):
    xs = np.random.default_rng(5).standard_normal((60, 2)).tolist()
    ys = [int(a * b > 0) for a, b in xs]
    mine, ref = _random_params(6), _random_params(6)
    losses = train(mine, xs, ys, 0.1, 3)
    h = scalar.train(ref, xs, ys, lr=0.1, epochs=3)
    if losses is None or len(losses) != 3:
        raise Wrong("train should return the mean training loss of each epoch (3 numbers for 3 epochs)",
                    "append sum(losses) / len(xs) at the end of every epoch and return the list")
    compare("the mean loss per epoch", losses, h.epoch_loss, rtol=1e-9, hints=[
        ([e * len(xs) for e in h.epoch_loss], "report the mean over the epoch, not the sum"),
        (_loss_after_step(xs, ys), "record each instance's loss from the forward pass the step used, before"
                                   " the step: afterwards the weights have changed")],
        otherwise="visit the instances in their stored order, once per epoch; for each: forward, loss,"
                  " backward, step")
    for name in ("W", "b", "V", "c"):
        compare(f"params[{name!r}] after training", mine[name], ref[name], rtol=1e-9)
    return "3 epochs of per-instance SGD, in order, give the same losses and weights as course_lib.scalar.train"


def _loss_after_step(xs, ys):
    params, out = _random_params(6), []
    for _ in range(3):
        total = 0.0
        for x, t in zip(xs, ys):
            scalar.sgd_step(params, scalar.backward(params, scalar.forward(params, x), t), 0.1)
            total += scalar.loss(scalar.forward(params, x), t)
        out.append(total / len(xs))
    return out


EXERCISES = [
    Exercise("2.1", ["VU-5"], "the forward pass", verify_forward, scalar.forward, "course_lib.scalar.forward"),
    Exercise("2.2", ["VU-5"], "the loss", verify_loss, scalar.loss, "course_lib.scalar.loss"),
    Exercise("2.3", ["VU-6", "NTNU2-1"], "the backward pass", verify_backward, scalar.backward,
             "course_lib.scalar.backward"),
    Exercise("2.4", ["VU-7"], "the SGD step", verify_sgd_step, scalar.sgd_step, "course_lib.scalar.sgd_step"),
    Exercise("2.5", ["VU-7"], "the training loop", verify_train,
             lambda params, xs, ys, lr, epochs: scalar.train(params, xs, ys, lr=lr, epochs=epochs).epoch_loss,
             "course_lib.scalar.train"),
]
