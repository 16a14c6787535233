"""Checks for notebook 06, the NTNU course's regression models, training loop and tricks.

Each function is compared with what the course's text defines (the gradients
also with central differences); the training loop with a reference loop written
here from the course's rules (validation every fifth of an epoch, early stopping
on the validation loss after ``patience`` checks without improvement).
"""
from __future__ import annotations

import numpy as np

import course_lib as cl

from .core import Exercise, Wrong, central_differences, close, compare

_rng = np.random.default_rng(606)
RAW = _rng.integers(0, 256, (7, 784)).astype(np.uint8)
XB = np.hstack([_rng.uniform(-1, 1, (9, 6)), np.ones((9, 1))])       # 6 pixels + the bias input
T_BIN = _rng.integers(0, 2, (9, 1)).astype(float)
T_HOT = np.eye(4)[_rng.integers(0, 4, 9)]


def _pre_process(X):
    return np.hstack([X / 127.5 - 1, np.ones((len(X), 1))])


def verify_pre_process(pre_process_images):
    got = pre_process_images(RAW.copy())
    compare("pre_process_images(X)", got, _pre_process(RAW.astype(float)), hints=[
        (np.hstack([RAW / 255, np.ones((7, 1))]), "scale to [-1, 1]: x / 127.5 - 1, not to [0, 1]"),
        (np.hstack([np.ones((7, 1)), RAW / 127.5 - 1]), "the bias input 1 goes last, as the course's code expects"),
        (RAW / 127.5 - 1, "append the bias input: a column of ones, giving 785 columns")])
    return "[0, 255] -> [-1, 1] and a column of ones last: (N, 785)"


def _logistic(X, w):
    return cl.sigmoid(X @ w)


def _logistic_backward(X, targets, outputs, w=None):
    return -(X.T @ (targets - outputs)) / len(X)


def _bce(targets, outputs):
    return float(-np.mean(targets * np.log(outputs) + (1 - targets) * np.log(1 - outputs)))


def verify_logistic(functions):
    forward, backward, loss = functions
    w = _rng.standard_normal((7, 1)) * 0.5
    out = _logistic(XB, w)
    compare("logistic_forward(X, w)", forward(XB, w), out, hints=[(XB @ w, "apply the sigmoid: ŷ = σ(Xw)")])
    compare("binary_cross_entropy(targets, outputs)", loss(T_BIN, out), _bce(T_BIN, out), hints=[
        (_bce(T_BIN, out) * len(XB), "the course's loss is the mean over the batch, not the sum")])
    numeric = central_differences(lambda v: _bce(T_BIN, _logistic(XB, v)), w)
    compare("logistic_backward(X, targets, outputs, w)", backward(XB, T_BIN, out, w), numeric, rtol=1e-5, atol=1e-9, hints=[
        (-numeric, "the sign: dC/dw = -x (y - ŷ)"), (numeric * len(XB), "average over the batch: divide by N")])
    return "forward, the mean binary cross-entropy and its gradient (central differences), bias input included"


def _loader(X, Y, batch_size, shuffle, rng):
    idx = rng.permutation(len(X)) if shuffle else np.arange(len(X))
    for start in range(0, len(X) - batch_size + 1, batch_size):
        yield X[idx[start:start + batch_size]], Y[idx[start:start + batch_size]]


def verify_batch_loader(batch_loader):
    X, Y = np.arange(50).reshape(25, 2), np.arange(25)
    batches = list(batch_loader(X, Y, 4, False, np.random.default_rng(0)))
    if len(batches) != 6:
        raise Wrong(f"25 instances in batches of 4 gave {len(batches)} batches, expected 6",
                    "the course's loader drops the last, incomplete batch: 25 // 4 = 6 batches")
    compare("the labels of the batches, without shuffling", [b[1] for b in batches], np.arange(24).reshape(6, 4),
            otherwise="without shuffling, the batches come in the stored order")
    first = [b[1] for b in batch_loader(X, Y, 4, True, np.random.default_rng(0))]
    again = [b[1] for b in batch_loader(X, Y, 4, True, np.random.default_rng(0))]
    if close(first, np.arange(24).reshape(6, 4)):
        raise Wrong("with shuffle=True the batches still come in the stored order", "draw rng.permutation(len(X))")
    compare("the shuffled batches", first, [b[1] for b in _loader(X, Y, 4, True, np.random.default_rng(0))],
            otherwise="shuffle with one rng.permutation(len(X)) per call, then cut it into batches")
    if not close(first, again):
        raise Wrong("the same generator state gave different batches", "use only the rng you are given")
    for xb, yb in batches + list(batch_loader(X, Y, 4, True, np.random.default_rng(1))):
        if not np.array_equal(X[yb], xb):
            raise Wrong("a batch's inputs and labels do not belong together", "index X and Y with the same indices")
    return "batches of the requested size in stored or shuffled order, the last incomplete one dropped"


def verify_binary_accuracy(binary_accuracy):
    t = np.array([[1.0], [0.0], [1.0], [0.0], [1.0]])
    o = np.array([[0.9], [0.2], [0.4], [0.5], [0.51]])
    compare("binary_accuracy", binary_accuracy(t, o), 0.6, hints=[
        (0.8, "ŷ = 0.5 counts as class 1 (threshold ŷ >= 0.5)"), (3, "return the fraction, not the count")],
        otherwise="predict 1 where ŷ >= 0.5, 0 elsewhere, and count the predictions equal to the targets")
    return "the fraction of ŷ >= 0.5 agreeing with the targets"


def _reference_train(w, X, Y, Xv, Yv, fns, *, lr, batch_size, epochs, shuffle, rng, patience=None, by="loss",
                     keep_best=True):
    """The course's loop; ``by="acc"`` (stopping on the accuracy: one write-up's slip) and
    ``keep_best=False`` (returning the last weights) give the typical mistakes."""
    forward, backward, loss, accuracy = fns
    steps_per_epoch = len(X) // batch_size
    every = steps_per_epoch // 5
    history = {"train_loss": [], "val_step": [], "val_loss": [], "val_acc": []}
    best, best_w, bad, step = np.inf, w.copy(), 0, 0
    for _ in range(epochs):
        for xb, yb in _loader(X, Y, batch_size, shuffle, rng):
            out = forward(xb, w)
            history["train_loss"].append(loss(yb, out))
            w = w - lr * backward(xb, yb, out, w)
            step += 1
            if step % every == 0:
                vout = forward(Xv, w)
                vl = loss(Yv, vout)
                history["val_step"].append(step)
                history["val_loss"].append(vl)
                history["val_acc"].append(accuracy(Yv, vout))
                score = vl if by == "loss" else -history["val_acc"][-1]
                if score < best:
                    best, best_w, bad = score, w.copy(), 0
                else:
                    bad += 1
                    if patience is not None and bad >= patience:
                        return (best_w if keep_best else w), history
    return (best_w if patience is not None and keep_best else w), history


def _acc(t, o):
    return float(np.mean((o >= 0.5) == (t == 1)))


def verify_train(train):
    fns = (_logistic, _logistic_backward, _bce, _acc)
    X = np.hstack([_rng.standard_normal((60, 4)), np.ones((60, 1))])
    Y = (X[:, :1] + 0.5 * _rng.standard_normal((60, 1)) > 0).astype(float)
    Xv, Yv = X[:30] + 0.3, Y[:30]
    for patience in (None, 2):
        options = dict(lr=0.5, batch_size=8, epochs=6, shuffle=True, patience=patience)
        w, h = train(np.zeros((5, 1)), X, Y, Xv, Yv, fns, rng=np.random.default_rng(1), **options)
        w_ref, h_ref = _reference_train(np.zeros((5, 1)), X, Y, Xv, Yv, fns, rng=np.random.default_rng(1), **options)
        _compare_histories(h, h_ref, patience)
        compare(f"the returned weights (patience={patience})", w, w_ref, rtol=1e-12, hints=[
            (_reference_train(np.zeros((5, 1)), X, Y, Xv, Yv, fns, rng=np.random.default_rng(1), **options,
                              keep_best=False)[0],
             "early stopping returns the weights of the best check, not the last ones"),
            (_reference_train(np.zeros((5, 1)), X, Y, Xv, Yv, fns, rng=np.random.default_rng(1), **options,
                              by="acc")[0],
             "the best check is the one with the lowest validation *loss*, not the highest accuracy (E-N1-3)")]
            if patience else [])
    return "the same histories and weights as the course's rules, with and without early stopping"


def _compare_histories(h, h_ref, patience):
    if not isinstance(h, dict) or not {"train_loss", "val_step", "val_loss", "val_acc"} <= set(h):
        raise Wrong("train should return (w, history), history a dict with 'train_loss', 'val_step', 'val_loss'"
                    " and 'val_acc'", "")
    label = f" (patience={patience})"
    if list(h["val_step"]) != list(h_ref["val_step"]):
        every = h_ref["val_step"][0]
        raise Wrong(f"validation at steps {list(h['val_step'])[:6]}..., expected {h_ref['val_step'][:6]}...{label}",
                    f"validate every fifth of an epoch (every {every} steps here), counting steps from the start"
                    if patience is None or len(h["val_step"]) >= len(h_ref["val_step"]) else
                    "stop when the validation loss has not improved for `patience` checks in a row;"
                    " the course counts the loss, not the accuracy (one write-up's slip, E-N1-3)")
    compare("the training loss of every step" + label, h["train_loss"], h_ref["train_loss"], rtol=1e-12,
            otherwise="record the loss of the forward pass each step used, before the update")
    compare("the validation losses" + label, h["val_loss"], h_ref["val_loss"], rtol=1e-12)


def _one_hot(Y, num_classes):
    return np.eye(num_classes)[np.asarray(Y).reshape(-1)]


def _softmax_backward(X, targets, outputs, w=None):
    return -(X.T @ (targets - outputs)) / len(X)


def _ce(targets, outputs):
    return float(-np.mean(np.sum(targets * np.log(outputs), axis=1)))


def verify_softmax_regression(functions):
    one_hot_encode, forward, backward, loss = functions
    compare("one_hot_encode([3, 0], 10)", one_hot_encode(np.array([[3], [0]]), 10), _one_hot([3, 0], 10),
            otherwise="3 -> [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]: a one in the label's column")
    w = _rng.standard_normal((7, 4)) * 0.5
    out = cl.softmax(XB @ w)
    compare("softmax_forward(X, w)", forward(XB, w), out, hints=[
        (np.exp(XB @ w) / np.exp(XB @ w).sum(axis=0), "normalise each row (one image's scores), axis=1")])
    compare("cross_entropy(targets, outputs)", loss(T_HOT, out), _ce(T_HOT, out), hints=[
        (_ce(T_HOT, out) * len(XB), "the mean over the batch, not the sum")])
    numeric = central_differences(lambda v: _ce(T_HOT, cl.softmax(XB @ v)), w)
    compare("softmax_backward(X, targets, outputs, w)", backward(XB, T_HOT, out, w), numeric, rtol=1e-5, atol=1e-9, hints=[
        (-numeric, "the sign: dC/dw_jk = -x_j (y_k - ŷ_k)"), (numeric * len(XB), "average over the batch")])
    return "one-hot targets, the softmax, the mean cross-entropy and its gradient (central differences)"


def verify_l2_backward(l2_backward):
    w, lam = _rng.standard_normal((7, 4)) * 0.5, 0.3
    out = cl.softmax(XB @ w)
    numeric = central_differences(lambda v: _ce(T_HOT, cl.softmax(XB @ v)) + lam / 2 * np.sum(v ** 2), w)
    plain = _softmax_backward(XB, T_HOT, out)
    compare("l2_backward(X, targets, outputs, w, 0.3)", l2_backward(XB, T_HOT, out, w, lam), numeric,
            rtol=1e-5, atol=1e-9, hints=[
                (plain + 2 * lam * w, "with the penalty (λ/2)‖w‖² the gradient is λw; 2λw belongs to λ‖w‖² (E-N1-4)"),
                (plain, "add the penalty's gradient λw"), (plain - lam * w, "the penalty pulls weights towards 0: +λw")])
    return "the gradient of the cross-entropy plus (λ/2)‖w‖² (central differences)"


def verify_mean_std(pixel_mean_std):
    images = _rng.integers(0, 256, (30, 28, 28)).astype(np.uint8)
    got = pixel_mean_std(images)
    compare("pixel_mean_std(images)", got, [images.mean(), images.std()], hints=[
        ([images.mean(), images.std(ddof=1)], "the population standard deviation (ddof=0), as numpy's default"),
        ([images.mean(axis=0).mean(), images.mean(axis=0).std()], "one mean and one std over all pixels of all images"),
        ([images.mean(), images.var()], "the standard deviation is the square root of the variance")])
    return "one mean and one std over every pixel of every image"


def verify_improved_weights(improved_weights):
    W = np.asarray(improved_weights(400, 300, np.random.default_rng(0)))
    if W.shape != (400, 300):
        raise Wrong(f"improved_weights(400, 300, rng) has shape {W.shape}, expected (400, 300)",
                    "(inputs, outputs), as every weight matrix here")
    std = W.std()
    if abs(std - 1 / np.sqrt(400)) > 0.05 / np.sqrt(400):
        hint = ("the variance is 1/fan-in, so the std is 1/√fan-in" if abs(std - 1 / 400) < 0.01
                else "draw from a normal distribution with mean 0 and std 1/√fan-in (fan-in: the number of inputs)")
        raise Wrong(f"the weights' std is {std:.4f}, expected 1/√400 = {1 / np.sqrt(400):.4f}", hint)
    if abs(W.mean()) > 0.003:
        raise Wrong(f"the weights' mean is {W.mean():.4f}, expected 0", "centre the distribution on 0")
    if np.abs(W).max() <= 1 / np.sqrt(400) * 1.8:
        raise Wrong("the weights look uniform, not normal", "use rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)")
    return "normal, mean 0, std 1/√fan-in, shape (inputs, outputs)"


def verify_momentum(momentum_step):
    w, v = np.array([1.0, -2.0]), np.zeros(2)
    want_w, want_v = w.copy(), v.copy()
    for g in (np.array([0.5, 1.0]), np.array([0.5, -1.0]), np.array([0.2, 0.0])):
        w, v = momentum_step(w, g, v, 0.02, 0.9)
        want_v = g + 0.9 * want_v
        want_w = want_w - 0.02 * want_v
        compare("w after a momentum step", w, want_w, hints=[
            (want_w + 0.04 * want_v, "step against the accumulated gradient: w - α Δw")],
            otherwise="Δw(t) = dC/dw + γ Δw(t-1), then w <- w - α Δw(t)")
        compare("Δw after a momentum step", v, want_v)
    return "three steps of the course's rule Δw(t) = dC/dw + γΔw(t-1), w <- w - αΔw(t)"


EXERCISES = [
    Exercise("6.1", ["NTNU1-3"], "pre-processing", verify_pre_process, _pre_process, "the reference"),
    Exercise("6.2", ["NTNU1-3"], "logistic regression: forward, loss, backward", verify_logistic,
             (_logistic, _logistic_backward, _bce), "the reference functions"),
    Exercise("6.3", ["NTNU1-4", "NTNU1-7"], "the batch loader", verify_batch_loader, _loader, "the reference loader"),
    Exercise("6.4", ["NTNU1-5"], "binary accuracy", verify_binary_accuracy, _acc, "the reference"),
    Exercise("6.5", ["NTNU1-6"], "the training loop with early stopping", verify_train,
             lambda w, X, Y, Xv, Yv, fns, **kw: _reference_train(w, X, Y, Xv, Yv, fns, **kw), "the reference loop"),
    Exercise("6.8", ["NTNU1-8"], "softmax regression", verify_softmax_regression,
             (_one_hot, lambda X, w: cl.softmax(X @ w), _softmax_backward, _ce), "the reference functions"),
    Exercise("6.10", ["NTNU1-13"], "L2 in the backward pass", verify_l2_backward,
             lambda X, t, o, w, lam: _softmax_backward(X, t, o) + lam * w, "the reference"),
    Exercise("6.13", ["NTNU2-3"], "the pixel statistics", verify_mean_std,
             lambda images: (float(np.mean(images)), float(np.std(images))), "numpy's mean and std"),
    Exercise("6.14", ["NTNU2-7"], "the improved initialisation", verify_improved_weights,
             lambda n_in, n_out, rng: cl.init_weights("fan_in", n_in, n_out, rng), "course_lib's fan_in"),
    Exercise("6.15", ["NTNU2-9"], "momentum, the course's form", verify_momentum,
             lambda w, g, v, lr, mu: (w - lr * (g + mu * v), g + mu * v), "the reference"),
]
