"""Checks for notebook 03, the network with vectors and matrices, one instance at a time.

Parameters are ``p = {"W": (inputs, hidden), "b": (hidden,), "V": (hidden, classes),
"c": (classes,)}``. The forward pass is compared with course_lib's layers (a
reference implementation) and the course's example; the backward pass with
central differences of the loss and the course's example; one epoch of SGD with
course_lib's trainer on the same images in the same order.
"""
from __future__ import annotations

import numpy as np

import course_lib as cl

from .core import Exercise, Wrong, central_differences, compare

COURSE = {"W": np.array([[1.0, 1, 1], [-1, -1, -1]]), "b": np.zeros(3),
          "V": np.array([[1.0, 1], [-1, -1], [-1, -1]]), "c": np.zeros(2)}


def random_params(seed, sizes=(6, 5, 3)):
    rng = np.random.default_rng(seed)
    n_in, n_hidden, n_out = sizes
    return {"W": rng.standard_normal((n_in, n_hidden)) / np.sqrt(n_in), "b": rng.standard_normal(n_hidden) * 0.1,
            "V": rng.standard_normal((n_hidden, n_out)) / np.sqrt(n_hidden), "c": rng.standard_normal(n_out) * 0.1}


def as_network(p):
    """The same weights as course_lib layers: the reference forward and backward."""
    return cl.Sequential([cl.Linear(p["W"].copy(), p["b"].copy()), cl.Sigmoid(),
                          cl.Linear(p["V"].copy(), p["c"].copy())])


def _copy(p):
    return {k: v.copy() for k, v in p.items()}


def loss_of(p, x, t):
    return float(-cl.log_softmax(cl.sigmoid(x @ p["W"] + p["b"]) @ p["V"] + p["c"])[t])


def verify_forward(forward):
    cache = forward(_copy(COURSE), np.array([1.0, -1.0]))
    if not isinstance(cache, dict) or not {"h", "y"} <= set(cache):
        raise Wrong("forward should return a dict with at least 'h' and 'y' (and 'x')",
                    "the backward pass needs the input, the hidden activations and the output")
    h0 = cl.sigmoid(np.array([1.0, -1.0]) @ COURSE["W"])
    compare("y on the course's example", cache["y"], [0.5, 0.5], hints=[
        (h0 @ COURSE["V"], "y is the softmax of the output scores o = hV + c"),
        (cl.softmax(cl.sigmoid(h0 @ COURSE["V"])), "no sigmoid on the output layer: y = softmax(hV + c)")])
    p, x = random_params(1), np.random.default_rng(2).standard_normal(6)
    got = forward(_copy(p), x)
    h = cl.sigmoid(x @ p["W"] + p["b"])
    compare("h on random weights", got["h"], h, hints=[
        (cl.sigmoid(x @ p["W"]), "the bias b is missing: k = xW + b")])
    compare("y on random weights", got["y"], cl.softmax(as_network(p).forward(x)), hints=[
        (h @ p["V"] + p["c"], "y is the softmax of the output scores o = hV + c"),
        (cl.softmax(cl.sigmoid(h @ p["V"] + p["c"])), "no sigmoid on the output layer: y = softmax(hV + c)")])
    return "the course's y = (½, ½) and course_lib's layers on random 6-5-3 weights"


def verify_backward(backward):
    x, t = np.array([1.0, -1.0]), 0
    g = backward(_copy(COURSE), _reference_cache(COURSE, x), t)
    missing = {"W", "b", "V", "c"} - set(g or {})
    if missing:
        raise Wrong(f"backward returned no {', '.join(sorted(missing))}", "return dL/dW, dL/db, dL/dV and dL/dc")
    half = 0.5 / (1 + np.exp(-2))
    compare("dL/dV on the course's example", g["V"], [[-half, half]] * 3)
    compare("dL/dW on the course's example", g["W"], np.zeros((2, 3)))
    p, x, t = random_params(3), np.random.default_rng(4).standard_normal(6), 2
    got = backward(_copy(p), _reference_cache(p, x), t)
    cache = _reference_cache(p, x)
    do = cache["y"] - np.eye(3)[t]
    dh = p["V"] @ do
    hints = {"V": [(np.outer(cache["h"], -do), "the sign: dL/do = y - onehot(t)")],
             "W": [(np.outer(x, dh), "the sigmoid's derivative h(1 - h) is missing from dL/dk")],
             "b": [(dh, "the sigmoid's derivative h(1 - h) is missing from dL/dk")]}
    for name in ("V", "c", "W", "b"):
        numeric = central_differences(lambda v, name=name: loss_of({**p, name: v}, x, t), p[name])
        compare(f"dL/d{name} on random weights", got[name], numeric, rtol=1e-5, atol=1e-8, hints=hints.get(name, ()))
    return "the course's dL/dV = ±0.4404 and dL/dW = 0, and central differences of the loss on random weights"


def _reference_cache(p, x):
    h = cl.sigmoid(x @ p["W"] + p["b"])
    o = h @ p["V"] + p["c"]
    return {"x": x, "k": x @ p["W"] + p["b"], "h": h, "o": o, "y": cl.softmax(o)}


def verify_sgd_epoch(sgd_epoch):
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((40, 6)), rng.integers(0, 3, 40)
    mine = random_params(6)
    losses = sgd_epoch(mine, X, y, 0.1)
    net = as_network(random_params(6))
    h = cl.train(net, (X, y), lr=0.1, epochs=1, batch_size=1, shuffle=False)
    if losses is None or len(losses) != len(X):
        raise Wrong("sgd_epoch should return the loss of every step (40 numbers for 40 images)",
                    "append each image's loss, computed in the forward pass before the step")
    compare("the losses of the 40 steps", losses, h.loss, rtol=1e-9, hints=[
        (_update_while_backpropagating(X, y), "compute all four gradients first, then update: dL/dh needs the"
                                              " V of the forward pass, not the V you just changed"),
        (_update_while_backpropagating(X, y, biases=False), "step every parameter, the biases b and c too")],
        otherwise="for each image in order: forward, record -log y_t, backward, then step every parameter")
    for name, ref in zip(("W", "b", "V", "c"), net.params.values()):
        compare(f"p[{name!r}] after the epoch", mine[name], ref, rtol=1e-9, atol=1e-12, hints=[
            (random_params(6)[name], f"{name} never changed: update it in place (p[{name!r}] -= lr * g[{name!r}])")])
    return "one epoch on 40 images gives the same losses and weights as course_lib's trainer with batch_size=1"


def _update_while_backpropagating(X, y, biases=True):
    """The losses of two typical mistakes: V updated before dL/dh uses it, or the biases never updated."""
    p, losses = random_params(6), []
    for x, t in zip(X, y):
        cache = _reference_cache(p, x)
        losses.append(-np.log(cache["y"][t]))
        do = cache["y"] - np.eye(len(cache["y"]))[t]
        if biases:
            p["V"] -= 0.1 * np.outer(cache["h"], do)
            p["c"] -= 0.1 * do
            dk = (p["V"] @ do) * cache["h"] * (1 - cache["h"])
        else:
            dk = (p["V"] @ do) * cache["h"] * (1 - cache["h"])
            p["V"] -= 0.1 * np.outer(cache["h"], do)
        p["W"] -= 0.1 * np.outer(x, dk)
        if biases:
            p["b"] -= 0.1 * dk
    return losses


def reference_backward(p, cache, t):
    net = as_network(p)
    net.forward_backward(cache["x"], t)
    g = net.grads
    return {"W": g["W1"], "b": g["b1"], "V": g["W2"], "c": g["b2"]}


def reference_sgd_epoch(p, X, y, lr):
    net = as_network(p)
    h = cl.train(net, (X, y), lr=lr, epochs=1, batch_size=1, shuffle=False)
    for name, value in zip(("W", "b", "V", "c"), net.params.values()):
        p[name][...] = value
    return h.loss


EXERCISES = [
    Exercise("3.1", ["VU-9"], "the forward pass with vectors", verify_forward, _reference_cache,
             "course_lib's layers"),
    Exercise("3.2", ["VU-9"], "the backward pass in six lines", verify_backward, reference_backward,
             "course_lib's layers"),
    Exercise("3.3", ["VU-10"], "SGD, one image at a time", verify_sgd_epoch, reference_sgd_epoch,
             "course_lib's trainer"),
]
