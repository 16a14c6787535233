"""Checks for notebook 04, batched training.

The batched passes are compared with the mean of per-instance gradients (central
differences of the mean loss on a small network); the shape table with the
shapes numpy gives; the hand-written training loop with course_lib's trainer
from the same start and the same random order (a reference implementation).
"""
from __future__ import annotations

import numpy as np

import course_lib as cl

from .core import Exercise, Wrong, central_differences, compare
from .nb03 import random_params

_rng = np.random.default_rng(44)
X8 = _rng.standard_normal((8, 6))
T8 = _rng.integers(0, 3, 8)


def _reference_forward(p, X):
    H = cl.sigmoid(X @ p["W"] + p["b"])
    return {"X": X, "H": H, "Y": cl.softmax(H @ p["V"] + p["c"])}


def _mean_loss(p, X, t):
    Y = _reference_forward(p, X)["Y"]
    return float(-np.log(Y[np.arange(len(t)), t]).mean())


def verify_forward_batch(forward_batch):
    p = random_params(1)
    cache = forward_batch({k: v.copy() for k, v in p.items()}, X8)
    if not isinstance(cache, dict) or not {"H", "Y"} <= set(cache):
        raise Wrong("forward_batch should return a dict with at least 'X', 'H' and 'Y'",
                    "the backward pass needs the inputs, the hidden activations and the outputs")
    want = _reference_forward(p, X8)
    O = want["H"] @ p["V"] + p["c"]
    compare("H", cache["H"], want["H"], hints=[(cl.sigmoid(X8 @ p["W"]), "the bias b is missing: K = XW + b")])
    compare("Y", cache["Y"], want["Y"], hints=[
        (np.exp(O) / np.exp(O).sum(axis=0), "the softmax normalises each row (one instance's scores,"
                                            " axis=1), not each column"),
        (O, "Y is the row-wise softmax of O = HV + c")])
    return "H and Y for a batch of 8 agree with the per-instance forward pass, row by row"


def verify_backward_batch(backward_batch):
    p = random_params(2)
    cache = _reference_forward(p, X8)
    got = backward_batch({k: v.copy() for k, v in p.items()}, {k: v.copy() for k, v in cache.items()}, T8)
    missing = {"W", "b", "V", "c"} - set(got or {})
    if missing:
        raise Wrong(f"backward_batch returned no {', '.join(sorted(missing))}", "return dL/dW, dL/db, dL/dV and dL/dc")
    dO = cache["Y"] - np.eye(3)[T8]
    dK_sum = (dO @ p["V"].T) * cache["H"] * (1 - cache["H"])
    for name in ("V", "c", "W", "b"):
        numeric = central_differences(lambda v, name=name: _mean_loss({**p, name: v}, X8, T8), p[name])
        hints = [(numeric * len(T8), "the loss is the mean over the batch: divide dL/dO by B")]
        if name == "b":
            hints.append((dK_sum.sum(axis=1) / len(T8), "sum over the batch (axis 0), not over the units"))
        if name == "c":
            hints.append((dO.sum(axis=1) / len(T8), "sum over the batch (axis 0), not over the classes"))
        compare(f"dL/d{name}", got[name], numeric, rtol=1e-5, atol=1e-8, hints=hints)
    return "all four gradients of the mean loss over a batch of 8 match central differences"


def verify_shape_table(shape_table):
    for batch in (32, 64):
        table = shape_table(batch)
        if not isinstance(table, dict):
            raise Wrong("shape_table should return a dict: quantity name -> shape tuple", "")
        for name, want in _shapes(batch).items():
            if name not in table:
                raise Wrong(f"the table has no row {name!r}", f"fill in every row: {', '.join(_shapes(batch))}")
            got = tuple(table[name])
            if got != want:
                raise Wrong(f"{name} for a batch of {batch} has shape {want}, not {got}", _shape_hint(name, got, want))
    return "every shape of the forward and backward pass, for one batch of 32 and of 64"


def _shapes(B):
    return {"X": (B, 784), "K": (B, 300), "H": (B, 300), "O": (B, 10), "Y": (B, 10),
            "dL/dO": (B, 10), "dL/dH": (B, 300), "dL/dK": (B, 300),
            "dL/dV per instance": (B, 300, 10), "dL/dV": (300, 10),
            "dL/dc per instance": (B, 10), "dL/dc": (10,),
            "dL/dW per instance": (B, 784, 300), "dL/dW": (784, 300),
            "dL/db per instance": (B, 300), "dL/db": (300,)}


def _shape_hint(name, got, want):
    if tuple(reversed(got)) == want:
        return "the order of the axes is reversed"
    if "per instance" in name:
        return "per instance: one gradient the shape of the parameter for each of the B instances"
    if name.startswith("dL/d") and name[4:] in "VcWb":
        return "the parameter's gradient, summed (or averaged) over the batch, has the parameter's shape"
    return "activations gain a batch dimension in front: (B, units)"


def verify_tensor_mib(tensor_mib):
    want = 32 * 784 * 300 * 8 / 2**20
    compare("tensor_mib(32)", tensor_mib(32), want, rtol=1e-3, hints=[
        (32 * 784 * 300 * 4 / 2**20, "a float64 number takes 8 bytes, not 4"),
        (32 * 784 * 300 * 8 / 1e6, "a MiB is 2**20 bytes (1,048,576), not a million"),
        (784 * 300 * 8 / 2**20, "the per-instance tensor holds one 784×300 matrix for each of the 32 instances")])
    compare("tensor_mib(64)", tensor_mib(64), 2 * want, rtol=1e-3)
    return f"{want:.1f} MiB for a batch of 32, twice that for 64"


def verify_train_by_hand(train_by_hand):
    X, y = _rng.standard_normal((90, 6)), _rng.integers(0, 3, 90)
    mine, ref = cl.mlp([6, 5, 3], rng=3), cl.mlp([6, 5, 3], rng=3)
    losses = train_by_hand(mine, X, y, 0.3, 2, 16, np.random.default_rng(4))
    h = cl.train(ref, (X, y), lr=0.3, epochs=2, batch_size=16, rng=np.random.default_rng(4))
    if losses is None or len(losses) != len(h.loss):
        raise Wrong(f"train_by_hand should return the loss of every step ({len(h.loss)} for 2 epochs of 90"
                    f" instances in batches of 16), got {None if losses is None else len(losses)}",
                    "the last batch of an epoch is smaller (90 = 5·16 + 10): keep it")
    compare("the losses of the steps", losses, h.loss, rtol=1e-12, hints=[
        (_one_order(X, y), "draw a new order every epoch: rng.permutation(len(X)) inside the epoch loop")],
        otherwise="each epoch: a new order with rng.permutation(len(X)), then batches of that order;"
                  " for each batch forward, loss, backward, step")
    for name in ref.params:
        compare(f"net.params[{name!r}] after training", mine.params[name], ref.params[name], rtol=1e-12)
    return "2 epochs give the same losses and weights as cl.train from the same start and order, bit for bit"


def _one_order(X, y):
    net, rng, losses = cl.mlp([6, 5, 3], rng=3), np.random.default_rng(4), []
    order = rng.permutation(len(X))
    for _ in range(2):
        for s in range(0, len(X), 16):
            idx = order[s:s + 16]
            loss, d = cl.softmax_cross_entropy(net.forward(X[idx]), y[idx])
            net.backward(d)
            cl.SGD(0.3).step(net.params, net.grads)
            losses.append(loss)
    return losses


def _train_by_hand(net, X, y, lr, epochs, batch_size, rng):
    return cl.train(net, (X, y), lr=lr, epochs=epochs, batch_size=batch_size, rng=rng).loss


def _reference_backward(p, cache, t):
    dO = (cache["Y"] - np.eye(cache["Y"].shape[1])[t]) / len(t)
    dK = (dO @ p["V"].T) * cache["H"] * (1 - cache["H"])
    return {"W": cache["X"].T @ dK, "b": dK.sum(axis=0), "V": cache["H"].T @ dO, "c": dO.sum(axis=0)}


EXERCISES = [
    Exercise("4.1", ["VU-11"], "the batched forward pass", verify_forward_batch, _reference_forward,
             "course_lib's functions"),
    Exercise("4.2", ["VU-11", "NTNU2-2", "NTNU2-4"], "the batched backward pass", verify_backward_batch,
             _reference_backward, "the library's formulas"),
    Exercise("4.3", ["VU-12"], "the shape table", verify_shape_table, _shapes, "the table"),
    Exercise("4.4", ["VU-12"], "the memory of the outer products", verify_tensor_mib,
             lambda batch: batch * 784 * 300 * 8 / 2**20, "the formula"),
    Exercise("4.5", ["VU-13"], "the training loop by hand", verify_train_by_hand, _train_by_hand, "cl.train"),
]
