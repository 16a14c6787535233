"""Every exercise check says ✓ to the notebook's own solution and ✗, with a useful hint, to typical mistakes.

The solutions are taken from the committed notebooks (the solution edition), so
the code a student is shown after the fact is the code the checks accept.
"""
import ast
import copy
import functools
import math
from pathlib import Path

import nbformat
import numpy as np
import pytest

import course_lib as cl
from course_lib import scalar
from workbook_tools.checks import EXERCISES, FAILED, NOT_ATTEMPTED, PASSED
from workbook_tools.checks.core import Fallback

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = {"1": "01_derivatives.ipynb", "2": "02_scalar_backprop.ipynb", "3": "03_tensor_backprop.ipynb",
             "4": "04_batched_training.ipynb", "5": "05_analysis_experiments.ipynb", "6": "06_regularisation.ipynb", "7": "07_decision_boundaries.ipynb"}


def _only_definitions(source):
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    return bool(body) and all(isinstance(n, (ast.FunctionDef, ast.ClassDef)) for n in body)


def _solutions(notebook):
    """The notebook's solution cells, run in order: their functions by name."""
    namespace = {"np": np, "cl": cl, "math": math}
    nb = nbformat.read(ROOT / "notebooks" / notebook, as_version=4)
    for cell in nb.cells:
        helper = cell.cell_type == "code" and _only_definitions(cell.source)  # e.g. starter_params
        if helper or (cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")):
            exec(compile(cell.source, notebook, "exec"), namespace)
    return namespace


SOLUTIONS = {number: _solutions(name) for number, name in NOTEBOOKS.items()}


def solution(exercise, name):
    """The solution's function, or a tuple of them for an exercise that checks several."""
    found = SOLUTIONS[exercise.split(".")[0]]
    return tuple(found[n] for n in name) if isinstance(name, tuple) else found[name]


def verdict(exercise, answer):
    return EXERCISES[exercise].run(answer)


def assert_wrong(exercise, answer, *words):
    result = verdict(exercise, answer)
    assert result.status == FAILED, result.text()
    text = (result.message + " " + result.hint).lower()
    assert all(w.lower() in text for w in words), result.text()
    assert result.hint, f"no hint for a known mistake: {result.text()}"


ANSWERS = {"1.1": "dl_dy", "1.2": "softmax_jacobian", "1.3": "dl_do", "1.4": "dl_do", "1.5": "sigmoid_grad",
           "1.6": "tanh_grad", "1.7": "relu_grad", "1.8": "improved_sigmoid_grad", "1.9": "diff_act_fun",
           "1.10": "logistic_gradient", "1.11": "softmax_regression_gradient", "1.12": "l2_regularised_gradient",
           "2.1": "forward", "2.2": "loss", "2.3": "backward", "2.4": "sgd_step", "2.5": "train",
           "3.1": "forward", "3.2": "backward", "3.3": "sgd_epoch",
           "4.1": "forward_batch", "4.2": "backward_batch", "4.3": "shape_table", "4.4": "tensor_mib",
           "4.5": "train_by_hand", "5.1": "TrainingSetProbe", "5.3": "mean_and_spread",
           "6.1": "pre_process_images", "6.2": ("logistic_forward", "logistic_backward", "binary_cross_entropy"),
           "6.3": "batch_loader", "6.4": "binary_accuracy", "6.5": "train",
           "6.8": ("one_hot_encode", "softmax_forward", "softmax_backward", "cross_entropy"),
           "6.10": "l2_backward", "6.13": "pixel_mean_std", "6.14": "improved_weights", "6.15": "momentum_step",
           "7.2": "feedforward", "7.3": "calculate_loss", "7.4": "backprop", "7.5": "fit_model", "7.7": "DeepNetwork"}


@pytest.mark.parametrize("exercise", sorted(ANSWERS, key=lambda e: tuple(map(int, e.split(".")))))
def test_the_notebook_solution_passes(exercise):
    result = verdict(exercise, solution(exercise, ANSWERS[exercise]))
    assert result.status == PASSED, result.text()
    assert result.text().startswith(f"✓ Exercise {exercise}")


def test_every_exercise_with_code_is_tested_here():
    # notebook 08's exercises are tested in test_checks_nb08.py
    assert set(ANSWERS) == {e for e in EXERCISES if e.split(".")[0] in NOTEBOOKS}


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_a_stub_is_not_attempted_yet_never_a_traceback(exercise):
    def stub(*args, **kwargs):
        raise NotImplementedError(f"Exercise {exercise}: write it")

    fallback = EXERCISES[exercise].fallback
    answer = tuple(stub for _ in fallback) if isinstance(fallback, tuple) else stub
    result = verdict(exercise, answer)
    assert result.status == NOT_ATTEMPTED and "not attempted yet" in result.text()


@pytest.mark.parametrize("exercise", sorted(e for e in EXERCISES if EXERCISES[e].fallback is not None))
def test_what_stands_in_for_an_unfinished_exercise_passes_its_check(exercise):
    fallback = EXERCISES[exercise].fallback
    assert EXERCISES[exercise].verify(fallback)


def test_a_fallback_is_not_counted_as_the_students_answer():
    ex = EXERCISES["1.3"]

    def stub(o, c):
        raise NotImplementedError

    result = ex.run(stub)
    assert result.status == NOT_ATTEMPTED
    stand_in = Fallback(ex.fallback, "1.3")
    np.testing.assert_allclose(stand_in(np.zeros(3), 0), [-2 / 3, 1 / 3, 1 / 3])
    later = EXERCISES["1.4"].run(stand_in)
    assert later.status == NOT_ATTEMPTED and "exercise 1.3" in later.hint


def test_code_that_raises_is_reported_with_its_line():
    def broken(y, c):
        grad = np.zeros(len(y))
        return grad[c + 100]

    result = verdict("1.1", broken)
    assert result.status == FAILED and "IndexError" in result.message and "grad[c + 100]" in result.hint


# --- notebook 01 -------------------------------------------------------------------------

def test_1_1_mistakes():
    assert_wrong("1.1", lambda y, c: -1 / np.asarray(y), "other")
    assert_wrong("1.1", lambda y, c: np.where(np.arange(len(y)) == c, 1 / y[c], 0), "sign")
    assert_wrong("1.1", lambda y, c: np.where(np.arange(len(y)) == c, -1.0, 0), "1/y")
    assert_wrong("1.1", lambda y, c: None, "return")


def test_1_2_mistakes():
    assert_wrong("1.2", lambda y: np.diag(y * (1 - y)), "off the diagonal")
    assert_wrong("1.2", lambda y: np.outer(y, 1 - y), "E-VU-4")
    assert_wrong("1.2", lambda y: np.outer(y, y) - np.diag(y), "sign")
    assert_wrong("1.2", lambda y: -np.outer(y, y), "diagonal")


def test_1_3_and_1_4_mistakes():
    onehot = lambda o, c: np.eye(len(o))[c]  # noqa: E731
    assert_wrong("1.3", lambda o, c: onehot(o, c) - cl.softmax(o), "sign", "E-VU-5")
    assert_wrong("1.3", lambda o, c: np.where(np.arange(len(o)) == c, cl.softmax(o)[c] - 1, 0), "sum", "E-VU-3")
    assert_wrong("1.3", lambda o, c: cl.softmax(o), "one-hot")
    naive = lambda o, c: np.exp(o) / np.exp(o).sum() - onehot(o, c)  # noqa: E731
    assert verdict("1.3", naive).status == PASSED  # right for ordinary logits ...
    assert_wrong("1.4", naive, "NaN", "logits")     # ... but not for confident ones

    def two_pieces(o, c):
        y = np.exp(o - o.max()) / np.exp(o - o.max()).sum()
        return (np.diag(y) - np.outer(y, y)).T @ np.where(np.arange(len(y)) == c, -1 / y[c], 0)
    assert_wrong("1.4", two_pieces, "underflows")


def test_activation_derivative_mistakes():
    s = cl.sigmoid
    assert_wrong("1.5", s, "σ(x) itself")
    assert_wrong("1.5", lambda x: x * (1 - x), "not to x")
    assert_wrong("1.5", lambda x: np.exp(-x) / (1 + np.exp(-x)), "square")
    assert_wrong("1.5", lambda x: -s(x) * (1 - s(x)), "sign")
    assert_wrong("1.6", lambda x: 1 - x ** 2, "not to x")
    assert_wrong("1.6", lambda x: 1 / np.cosh(x), "square")
    assert_wrong("1.6", lambda x: 1 + np.tanh(x) ** 2, "sign")
    assert_wrong("1.7", cl.relu, "slope")
    assert_wrong("1.7", lambda x: (np.asarray(x) < 0).astype(float), "other way")
    assert_wrong("1.7", np.sign, "slope is 0")
    a, b = 1.7159, 2 / 3
    assert_wrong("1.8", lambda x: a * (1 - np.tanh(b * x) ** 2), "2/3")
    assert_wrong("1.8", lambda x: b * (1 - np.tanh(b * x) ** 2), "1.7159")
    assert_wrong("1.8", lambda x: a * b * (1 - np.tanh(x) ** 2), "2x/3")


def test_1_9_mistakes():
    right = {"tanh": cl.tanh_grad, "sigmoid": cl.sigmoid_grad, "relu": cl.relu_grad}
    swapped = {"tanh": cl.sigmoid_grad, "sigmoid": cl.tanh_grad, "relu": cl.relu_grad}
    assert_wrong("1.9", lambda z, kind: swapped[kind](z), "derivative of")
    assert_wrong("1.9", lambda z, kind: right.get(kind, lambda z: None)(z), "ValueError")
    assert_wrong("1.9", lambda z, kind: right[kind](z) if kind in right else 0 * z, "ValueError")
    assert_wrong("1.9", lambda z, kind: {"tanh": cl.tanh, "sigmoid": cl.sigmoid, "relu": cl.relu}[kind](z),
                 "activation itself")


def test_regression_gradient_mistakes():
    def yhat(w, x):
        return cl.sigmoid(w @ x)
    assert_wrong("1.10", lambda w, x, y: (y - yhat(w, x)) * x, "sign")
    assert_wrong("1.10", lambda w, x, y: (yhat(w, x) - y) * yhat(w, x) * (1 - yhat(w, x)) * x, "cancels")
    assert_wrong("1.10", lambda w, x, y: np.full(len(x), yhat(w, x) - y), "multiply by x")
    sm = lambda W, x: cl.softmax(x @ W)  # noqa: E731
    assert_wrong("1.11", lambda W, x, y: np.outer(sm(W, x) - y, x), "transposed")
    assert_wrong("1.11", lambda W, x, y: np.outer(x, y - sm(W, x)), "sign")
    assert_wrong("1.11", lambda W, x, y: np.outer(x, x @ W - y), "softmax of the scores")
    assert_wrong("1.11", lambda W, x, y: np.outer(x, sm(W, x)), "one-hot")
    g = lambda W, x, y: np.outer(x, sm(W, x) - y)  # noqa: E731
    assert_wrong("1.12", lambda W, x, y, lam: g(W, x, y) + 2 * lam * W, "E-N1-4")
    assert_wrong("1.12", lambda W, x, y, lam: g(W, x, y) - lam * W, "towards 0")
    assert_wrong("1.12", lambda W, x, y, lam: g(W, x, y) + lam, "λW")
    assert_wrong("1.12", lambda W, x, y, lam: g(W, x, y), "missing")


# --- notebook 02 ------------------------------------------------------------------------

def _forward_variant(no_bias=False, sigmoid_out=False, unnormalised=False):
    def forward(params, x):
        W, b, V, c = params["W"], params["b"], params["V"], params["c"]
        k = [(0 if no_bias else b[j]) + sum(W[i][j] * x[i] for i in range(len(W))) for j in range(len(b))]
        h = [1 / (1 + math.exp(-v)) for v in k]
        o = [c[m] + sum(V[j][m] * h[j] for j in range(len(b))) for m in range(len(c))]
        if sigmoid_out:
            o = [1 / (1 + math.exp(-v)) for v in o]
        e = [math.exp(v) for v in o]
        y = e if unnormalised else [v / sum(e) for v in e]
        return {"x": list(x), "k": k, "h": h, "o": o, "y": y}
    return forward


def test_2_1_mistakes():
    assert verdict("2.1", _forward_variant()).status == PASSED
    assert_wrong("2.1", _forward_variant(no_bias=True), "bias")
    assert_wrong("2.1", _forward_variant(unnormalised=True), "divides by the sum")
    assert_wrong("2.1", _forward_variant(sigmoid_out=True), "o ")
    assert_wrong("2.1", lambda params, x: {k: np.asarray(v) for k, v in scalar.forward(params, x).items()}
                 if np.ndim(x) else None, "numpy")
    assert_wrong("2.1", lambda params, x: [1.0, 2.0], "dict")


def test_2_2_mistakes():
    assert_wrong("2.2", lambda cache, t: math.log(cache["y"][t]), "sign")
    assert_wrong("2.2", lambda cache, t: -sum(math.log(v) for v in cache["y"]), "E-VU-1")
    assert_wrong("2.2", lambda cache, t: -math.log(cache["y"][0]), "y[target]")


def _backward_variant(sign=1, no_sigma=False, transposed_v=False, drop=None):
    def backward(params, cache, target):
        g = scalar.backward(params, cache, target)
        if sign < 0:
            g = {k: [[-v for v in row] for row in val] if isinstance(val[0], list) else [-v for v in val]
                 for k, val in g.items()}
        if no_sigma:
            x, h, y, V = cache["x"], cache["h"], cache["y"], params["V"]
            do = [y[m] - (m == target) for m in range(len(y))]
            dk = [sum(do[m] * V[j][m] for m in range(len(y))) for j in range(len(h))]
            g["W"] = [[dk[j] * x[i] for j in range(len(h))] for i in range(len(x))]
            g["b"] = dk
        if transposed_v:
            g["V"] = [list(col) for col in zip(*g["V"])]
        if drop:
            del g[drop]
        return g
    return backward


def test_2_3_mistakes():
    assert_wrong("2.3", _backward_variant(sign=-1), "sign")
    assert_wrong("2.3", _backward_variant(no_sigma=True), "h_j (1 - h_j)")
    assert_wrong("2.3", _backward_variant(transposed_v=True), "shape", "transposed")
    assert_wrong("2.3", _backward_variant(drop="b"), "17 derivatives")


def test_2_4_mistakes():
    def plus(params, grads, lr):
        scalar.sgd_step(params, {k: [[-v for v in r] for r in g] if isinstance(g[0], list) else [-v for v in g]
                                 for k, g in grads.items()}, lr)

    def weights_only(params, grads, lr):
        for name in ("W", "V"):
            for i, row in enumerate(params[name]):
                for j in range(len(row)):
                    row[j] -= lr * grads[name][i][j]

    def new_dict(params, grads, lr):
        new = copy.deepcopy(params)
        scalar.sgd_step(new, grads, lr)
        return new

    assert_wrong("2.4", plus, "against the gradient")
    assert_wrong("2.4", weights_only, "biases")
    assert_wrong("2.4", new_dict, "in place")


def test_2_5_mistakes():
    def summed(params, xs, ys, lr, epochs):
        return [e * len(xs) for e in scalar.train(params, xs, ys, lr=lr, epochs=epochs).epoch_loss]

    def loss_after_step(params, xs, ys, lr, epochs):
        out = []
        for _ in range(epochs):
            total = 0.0
            for x, t in zip(xs, ys):
                cache = scalar.forward(params, x)
                scalar.sgd_step(params, scalar.backward(params, cache, t), lr)
                total += scalar.loss(scalar.forward(params, x), t)
            out.append(total / len(xs))
        return out

    def shuffled(params, xs, ys, lr, epochs):
        rng = np.random.default_rng(0)
        idx = rng.integers(0, len(xs), len(xs))  # with replacement: E-VU-8c
        return scalar.train(params, [xs[i] for i in idx], [ys[i] for i in idx], lr=lr, epochs=epochs).epoch_loss

    assert_wrong("2.5", summed, "mean")
    assert_wrong("2.5", loss_after_step, "before the step")
    assert_wrong("2.5", shuffled, "stored order")
    assert_wrong("2.5", lambda params, xs, ys, lr, epochs: None, "mean training loss")


# --- notebook 03 ------------------------------------------------------------------------

def test_3_1_mistakes():
    def no_bias(p, x):
        h = cl.sigmoid(x @ p["W"])
        return {"x": x, "h": h, "y": cl.softmax(h @ p["V"] + p["c"])}

    def no_softmax(p, x):
        h = cl.sigmoid(x @ p["W"] + p["b"])
        return {"x": x, "h": h, "y": h @ p["V"] + p["c"]}

    def sigmoid_out(p, x):
        h = cl.sigmoid(x @ p["W"] + p["b"])
        return {"x": x, "h": h, "y": cl.softmax(cl.sigmoid(h @ p["V"] + p["c"]))}

    def wrong_order(p, x):
        h = cl.sigmoid(p["W"] @ x + p["b"])
        return {"x": x, "h": h, "y": cl.softmax(h @ p["V"] + p["c"])}

    assert_wrong("3.1", no_bias, "bias")
    assert_wrong("3.1", no_softmax, "softmax")
    assert_wrong("3.1", sigmoid_out, "no sigmoid")
    assert_wrong("3.1", wrong_order, "ValueError")


def _backward3(transpose=False, sign=1, no_sigma=False):
    def backward(p, cache, t):
        do = sign * (cache["y"] - np.eye(len(cache["y"]))[t])
        dh = p["V"] @ do
        dk = dh if no_sigma else dh * cache["h"] * (1 - cache["h"])
        dW = np.outer(dk, cache["x"]) if transpose else np.outer(cache["x"], dk)
        return {"W": dW, "b": dk, "V": np.outer(cache["h"], do), "c": do}
    return backward


def test_3_2_mistakes():
    assert verdict("3.2", _backward3()).status == PASSED
    assert_wrong("3.2", _backward3(transpose=True), "transposed")
    assert_wrong("3.2", _backward3(sign=-1), "sign")
    assert_wrong("3.2", _backward3(no_sigma=True), "h(1 - h)")


def test_3_3_mistakes():
    forward, backward = solution("3.1", "forward"), solution("3.2", "backward")

    def biases_frozen(p, X, y, lr):
        losses = []
        for x, t in zip(X, y):
            cache = forward(p, x)
            losses.append(-np.log(cache["y"][t]))
            g = backward(p, cache, t)
            p["W"] -= lr * g["W"]
            p["V"] -= lr * g["V"]
        return losses

    def update_while_backpropagating(p, X, y, lr):
        losses = []
        for x, t in zip(X, y):
            cache = forward(p, x)
            losses.append(-np.log(cache["y"][t]))
            do = cache["y"] - np.eye(len(cache["y"]))[t]
            p["V"] -= lr * np.outer(cache["h"], do)    # changes V before dh uses it
            p["c"] -= lr * do
            dk = (p["V"] @ do) * cache["h"] * (1 - cache["h"])
            p["W"] -= lr * np.outer(x, dk)
            p["b"] -= lr * dk
        return losses

    def copies(p, X, y, lr):
        q = {k: v.copy() for k, v in p.items()}
        return solution("3.3", "sgd_epoch")(q, X, y, lr)

    assert_wrong("3.3", biases_frozen, "biases")
    assert_wrong("3.3", update_while_backpropagating, "gradients first")
    assert_wrong("3.3", copies, "never changed")


# --- notebook 04 ------------------------------------------------------------------------

def test_4_1_mistakes():
    def per_column(p, X):
        H = cl.sigmoid(X @ p["W"] + p["b"])
        O = H @ p["V"] + p["c"]
        return {"X": X, "H": H, "Y": np.exp(O) / np.exp(O).sum(axis=0)}

    def no_bias(p, X):
        H = cl.sigmoid(X @ p["W"])
        return {"X": X, "H": H, "Y": cl.softmax(H @ p["V"] + p["c"])}

    def scores(p, X):
        H = cl.sigmoid(X @ p["W"] + p["b"])
        return {"X": X, "H": H, "Y": H @ p["V"] + p["c"]}

    assert_wrong("4.1", per_column, "each row")
    assert_wrong("4.1", no_bias, "bias")
    assert_wrong("4.1", scores, "softmax")


def _backward4(mean=True, axis=0, transpose=False):
    def backward_batch(p, cache, t):
        B = len(t)
        dO = cache["Y"] - np.eye(cache["Y"].shape[1])[t]
        if mean:
            dO = dO / B
        dK = (dO @ p["V"].T) * cache["H"] * (1 - cache["H"])
        dW = dK.T @ cache["X"] if transpose else cache["X"].T @ dK
        return {"W": dW, "b": dK.sum(axis=axis), "V": cache["H"].T @ dO, "c": dO.sum(axis=axis)}
    return backward_batch


def test_4_2_mistakes():
    assert verdict("4.2", _backward4()).status == PASSED
    assert_wrong("4.2", _backward4(mean=False), "mean over the batch")
    assert_wrong("4.2", _backward4(axis=1), "axis 0")
    assert_wrong("4.2", _backward4(transpose=True), "transposed")


def test_4_3_and_4_4_mistakes():
    table = solution("4.3", "shape_table")
    assert_wrong("4.3", lambda B: {**table(B), "dL/dW": (300, 784)}, "reversed")
    assert_wrong("4.3", lambda B: {**table(B), "dL/dW per instance": (784, 300)}, "per instance")
    assert_wrong("4.3", lambda B: {**table(B), "H": (300,)}, "batch dimension")
    assert_wrong("4.3", lambda B: {k: v for k, v in table(B).items() if k != "dL/db"}, "every row")
    assert_wrong("4.4", lambda B: B * 784 * 300 * 4 / 2**20, "8 bytes")
    assert_wrong("4.4", lambda B: B * 784 * 300 * 8 / 1e6, "2**20")
    assert_wrong("4.4", lambda B: 784 * 300 * 8 / 2**20, "each of the 32")


def test_4_5_mistakes():
    def fixed_order(net, X, y, lr, epochs, batch_size, rng):
        losses, order = [], rng.permutation(len(X))
        for _ in range(epochs):
            for s in range(0, len(X), batch_size):
                idx = order[s:s + batch_size]
                loss, d = cl.softmax_cross_entropy(net.forward(X[idx]), y[idx])
                net.backward(d)
                cl.SGD(lr).step(net.params, net.grads)
                losses.append(loss)
        return losses

    def drops_last_batch(net, X, y, lr, epochs, batch_size, rng):
        losses = []
        for _ in range(epochs):
            order = rng.permutation(len(X))
            for s in range(0, len(X) - batch_size + 1, batch_size):
                idx = order[s:s + batch_size]
                loss, d = cl.softmax_cross_entropy(net.forward(X[idx]), y[idx])
                net.backward(d)
                cl.SGD(lr).step(net.params, net.grads)
                losses.append(loss)
        return losses

    def uphill(net, X, y, lr, epochs, batch_size, rng):
        return solution("4.5", "train_by_hand")(net, X, y, -lr, epochs, batch_size, rng)

    assert_wrong("4.5", fixed_order, "new order every epoch")
    assert_wrong("4.5", drops_last_batch, "smaller")
    assert_wrong("4.5", uphill, "each epoch")


# --- notebook 05 ------------------------------------------------------------------------

def test_5_1_mistakes():
    Probe = solution("5.1", "TrainingSetProbe")

    class DuringTheEpoch(Probe):  # measures after every step: too many values
        on_step_end = Probe.on_epoch_end

        def on_epoch_end(self, loop):
            pass

    class Forgets(Probe):  # never stores anything
        def on_epoch_end(self, loop):
            cl.evaluate(loop.model, self.X, self.y)

    class SwappedPair(Probe):  # evaluate returns (loss, accuracy), not the other way round
        def on_epoch_end(self, loop):
            acc, loss = cl.evaluate(loop.model, self.X, self.y)
            self.loss.append(loss)
            self.acc.append(acc)

    assert_wrong("5.1", DuringTheEpoch, "3 values", "on_epoch_end")
    assert_wrong("5.1", Forgets, "3 values")
    assert_wrong("5.1", SwappedPair, "probe.loss")


def test_5_3_mistakes():
    assert_wrong("5.3", lambda c: (np.mean(c, axis=1), np.std(c, axis=1)), "axis 0")
    assert_wrong("5.3", lambda c: (np.mean(c, axis=0), np.std(c, axis=0, ddof=1)), "ddof=0")
    assert_wrong("5.3", lambda c: (np.mean(c, axis=0), np.var(c, axis=0)), "square root")
    assert_wrong("5.3", lambda c: np.mean(c, axis=0), "pair")


# --- notebook 06 ------------------------------------------------------------------------

def test_6_1_and_6_2_mistakes():
    assert_wrong("6.1", lambda X: np.hstack([X / 255, np.ones((len(X), 1))]), "[-1, 1]")
    assert_wrong("6.1", lambda X: np.hstack([np.ones((len(X), 1)), X / 127.5 - 1]), "last")
    assert_wrong("6.1", lambda X: X / 127.5 - 1, "bias")
    fwd, bwd, loss = solution("6.2", ("logistic_forward", "logistic_backward", "binary_cross_entropy"))
    assert_wrong("6.2", (lambda X, w: X @ w, bwd, loss), "sigmoid")
    assert_wrong("6.2", (fwd, lambda X, t, o, w: X.T @ (t - o) / len(X), loss), "sign")
    assert_wrong("6.2", (fwd, lambda X, t, o, w: -X.T @ (t - o), loss), "average")
    assert_wrong("6.2", (fwd, bwd, lambda t, o: len(t) * loss(t, o)), "mean over the batch")


def test_6_3_to_6_5_mistakes():
    def keeps_last(X, Y, batch_size, shuffle, rng):
        order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
        for s in range(0, len(X), batch_size):
            yield X[order[s:s + batch_size]], Y[order[s:s + batch_size]]

    def never_shuffles(X, Y, batch_size, shuffle, rng):
        for s in range(0, len(X) - batch_size + 1, batch_size):
            yield X[s:s + batch_size], Y[s:s + batch_size]

    def mixed_up(X, Y, batch_size, shuffle, rng):
        order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
        for s in range(0, len(X) - batch_size + 1, batch_size):
            yield X[s:s + batch_size], Y[order[s:s + batch_size]]

    assert_wrong("6.3", keeps_last, "drops the last")
    assert_wrong("6.3", never_shuffles, "stored order")
    assert_wrong("6.3", mixed_up, "belong together")
    assert_wrong("6.4", lambda t, o: float(np.mean((o > 0.5) == (t == 1))), "counts as class 1")
    assert_wrong("6.4", lambda t, o: int(np.sum((o >= 0.5) == (t == 1))), "fraction")
    assert_wrong("6.4", lambda t, o: float(np.mean((o < 0.5) == (t == 1))), "equal to the targets")

    from workbook_tools.checks import nb06

    # the reference loop has switches for these two mistakes
    by_accuracy = functools.partial(nb06._reference_train, by="acc")  # E-N1-3: early stopping on the accuracy
    last_weights = functools.partial(nb06._reference_train, keep_best=False)

    def every_epoch(w, X, Y, Xv, Yv, fns, **kw):
        w, h = nb06._reference_train(w, X, Y, Xv, Yv, fns, **kw)
        keep = [i for i, s in enumerate(h["val_step"]) if s % (len(X) // kw["batch_size"]) == 0]
        return w, {k: ([v[i] for i in keep] if k != "train_loss" else v) for k, v in h.items()}

    assert_wrong("6.5", by_accuracy, "E-N1-3")
    assert_wrong("6.5", every_epoch, "fifth of an epoch")
    assert_wrong("6.5", last_weights, "best check")


def test_6_8_to_6_15_mistakes():
    onehot, fwd, bwd, loss = solution("6.8", ("one_hot_encode", "softmax_forward", "softmax_backward", "cross_entropy"))
    assert_wrong("6.8", (onehot, lambda X, w: np.exp(X @ w) / np.exp(X @ w).sum(axis=0), bwd, loss), "axis=1")
    assert_wrong("6.8", (onehot, fwd, lambda X, t, o, w: X.T @ (t - o) / len(X), loss), "sign")
    assert_wrong("6.8", (onehot, fwd, bwd, lambda t, o: len(t) * loss(t, o)), "mean over the batch")
    assert_wrong("6.8", (lambda Y, k: np.eye(k)[np.asarray(Y).reshape(-1) - 1], fwd, bwd, loss), "a one in")
    assert_wrong("6.10", lambda X, t, o, w, lam: bwd(X, t, o, w) + 2 * lam * w, "E-N1-4")
    assert_wrong("6.10", lambda X, t, o, w, lam: bwd(X, t, o, w), "add the penalty")
    assert_wrong("6.10", lambda X, t, o, w, lam: bwd(X, t, o, w) - lam * w, "towards 0")
    images = lambda im: np.asarray(im, float)  # noqa: E731
    assert_wrong("6.13", lambda im: (images(im).mean(), images(im).std(ddof=1)), "ddof=0")
    assert_wrong("6.13", lambda im: (images(im).mean(axis=0).mean(), images(im).mean(axis=0).std()), "all pixels")
    assert_wrong("6.13", lambda im: (images(im).mean(), images(im).var()), "square root")
    assert_wrong("6.14", lambda n_in, n_out, rng: rng.standard_normal((n_in, n_out)) / n_in, "std is 1/√fan-in")
    assert_wrong("6.14", lambda n_in, n_out, rng: rng.uniform(-1, 1, (n_in, n_out)), "normal distribution")
    assert_wrong("6.14", lambda n_in, n_out, rng: rng.standard_normal((n_out, n_in)) / np.sqrt(n_in), "inputs, outputs")
    assert_wrong("6.14", lambda n_in, n_out, rng: rng.uniform(-1, 1, (n_in, n_out)) * np.sqrt(3 / n_in), "uniform")
    assert_wrong("6.15", lambda w, g, d, lr, gamma: (w + lr * (g + gamma * d), g + gamma * d), "against")
    assert_wrong("6.15", lambda w, g, d, lr, gamma: (w - lr * g, g + gamma * d), "Δw(t)")
    assert_wrong("6.15", lambda w, g, d, lr, gamma: (w - (g + gamma * d), g + gamma * d), "Δw(t)")


# --- notebook 07 ------------------------------------------------------------------------

def test_7_2_to_7_5_mistakes():
    from workbook_tools.checks import nb07

    def columns(X, params, act):
        c = nb07._forward(X, params, act)
        return {**c, "probs": np.exp(c["z2"]) / np.exp(c["z2"]).sum(axis=0)}

    def no_bias(X, params, act):
        return nb07._forward(X, {**params, "b1": 0 * params["b1"]}, act)

    assert_wrong("7.2", columns, "axis=1")
    assert_wrong("7.2", no_bias, "b1")
    assert_wrong("7.2", lambda X, params, act: nb07._forward(X, params, "tanh" if act != "tanh" else "relu"), "ACTIVATIONS")
    ref_loss = nb07._loss

    def no_penalty(X, y, params, act, lam):
        return ref_loss(X, y, params, act, 0.0)

    assert_wrong("7.3", no_penalty, "penalty")
    assert_wrong("7.3", lambda X, y, params, act, lam: ref_loss(X, y, params, act, lam) * len(y), "divided by")
    assert_wrong("7.3", lambda X, y, params, act, lam: ref_loss(X, y, params, act, 0) + lam / 2 * (
        np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2)), "inside the 1/N")

    def mean_grad(X, y, cache, params, act, lam):
        return tuple(g / len(y) for g in nb07._backprop(X, y, cache, params, act, lam))

    def no_reg(X, y, cache, params, act, lam):
        return nb07._backprop(X, y, cache, params, act, 0.0)

    def bias_reg(X, y, cache, params, act, lam):
        dW1, db1, dW2, db2 = nb07._backprop(X, y, cache, params, act, lam)
        return dW1, db1 + lam * params["b1"], dW2, db2 + lam * params["b2"]

    assert_wrong("7.4", mean_grad, "E-R-3")
    assert_wrong("7.4", no_reg, "penalty")
    assert_wrong("7.4", lambda X, y, c, p, a, lam: nb07._backprop(X, y, c, p, a, lam)[::-1], "shape")
    assert_wrong("7.4", lambda X, y, c, p, a, lam: nb07._backprop(X, y, c, p, a, lam)[:3], "dW1, db1")

    def other_seed(X, y, H, act, epsilon=0.01, num_passes=20000, lam=0.01, seed=0):
        return nb07._fit(X, y, H, act, epsilon, num_passes, lam, seed + 1)

    def loss_before_step(X, y, H, act, epsilon=0.01, num_passes=20000, lam=0.01, seed=0):
        params, losses = nb07.starter_params(H, seed), {}
        for i in range(num_passes):
            if i % 1000 == 0:
                losses[i] = nb07._loss(X, y, params, act, lam)
            grads = nb07._backprop(X, y, nb07._forward(X, params, act), params, act, lam)
            for name, g in zip(("W1", "b1", "W2", "b2"), grads):
                params[name] -= epsilon * g
        return params, losses

    assert_wrong("7.5", other_seed, "seed 0")
    assert_wrong("7.5", loss_before_step, "after the step")
    assert_wrong("7.5", lambda X, y, H, act, epsilon=0.01, num_passes=20000, lam=0.01, seed=0:
                 nb07._fit(X, y, H, act, epsilon * 2, num_passes, lam, seed), "differs")


def test_7_7_mistakes():
    Net = solution("7.7", "DeepNetwork")

    class NoPenaltyGradient(Net):
        def gradients(self, X, y):
            return [{"W": g["W"] - layer.lam * layer.W, "b": g["b"]} for g, layer in zip(super().gradients(X, y), self.layers)]

    class Summed(Net):
        def gradients(self, X, y):
            return [{k: v * len(y) for k, v in g.items()} for g in super().gradients(X, y)]

    class NoLoss:
        def __init__(self, *args):
            self.layers = []

    assert_wrong("7.7", NoPenaltyGradient, "λW")
    assert_wrong("7.7", Summed, "times what it should be")
    assert_wrong("7.7", NoLoss, "loss(X, y)")
