"""The training loop (notebook 04 writes it by hand; :class:`Trainer` is the same loop).

What every loop shares lives in :class:`Loop`: the history, the callbacks and
stopping. A loop stops after the current step when a callback calls ``stop()``,
when the loss diverges, or on Ctrl-C (the kernel's interrupt button); the model
and the history are then consistent, and the history says why it ended. The
plain-Python loop of notebook 02 (``course_lib.scalar``) is a Loop too.
"""
from __future__ import annotations

import contextlib
import math
import signal
import threading
from dataclasses import dataclass, field

import numpy as np

from .init import as_rng
from .layers import Linear, float_dtype
from .losses import check_labels
from .optim import SGD
from .validate import whole_number


@dataclass
class History:
    """What a run recorded.

    ``loss``/``acc``: one value per step (the batch's data loss, without the L2
    penalty, so that it compares with ``val_loss``); ``epoch_loss``/``epoch_acc``:
    the mean over each completed epoch; ``val_*``: one value per validation,
    taken after step ``val_step``.
    """

    steps_per_epoch: int = 0
    step: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    acc: list = field(default_factory=list)
    epoch_loss: list = field(default_factory=list)
    epoch_acc: list = field(default_factory=list)
    val_step: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    stop_reason: str = "completed"  # or early_stopping, requested, diverged, interrupted
    message: str = ""
    best_step: int | None = None

    @property
    def epochs_done(self) -> int:
        return len(self.epoch_loss)

    @property
    def best_epoch(self) -> float | None:
        """Where early stopping found the lowest validation loss, in (fractional) epochs."""
        return None if self.best_step is None else self.best_step / max(self.steps_per_epoch, 1)

    @property
    def val_epoch(self) -> np.ndarray:
        """Validation points in (fractional) epochs, for plotting against epochs."""
        return np.asarray(self.val_step, dtype=float) / max(self.steps_per_epoch, 1)

    def __repr__(self):
        last = f"loss {self.loss[-1]:.4f}" if self.loss else "no steps"
        val = f", val acc {self.val_acc[-1]:.4f}" if self.val_acc else ""
        return f"History({len(self.loss)} steps, {self.epochs_done} epochs, {last}{val}, {self.stop_reason})"


class Callback:
    """Hooks a loop calls; override the ones you need. Each receives the loop, whose
    ``model``, ``history``, ``step``, ``epoch``, ``epochs`` and ``total_steps`` are up to
    date and whose ``stop(reason, message)`` ends the run after the current step."""

    def on_train_begin(self, loop): ...

    def on_step_end(self, loop): ...

    def on_validation_end(self, loop): ...

    def on_epoch_end(self, loop): ...

    def on_train_end(self, loop): ...


HOOKS = [name for name in vars(Callback) if name.startswith("on_")]  # what a loop calls on every callback


def check_callback(callback):
    """``callback`` if it has every hook (a Callback subclass does): refused up front, not at its first call."""
    if isinstance(callback, type):  # its hooks exist, but unbound: the first call would fail
        raise TypeError(f"{callback.__name__} is a class: pass an instance, e.g. {callback.__name__}()")
    missing = [hook for hook in HOOKS if not callable(getattr(callback, hook, None))]
    if missing:
        raise TypeError(f"a callback must be a cl.Callback (or have its methods), got {callback!r}, which lacks"
                        f" {', '.join(missing)}; subclass cl.Callback and override the hooks you need")
    return callback


class Loop:
    """Counters, history, callbacks and stopping: what every training loop shares."""

    def __init__(self, model, epochs: int, callbacks=(), *, num_classes: int = 2):
        self.model, self.epochs, self.num_classes = model, whole_number("epochs", epochs), num_classes
        self.callbacks = [DivergenceCheck(), *map(check_callback, callbacks or ())]
        self.history, self.step, self.epoch, self.total_steps = History(), 0, 0, 0
        self.stop_reason = None
        self._epoch_sums = [0.0, 0, 0]  # loss * count, correct, count

    @property
    def stopping(self) -> bool:
        return self.stop_reason is not None

    def stop(self, reason: str = "requested", message: str = "") -> None:
        """End the run after the current step (the first reason given is kept)."""
        if self.stop_reason is None:
            self.stop_reason, self.history.message = reason, message

    def emit(self, event: str) -> None:
        for callback in self.callbacks:
            getattr(callback, event)(self)

    @contextlib.contextmanager
    def running(self, steps_per_epoch: int):
        """Start a run, turn Ctrl-C into a stop after the step, and always close the run."""
        self.history, self.step, self.stop_reason = History(steps_per_epoch=steps_per_epoch), 0, None
        self.total_steps = steps_per_epoch * self.epochs
        self._epoch_sums = [0.0, 0, 0]
        self.emit("on_train_begin")
        with _interrupts_stop(self):
            yield self
        self.history.stop_reason = self.stop_reason or "completed"
        self.emit("on_train_end")

    def record_step(self, loss: float, correct: int, count: int) -> None:
        """One step's data loss and number of correct predictions among ``count`` instances."""
        self.step += 1
        h = self.history
        h.step.append(self.step)
        h.loss.append(loss)
        h.acc.append(correct / count)
        sums = self._epoch_sums
        sums[0], sums[1], sums[2] = sums[0] + loss * count, sums[1] + correct, sums[2] + count

    def record_validation(self, loss: float, acc: float) -> None:
        h = self.history
        h.val_step.append(self.step)
        h.val_loss.append(loss)
        h.val_acc.append(acc)
        self.emit("on_validation_end")

    def end_epoch(self) -> None:
        total, correct, count = self._epoch_sums
        self.history.epoch_loss.append(total / count)
        self.history.epoch_acc.append(correct / count)
        self._epoch_sums = [0.0, 0, 0]
        self.emit("on_epoch_end")


class Trainer(Loop):
    """Mini-batch gradient descent for a :class:`~course_lib.network.Sequential` network.

    optimizer: ``SGD(lr)`` unless given (lr 0.01 by default; give one of the two, not
    both); l2: the λ of the penalty (λ/2)Σ‖W‖²; batch_size 1 trains on one instance
    vector at a time; shuffle: a new order every epoch, drawn from ``rng`` (a
    Generator or an int seed); val_every: validate every this many steps (default:
    once per epoch); callbacks: e.g. ``EarlyStopping(patience)`` or a live panel's;
    dtype: train in float32 or float64 (the model is cast once the data have passed
    their checks).
    """

    def __init__(self, model, optimizer=None, *, lr=None, epochs=1, batch_size=32, l2=0.0, shuffle=True,
                 rng=None, val_every=None, callbacks=(), dtype=None):
        super().__init__(model, epochs, callbacks, num_classes=model.num_classes)
        if optimizer is not None and lr is not None:  # the optimizer steps with its own rate: lr would be ignored
            raise ValueError(f"give optimizer or lr, not both: {optimizer!r} has its own learning rate;"
                             f" e.g. optimizer={type(optimizer).__name__}({lr!r})")
        if optimizer is not None and not callable(getattr(optimizer, "step", None)):
            raise TypeError(f"optimizer must have a step method (cl.SGD, cl.Momentum, cl.Adam, ...), got {optimizer!r};"
                            " for plain SGD at some rate pass lr=... instead")
        self.optimizer = optimizer if optimizer is not None else SGD(0.01 if lr is None else lr)
        if not (isinstance(l2, (int, float, np.number)) and math.isfinite(l2) and l2 >= 0):
            raise ValueError(f"l2 must be a non-negative number, got {l2!r}")
        self.batch_size, self.l2 = whole_number("batch_size", batch_size), float(l2)
        self.val_every = None if val_every is None else whole_number("val_every", val_every)
        self.rng = as_rng(rng) if shuffle else None  # shuffling needs a seed: runs must repeat
        self.dtype = float_dtype(dtype if dtype is not None else model.dtype)
        self.validating = False

    def fit(self, train, val=None) -> History:
        """Train on ``train = (X, y)``, validating on ``val = (X, y)`` if given."""
        X, y = check_data("train", train, self.model, self.dtype)
        val = None if val is None else check_data("val", val, self.model, self.dtype)
        self.model.astype(self.dtype)
        self.validating = val is not None
        steps_per_epoch = math.ceil(len(X) / self.batch_size)
        val_every = int(self.val_every or steps_per_epoch)
        self.model.train()  # dropout on while training; evaluate() switches it off for its passes
        with self.running(steps_per_epoch):
            for self.epoch in range(self.epochs):
                for xb, yb in batches(X, y, self.batch_size, self.rng):
                    self.train_step(xb, yb)
                    if val is not None and self.step % val_every == 0:
                        self.record_validation(*evaluate(self.model, *val))
                    self.emit("on_step_end")
                    if self.stopping:
                        break
                else:
                    self.end_epoch()
                if self.stopping:
                    break
        self.model.eval()  # a trained model predicts with every unit
        return self.history

    def train_step(self, xb, yb) -> None:
        """One step of gradient descent: forward, loss, backward, update."""
        model = self.model
        logits = model.forward(xb)
        loss, dlogits = model.loss_fn(logits, yb)
        model.backward(dlogits)
        if self.l2:
            model.add_l2_grad(self.l2)
        self.optimizer.step(model.params, model.grads)
        self.record_step(loss, np.count_nonzero(model.classify(logits) == yb), np.size(yb))


def train(model, train_data, val_data=None, **options) -> History:
    """``Trainer(model, **options).fit(train_data, val_data)``."""
    return Trainer(model, **options).fit(train_data, val_data)


@contextlib.contextmanager
def _interrupts_stop(loop):
    """In the main thread, the first Ctrl-C asks the loop to stop after its step; a second one interrupts."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only (a panel's run has its own Stop button)
        return

    def handler(signum, frame):
        if loop.stop_reason == "interrupted":
            raise KeyboardInterrupt
        loop.stop("interrupted", f"interrupted at step {loop.step}: the model and history so far are kept")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class DivergenceCheck(Callback):
    """Stops a run whose loss is no longer a number, or has grown by orders of magnitude.

    Every ``window`` steps it looks at the window's mean loss: 100 times that of
    guessing (ln k for k classes), or 100 times the best window's and above
    guessing, is divergence, and so is an accuracy that fell back towards chance
    while the loss rose above guessing. A short spike passes. Every loop has one.
    """

    def __init__(self, factor: float = 100.0):
        self.factor = factor

    def on_train_begin(self, loop):
        self.window = min(max(loop.history.steps_per_epoch // 10, 10), 200)
        self.best_loss, self.best_acc = math.inf, 0.0
        self.chance_loss, self.chance_acc = math.log(loop.num_classes), 1.0 / loop.num_classes

    def on_step_end(self, loop):
        h = loop.history
        if not math.isfinite(h.loss[-1]):
            return loop.stop("diverged", f"the loss became {h.loss[-1]} at step {loop.step};"
                                         " try a smaller learning rate")
        if loop.step % self.window:
            return None
        loss, acc = np.mean(h.loss[-self.window:]), np.mean(h.acc[-self.window:])
        chance = self.chance_acc
        if loss > self.factor * self.chance_loss:
            return loop.stop("diverged", f"the loss reached {loss:.3g} by step {loop.step}, {loss / self.chance_loss:.0f}"
                                         " times that of guessing; try a smaller learning rate")
        if loss > self.chance_loss and loss > self.factor * self.best_loss:
            return loop.stop("diverged", f"the loss grew from {self.best_loss:.3g} to {loss:.3g} by step"
                                         f" {loop.step}; try a smaller learning rate")
        if loss > self.chance_loss and self.best_acc > chance + 0.5 * (1 - chance) \
                and acc < chance + 0.25 * (self.best_acc - chance):
            return loop.stop("diverged", f"the accuracy collapsed from {self.best_acc:.3f} to {acc:.3f} by step"
                                         f" {loop.step}; try a smaller learning rate")
        self.best_loss, self.best_acc = min(self.best_loss, loss), max(self.best_acc, acc)
        return None


class EarlyStopping(Callback):
    """Stop when the validation loss has not improved for ``patience`` checks in a row,
    and put back the weights of the best check, however the run ends (notebook 06)."""

    def __init__(self, patience: int):
        # at least 1: a check counts as bad before it is compared, so 0 would behave like 1
        self.patience = whole_number("patience", patience)

    def on_train_begin(self, loop):
        if not getattr(loop, "validating", False):
            raise ValueError("early stopping needs validation data: pass val=(X_val, y_val)")
        self.best, self.best_params, self.bad_checks = math.inf, None, 0

    def on_validation_end(self, loop):
        loss = loop.history.val_loss[-1]
        if loss < self.best:
            self.best, self.bad_checks = loss, 0
            self.best_params, loop.history.best_step = loop.model.get_params(), loop.step
            return
        self.bad_checks += 1
        if self.bad_checks >= self.patience:
            loop.stop("early_stopping", f"validation loss has not improved for {self.bad_checks} checks;"
                                        f" restored the weights of step {loop.history.best_step}")

    def on_train_end(self, loop):
        if self.best_params is not None:
            loop.model.set_params(self.best_params)


def batches(X, y, batch_size: int, rng=None):
    """Mini-batches ``(X[idx], y[idx])`` in a new random order (with ``rng``) or in order.

    A batch size of 1 yields single instances, vectors ``(features,)``.
    """
    n, batch_size = len(X), whole_number("batch_size", batch_size)  # checked before rng draws anything
    order = as_rng(rng).permutation(n) if rng is not None else None
    for start in range(0, n, batch_size):
        if batch_size == 1:
            i = start if order is None else order[start]
            yield X[i], y[i]
        else:
            idx = slice(start, start + batch_size) if order is None else order[start:start + batch_size]
            yield X[idx], y[idx]


def evaluate(model, X, y, chunk: int | None = None):
    """Mean data loss (no L2 penalty) and accuracy of ``model`` on ``(X, y)``, a chunk at a time,
    in evaluation mode (no dropout)."""
    if len(X) == 0:
        raise ValueError("cannot evaluate on an empty data set")
    # images through a convolution need C·k² floats per pixel in im2col: smaller chunks
    chunk = chunk or (8192 if np.ndim(X) == 2 else 250)
    total = correct = 0.0
    with model.evaluating() if hasattr(model, "evaluating") else contextlib.nullcontext():
        for s in range(0, len(X), chunk):
            logits = model.forward(X[s:s + chunk])
            total += model.loss_fn(logits, y[s:s + chunk])[0] * len(logits)
            correct += np.count_nonzero(model.classify(logits) == y[s:s + chunk])
    return total / len(X), correct / len(X)


def check_data(name, data, model, dtype):
    """``(X, y)`` as the model computes with them: X ``(n, features)`` of ``dtype``, labels ``(n,)``."""
    try:
        X, y = data
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (X, y)") from None
    X = np.asarray(X)
    if X.dtype.kind not in "iuf":
        raise TypeError(f"{name} X must hold numbers, got dtype {X.dtype}; convert it with np.asarray(X, float)")
    if isinstance(model.layers[0], Linear):
        if X.ndim != 2:
            raise ValueError(f"{name} X must be (instances, features), got shape {X.shape}; flatten images first")
        n_in = model.layers[0].shape[0]
        if X.shape[1] != n_in:
            raise ValueError(f"{name} X has {X.shape[1]} features but the network's first layer takes {n_in}")
    elif X.ndim < 2:  # other first layers (a convolution) check the shape of what they get
        raise ValueError(f"{name} X must hold one instance per row (instances, ...), got shape {X.shape}")
    if len(X) == 0:  # an epoch of no steps would divide by zero
        raise ValueError(f"{name} data is empty: X has shape {X.shape}; pass at least one example")
    y = check_labels(y, model.num_classes)
    if y.shape != (len(X),):
        raise ValueError(f"{name} y must have shape ({len(X)},) to match X, got {y.shape}")
    with np.errstate(over="ignore"):
        X = X.astype(dtype, copy=False)  # once, up front: mixed dtypes would convert on every step
    # checked after the conversion: 1e39 is finite in float64 but inf in float32
    if X.size and not (np.isfinite(X.min()) and np.isfinite(X.max())):
        raise ValueError(f"{name} X contains NaN or infinite values as {np.dtype(dtype).name}"
                         " (values beyond about 3e38 do not fit float32)")
    return X, y
