"""Checks for notebook 07, the Rice course's networks on the two moons.

The starter code's functions are compared with what they must compute on the
course's data: the forward pass and loss with a reference written here from the
starter's formulas, the backward pass with central differences of that loss
(times N: the starter steps along the gradient of the summed loss), training with
the starter's recipe step for step, and the layer classes with central differences.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

import course_lib as cl

from .core import Exercise, Wrong, central_differences, compare

X, Y = cl.data.course_moons()


def starter_params(hidden, seed=0):
    """The starter code's initialisation: randn(2, H)/√2 and randn(H, 2)/√H, biases 0 (a local RandomState)."""
    rs = np.random.RandomState(seed)
    return {"W1": rs.randn(2, hidden) / np.sqrt(2), "b1": np.zeros((1, hidden)),
            "W2": rs.randn(hidden, 2) / np.sqrt(hidden), "b2": np.zeros((1, 2))}


def _test_params(seed):
    """Starter weights with non-zero biases: mistakes with the biases must show."""
    params = starter_params(3, seed)
    rs = np.random.RandomState(seed + 100)
    params["b1"], params["b2"] = rs.randn(1, 3) * 0.5, rs.randn(1, 2) * 0.5
    return params


def _forward(X, params, act):
    z1 = X @ params["W1"] + params["b1"]
    a1 = cl.ACTIVATIONS[act][0](z1)
    z2 = a1 @ params["W2"] + params["b2"]
    return {"z1": z1, "a1": a1, "z2": z2, "probs": cl.softmax(z2)}


def _loss(X, y, params, act, lam=0.01):
    probs = _forward(X, params, act)["probs"]
    data = -np.log(probs[np.arange(len(y)), y]).sum()
    return float((data + lam / 2 * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))) / len(y))


def _backprop(X, y, cache, params, act, lam=0.01):
    delta3 = cache["probs"].copy()
    delta3[np.arange(len(y)), y] -= 1
    dW2, db2 = cache["a1"].T @ delta3 + lam * params["W2"], delta3.sum(axis=0, keepdims=True)
    delta2 = delta3 @ params["W2"].T * cl.ACTIVATIONS[act][1](cache["z1"])
    return X.T @ delta2 + lam * params["W1"], delta2.sum(axis=0, keepdims=True), dW2, db2


def _fit(X, y, hidden, act, epsilon=0.01, num_passes=20000, lam=0.01, seed=0):
    params, losses = starter_params(hidden, seed), {}
    for i in range(num_passes):
        grads = _backprop(X, y, _forward(X, params, act), params, act, lam)
        for name, g in zip(("W1", "b1", "W2", "b2"), grads):
            params[name] -= epsilon * g
        if i % 1000 == 0:
            losses[i] = _loss(X, y, params, act, lam)
    return params, losses


def verify_feedforward(feedforward):
    params = _test_params(1)
    for act in ("tanh", "sigmoid", "relu"):
        got, want = feedforward(X, params, act), _forward(X, params, act)
        compare(f"probs ({act})", got["probs"], want["probs"], hints=[
            (np.exp(want["z2"]) / np.exp(want["z2"]).sum(axis=0), "the softmax normalises each row (axis=1)"),
            (cl.softmax(cl.ACTIVATIONS[act][0](X @ params["W1"]) @ params["W2"] + params["b2"]),
             "the bias b1 is missing")],
            otherwise="z1 = X W1 + b1, a1 = f(z1) with f = cl.ACTIVATIONS[act][0], z2 = a1 W2 + b2, then the"
                      " softmax of each row")
    return "the probabilities of the 200 points for tanh, sigmoid and ReLU, 3 hidden units"


def verify_calculate_loss(calculate_loss):
    params = _test_params(2)
    want = _loss(X, Y, params, "tanh")
    data = -np.log(_forward(X, params, "tanh")["probs"][np.arange(200), Y]).sum()
    reg = 0.01 / 2 * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    compare("calculate_loss", calculate_loss(X, Y, params, "tanh", 0.01), want, hints=[
        (data / 200, "the starter's loss includes the penalty (λ/2)(‖W1‖² + ‖W2‖²), inside the 1/N"),
        (data + reg, "the starter's printed loss is divided by the number of points N"),
        (data / 200 + reg, "the penalty sits inside the 1/N too: (1/N)[Σ CE + (λ/2)Σ‖W‖²]")])
    return "the starter's loss (1/N)[Σ cross-entropy + (λ/2)(‖W1‖² + ‖W2‖²)] with λ = 0.01"


def verify_backprop(backprop):
    params = _test_params(3)
    for act in ("tanh", "sigmoid", "relu"):
        cache = _forward(X, params, act)
        got = backprop(X, Y, cache, {k: v.copy() for k, v in params.items()}, act, 0.01)
        if not isinstance(got, (tuple, list)) or len(got) != 4:
            raise Wrong("backprop should return (dW1, db1, dW2, db2)", "the starter's order: dW1, db1, dW2, db2")
        want = _backprop(X, Y, cache, params, act)
        for name, g, w in zip(("dW1", "db1", "dW2", "db2"), got, want):
            numeric = 200 * central_differences(lambda v, k=name[1:]: _loss(X, Y, {**params, k: v}, act), params[name[1:]])
            compare(f"{name} ({act})", g, numeric, rtol=1e-5, atol=1e-7, hints=[
                (w / 200, "the starter steps along the gradient of the *summed* loss: no 1/N here (E-R-3)"),
                (w - (0.01 * params[name[1:]] if name[1] == "W" else 0), "the gradient of the penalty λW is missing"),
                (w + (0.01 * params[name[1:]] if name[1] == "b" else 0), "the biases are not penalised")])
    return "dW1, db1, dW2, db2 of the summed loss plus λW match central differences, for all three activations"


def verify_fit_model(fit_model):
    params, losses = fit_model(X, Y, 3, "tanh", epsilon=0.01, num_passes=1500, lam=0.01, seed=0)
    want_params, want_losses = _fit(X, Y, 3, "tanh", num_passes=1500)
    compare("the printed losses (iterations 0 and 1000)", [losses.get(0), losses.get(1000)],
            [want_losses[0], want_losses[1000]], rtol=1e-9,
            otherwise="start from the starter's weights (seed 0), then 1500 full-batch steps W <- W - ε dW with"
                      " backprop's summed gradient; record calculate_loss after the step of iterations 0, 1000, ...")
    for name in want_params:
        compare(f"params[{name!r}] after 1500 passes", params[name], want_params[name], rtol=1e-9)
    return "1500 passes of the starter's recipe give its printed losses and weights exactly"


def _layer_network_check(build):
    rng = np.random.default_rng(7)
    Xs, ys = rng.standard_normal((6, 2)), rng.integers(0, 2, 6)
    net = build([2, 4, 3, 2], "tanh", 0.05, rng)
    loss_fn = getattr(net, "loss", None)
    if not (callable(loss_fn) and callable(getattr(net, "gradients", None))):
        raise Wrong("the network needs loss(X, y) and gradients(X, y)", "see the exercise's description")
    grads = net.gradients(Xs, ys)
    for i, layer in enumerate(net.layers):
        for name in ("W", "b"):
            p = getattr(layer, name)
            numeric = central_differences(lambda v, layer=layer, name=name: _swap(layer, name, v, net, Xs, ys), p)
            compare(f"layer {i + 1} d{name}", grads[i][name], numeric, rtol=1e-5, atol=1e-8, hints=[
                (numeric - 0.05 * p if name == "W" else numeric, "each layer's penalty (λ/2)‖W‖² adds λW to dW")])
    return "the gradients of a 2-4-3-2 tanh network with per-layer L2 match central differences"


class _DeepNetwork:
    """The reference for 7.7, one class: dense layers with ``activation``, then softmax; L2 ``lam`` on every W."""

    def __init__(self, sizes, activation, lam, rng):
        self.f, self.f_prime = cl.ACTIVATIONS[activation][:2]
        self.layers = [SimpleNamespace(W=rng.standard_normal((n_in, n_out)) / np.sqrt(n_in), b=np.zeros(n_out),
                                       lam=lam) for n_in, n_out in zip(sizes[:-1], sizes[1:])]

    def forward(self, X):
        """(N, sizes[0]) -> the class probabilities (N, sizes[-1]); keeps each layer's input and z."""
        self.inputs, self.zs = [], []
        for i, layer in enumerate(self.layers):
            self.inputs.append(X)
            self.zs.append(X @ layer.W + layer.b)
            X = cl.softmax(self.zs[-1]) if i == len(self.layers) - 1 else self.f(self.zs[-1])
        return X

    def loss(self, X, y):
        probs = self.forward(X)
        return (-np.log(probs[np.arange(len(y)), y]).mean()
                + sum(layer.lam / 2 * np.sum(layer.W ** 2) for layer in self.layers))

    def gradients(self, X, y):
        dz = self.forward(X)
        dz[np.arange(len(y)), y] -= 1
        dz /= len(y)
        grads = []
        for i in reversed(range(len(self.layers))):
            layer = self.layers[i]
            grads.append({"W": self.inputs[i].T @ dz + layer.lam * layer.W, "b": dz.sum(axis=0)})
            if i:
                dz = (dz @ layer.W.T) * self.f_prime(self.zs[i - 1])
        return grads[::-1]

    def predict(self, X):
        return self.forward(X).argmax(axis=1)


def _swap(layer, name, value, net, Xs, ys):
    old = getattr(layer, name).copy()
    getattr(layer, name)[...] = value
    try:
        return net.loss(Xs, ys)
    finally:
        getattr(layer, name)[...] = old


EXERCISES = [
    Exercise("7.2", ["RICE-6"], "feedforward", verify_feedforward, _forward, "the reference"),
    Exercise("7.3", ["RICE-6"], "calculate_loss", verify_calculate_loss, _loss, "the reference"),
    Exercise("7.4", ["RICE-7", "RICE-8"], "backprop", verify_backprop, _backprop, "the reference"),
    Exercise("7.5", ["RICE-9", "RICE-10", "RICE-11"], "fit_model, the starter's recipe", verify_fit_model, _fit,
             "the reference"),
    Exercise("7.7", ["RICE-14", "NTNU2-13"], "a network of any depth from layer classes", _layer_network_check,
             _DeepNetwork, "the reference network (one class, no layer classes)"),
]
