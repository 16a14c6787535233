"""Checks for notebook 01, local derivatives.

Each derivative is checked against central differences of the function it
belongs to (course_lib's softmax and activations, or the loss written out here),
at random points, plus the course's example values where it gives some.
"""
from __future__ import annotations

import numpy as np

import course_lib as cl

from .core import Exercise, Wrong, central_differences, compare

_rng = np.random.default_rng(2024)
LOGITS = _rng.standard_normal(5)
PROBS = _rng.uniform(0.05, 0.9, 5)
POINTS = np.concatenate([_rng.uniform(-4, 4, 40), [-0.5, 0.7, 2.5]])
POINTS = POINTS[np.abs(POINTS) > 1e-3]  # away from ReLU's kink


def _call(fn, *args):
    return fn(*(np.array(a, dtype=float) if isinstance(a, np.ndarray) else a for a in args))


# --- 1.1-1.4: softmax and cross-entropy ----------------------------------------------------

def verify_dl_dy(dl_dy):
    c = 2
    numeric = central_differences(lambda y: -np.log(y[c]), PROBS)
    compare("dl_dy(y, 2)", _call(dl_dy, PROBS, c), numeric, hints=[
        (-1 / PROBS, "only y_c appears in l = -log y_c: the derivative by every other y_i is 0"),
        (np.where(np.arange(5) == c, 1 / PROBS[c], 0), "the sign: -log y_c falls as y_c grows"),
        (np.where(np.arange(5) == c, -1.0, 0), "d(log y)/dy = 1/y: divide by y_c")])
    compare("dl_dy(y, 0) for the course's y = (0.5, 0.5)", _call(dl_dy, np.array([0.5, 0.5]), 0), [-2.0, 0.0])
    return "matches central differences of l = -log y_c, and gives (-2, 0) on the course's example"


def verify_softmax_jacobian(softmax_jacobian):
    y = cl.softmax(LOGITS)
    numeric = np.column_stack([(cl.softmax(LOGITS + 1e-6 * e) - cl.softmax(LOGITS - 1e-6 * e)) / 2e-6
                               for e in np.eye(5)])
    compare("softmax_jacobian(y)", _call(softmax_jacobian, y), numeric, hints=[
        (np.diag(y * (1 - y)), "every y_i depends on every o_j: off the diagonal, dy_i/do_j = -y_i y_j"),
        (np.outer(y, 1 - y), "on the diagonal it is y_i (1 - y_i); y_i (1 - y_j) everywhere is the slip of"
                             " one of the course's write-ups (E-VU-4)"),
        (-np.outer(y, y), "the diagonal is missing its y_i term: dy_i/do_i = y_i - y_i²")])
    return "matches central differences of course_lib's softmax (a 5×5 Jacobian at random logits)"


def _ce(o, c):
    return float(-cl.log_softmax(o)[c])


def verify_dl_do(dl_do):
    c = 1
    y, onehot = cl.softmax(LOGITS), np.eye(5)[c]
    numeric = central_differences(lambda o: _ce(o, c), LOGITS)
    compare("dl_do(o, 1)", _call(dl_do, LOGITS, c), numeric, hints=[
        (onehot - y, "the sign is flipped: it is y - onehot, positive for the wrong classes (E-VU-5 in the course"
                     " texts has the same slip)"),
        (np.where(np.arange(5) == c, y[c] - 1, 0), "l depends on every o_i through y_c: sum over all j in the"
                                                    " chain rule, not only the j = i term (E-VU-3)"),
        (y, "subtract the one-hot target: the true class gets y_c - 1")])
    return "matches central differences of the cross-entropy of softmax(o)"


def verify_stable_dl_do(dl_do):
    o = np.array([1000.0, 0.0, -1000.0])
    got = _call(dl_do, o, 2)
    if not np.all(np.isfinite(np.asarray(got, dtype=float))):
        raise Wrong("dl_do(o, 2) is not finite for the confident logits o = (1000, 0, -1000)",
                    "softmax(o)_2 underflows to 0, so -1/y_c is -inf and inf · 0 is NaN: compute y - onehot,"
                    " with softmax written through the shifted logits o - max(o)")
    compare("dl_do((1000, 0, -1000), 2)", got, [1.0, 0.0, -1.0], atol=1e-12)
    verify_dl_do(dl_do)
    return "finite and right even for logits of ±1000: (1, 0, -1)"


# --- 1.5-1.9: activations ------------------------------------------------------------

def _derivative(name, fn, f, hints, extra=()):
    numeric = (f(POINTS + 1e-6) - f(POINTS - 1e-6)) / 2e-6
    compare(f"{name}(x)", _call(fn, POINTS), numeric, hints=[(h(POINTS), text) for h, text in hints])
    for x, want in extra:
        compare(f"{name}({x})", _call(fn, np.array(x)), want)
    return f"matches central differences at {len(POINTS)} points"


def verify_sigmoid_grad(fn):
    s = cl.sigmoid
    return _derivative("sigmoid_grad", fn, s, [
        (s, "that is σ(x) itself: its derivative is σ(x)(1 - σ(x))"),
        (lambda x: x * (1 - x), "apply the formula to σ(x), not to x: s = σ(x), then s(1 - s)"),
        (lambda x: np.exp(-x) / (1 + np.exp(-x)), "the chain rule gives e^(-x) / (1 + e^(-x))²: the square is missing")],
        extra=[(0.0, 0.25)])


def verify_tanh_grad(fn):
    return _derivative("tanh_grad", fn, np.tanh, [
        (lambda x: 1 - x ** 2, "apply the formula to tanh(x), not to x: 1 - tanh²(x)"),
        (lambda x: 1 / np.cosh(x), "1/cosh²(x): the square is missing"),
        (lambda x: 1 + np.tanh(x) ** 2, "the sign: the quotient rule gives (cosh² - sinh²)/cosh² = 1 - tanh²")],
        extra=[(0.0, 1.0)])


def verify_relu_grad(fn):
    msg = _derivative("relu_grad", fn, cl.relu, [
        (cl.relu, "that is ReLU itself: its slope is 1 for x > 0 and 0 for x < 0"),
        (lambda x: (x < 0).astype(float), "the other way round: ReLU is flat (slope 0) for x < 0"),
        (np.sign, "for x < 0 ReLU is flat: its slope is 0, not -1")])
    at0 = float(np.asarray(_call(fn, np.array([0.0])), dtype=float).reshape(-1)[0])
    if not 0.0 <= at0 <= 1.0:
        raise Wrong(f"relu_grad(0) = {at0}", "at 0 any value between the one-sided slopes 0 and 1 is a valid choice")
    return msg + f"; at the kink you chose {at0:g}, a valid subgradient"


def verify_improved_sigmoid_grad(fn):
    a, b = 1.7159, 2 / 3
    f = lambda x: a * np.tanh(b * x)  # noqa: E731
    return _derivative("improved_sigmoid_grad", fn, f, [
        (lambda x: a * (1 - np.tanh(b * x) ** 2), "the chain rule: the inner function 2x/3 contributes a factor 2/3"),
        (lambda x: b * (1 - np.tanh(b * x) ** 2), "the factor 1.7159 in front of tanh stays in the derivative"),
        (lambda x: a * b * (1 - np.tanh(x) ** 2), "tanh's argument is 2x/3: 1 - tanh²(2x/3)")],
        extra=[(0.0, a * b)])


def verify_diff_act_fun(fn):
    checks = {"sigmoid": cl.sigmoid_grad, "tanh": cl.tanh_grad, "relu": cl.relu_grad}
    for kind, grad in checks.items():
        compare(f"diff_act_fun(z, {kind!r})", _call(fn, POINTS, kind), grad(POINTS),
                hints=[(g(POINTS), f"for {kind!r} it returns the derivative of {other}")
                       for other, g in checks.items() if other != kind]
                + [(cl.ACTIVATIONS[kind][0](POINTS), f"for {kind!r} it returns the activation itself, not its slope")])
    try:
        result = fn(POINTS, "swish")
    except ValueError:
        return "the derivative of each of the three types, and a ValueError for an unknown one"
    raise Wrong(f"diff_act_fun(z, 'swish') returned {type(result).__name__} instead of raising ValueError",
                "an unknown type should fail loudly: raise ValueError(f'unknown activation {type!r}')")


# --- 1.10-1.12: regression gradients and L2 -------------------------------------------------

X5 = _rng.standard_normal(5)
W54 = _rng.standard_normal((5, 4)) * 0.5
Y4 = np.eye(4)[2]


def _bce(w, x, y):
    p = cl.sigmoid(w @ x)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)))


def verify_logistic_gradient(fn):
    w = _rng.standard_normal(5) * 0.5
    for y in (1, 0):
        p = cl.sigmoid(w @ X5)
        compare(f"logistic_gradient(w, x, {y})", _call(fn, w, X5, y),
                central_differences(lambda v: _bce(v, X5, y), w), hints=[
                    ((y - p) * X5, "the sign: ∂C/∂w_i = -(y - ŷ) x_i"),
                    ((p - y) * p * (1 - p) * X5, "∂C/∂ŷ has ŷ(1 - ŷ) in its denominator, which cancels the sigmoid's"
                                                 " derivative: no ŷ(1 - ŷ) factor remains"),
                    (np.full(5, p - y), "∂z/∂w_i = x_i: multiply by x")])
    return "matches central differences of the binary cross-entropy, for y = 1 and y = 0"


def _softmax_ce(W, x, y):
    return float(-np.sum(y * cl.log_softmax(x @ W)))


def verify_softmax_regression_gradient(fn):
    yhat = cl.softmax(X5 @ W54)
    compare("softmax_regression_gradient(W, x, y)", _call(fn, W54, X5, Y4),
            central_differences(lambda W: _softmax_ce(W, X5, Y4), W54), hints=[
                (np.outer(X5, Y4 - yhat), "the sign: ∂C/∂w_jk = -x_j (y_k - ŷ_k)"),
                (np.outer(X5, X5 @ W54 - Y4), "ŷ is the softmax of the scores, not the scores x·W themselves"),
                (np.outer(X5, yhat), "subtract the one-hot target y")])
    return "matches central differences of the softmax cross-entropy; W is (inputs, classes) = (5, 4)"


def verify_l2_gradient(fn):
    lam = 0.3
    yhat = cl.softmax(X5 @ W54)
    plain = np.outer(X5, yhat - Y4)
    compare("l2_regularised_gradient(W, x, y, 0.3)", _call(fn, W54, X5, Y4, lam),
            central_differences(lambda W: _softmax_ce(W, X5, Y4) + lam / 2 * np.sum(W ** 2), W54), hints=[
                (plain + 2 * lam * W54, "2λW is the gradient of λ‖W‖²; the penalty here is (λ/2)‖W‖², whose"
                                        " gradient is λW (the course texts differ on the ½: E-N1-4)"),
                (plain - lam * W54, "the penalty adds λW: it pulls each weight towards 0"),
                (plain + lam, "the penalty's gradient is λ times the weight itself, λW"),
                (plain, "the penalty's gradient λW is missing")])
    return "matches central differences of the cross-entropy plus (λ/2)‖W‖²"


def _dl_dy(y, c):
    return np.where(np.arange(len(y)) == c, -1.0 / y[c], 0.0)


def _diff_act_fun(z, kind):
    if kind not in ("sigmoid", "tanh", "relu"):
        raise ValueError(f"unknown activation {kind!r}; choose tanh, sigmoid or relu")
    return cl.ACTIVATIONS[kind][1](z)


def _softmax_regression_gradient(W, x, y):
    return np.outer(x, cl.softmax(x @ W) - y)


EXERCISES = [
    Exercise("1.1", ["VU-1"], "dl/dy of the cross-entropy", verify_dl_dy, _dl_dy, "the library's formula"),
    Exercise("1.2", ["VU-2"], "the softmax Jacobian", verify_softmax_jacobian,
             cl.softmax_jacobian, "course_lib's softmax_jacobian"),
    Exercise("1.3", ["VU-3"], "dl/do by the chain rule", verify_dl_do,
             lambda o, c: cl.softmax_cross_entropy(o, c)[1], "course_lib's softmax_cross_entropy"),
    Exercise("1.4", ["VU-4"], "the combined form, for any logits", verify_stable_dl_do,
             lambda o, c: cl.softmax_cross_entropy(o, c)[1], "course_lib's softmax_cross_entropy"),
    Exercise("1.5", ["RICE-3"], "the sigmoid's derivative", verify_sigmoid_grad, cl.sigmoid_grad,
             "course_lib's sigmoid_grad"),
    Exercise("1.6", ["RICE-2"], "tanh's derivative", verify_tanh_grad, cl.tanh_grad, "course_lib's tanh_grad"),
    Exercise("1.7", ["RICE-4"], "ReLU's derivative", verify_relu_grad, cl.relu_grad, "course_lib's relu_grad"),
    Exercise("1.8", ["NTNU2-8"], "the improved sigmoid's derivative", verify_improved_sigmoid_grad,
             cl.improved_sigmoid_grad, "course_lib's improved_sigmoid_grad"),
    Exercise("1.9", ["RICE-5"], "diff_act_fun by type", verify_diff_act_fun, _diff_act_fun,
             "course_lib's derivatives"),
    Exercise("1.10", ["NTNU1-1"], "the logistic-regression gradient", verify_logistic_gradient,
             lambda w, x, y: (cl.sigmoid(w @ x) - y) * x, "the library's formula"),
    Exercise("1.11", ["NTNU1-2"], "the softmax-regression gradient", verify_softmax_regression_gradient,
             _softmax_regression_gradient, "the library's formula"),
    Exercise("1.12", ["NTNU1-12"], "the L2-regularised gradient", verify_l2_gradient,
             lambda W, x, y, lam: _softmax_regression_gradient(W, x, y) + lam * W, "the library's formula"),
]
