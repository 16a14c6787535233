"""Mini-batch training with validation, early stopping, history and callbacks."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .functions import check_labels
from .initializers import check_rng
from .layers import Linear
from .optim import SGD

#: How a run ended.
STOP_REASONS = ("completed", "early_stopping", "requested", "diverged", "interrupted")


@dataclass
class History:
    """What a training run recorded.

    ``loss``/``acc`` hold one value per optimisation step (the mini-batch's data
    loss, without the L2 penalty, so it compares with ``val_loss``);
    ``epoch_loss``/``epoch_acc`` the mean over each completed epoch; ``val_*``
    one value per validation, taken after step ``val_step``.
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
    stop_reason: str = "completed"
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
    """Hooks a training run calls; override the ones you need.

    Each receives the :class:`Trainer`, whose ``history``, ``step``, ``epoch``,
    ``total_steps`` and ``model`` are up to date, and whose ``stop()`` ends the
    run cleanly after the current step.
    """

    def on_train_begin(self, trainer): ...

    def on_step_end(self, trainer): ...

    def on_validation_end(self, trainer): ...

    def on_epoch_end(self, trainer): ...

    def on_train_end(self, trainer): ...


_EVENTS = ("on_train_begin", "on_step_end", "on_validation_end", "on_epoch_end", "on_train_end")


def _all_finite(X) -> bool:
    """Whether a float array holds no NaN or infinity, without a boolean copy of it.

    The sum of squares (one BLAS pass, on all cores) is finite unless some value
    is NaN or infinite, or the values are so large that the sum overflows; only
    then do we look again with min and max, which are exact but slower (np.isfinite(X).all()
    would allocate a 47 MB boolean array for MNIST).
    """
    flat = X.reshape(-1) if X.flags.c_contiguous else None
    if flat is not None and X.dtype in (np.float32, np.float64):
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow only sends us to the exact check
            if np.isfinite(np.dot(flat, flat)):
                return True
    return bool(np.isfinite(X.min()) and np.isfinite(X.max()))


def _check_data(name, data, model, num_classes):
    try:
        X, y = data
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (X, y)") from None
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} X must be (instances, features), got shape {X.shape}; flatten images first")
    n_in = next(l for l in model.layers if isinstance(l, Linear)).shape[0]
    if X.shape[1] != n_in:
        raise ValueError(f"{name} X has {X.shape[1]} features but the network's first layer takes {n_in}")
    y = check_labels(y, num_classes)
    if y.shape != (X.shape[0],):
        raise ValueError(f"{name} y must have shape ({X.shape[0]},) to match X, got {y.shape}")
    if X.dtype.kind == "f" and X.size and not _all_finite(X):
        raise ValueError(f"{name} X contains NaN or infinite values")
    # One conversion up front: mixing float64 data with float32 weights would
    # upcast (and copy) on every step.
    return X.astype(model.dtype, copy=False), y


class Trainer:
    """Train a :class:`~course_lib.network.Sequential` with mini-batch gradient descent.

    Parameters
    ----------
    model : Sequential
    optimizer : SGD or Momentum (default ``SGD(lr)``). Plain SGD is fused into the
        backward pass, which leaves the layers' ``grads`` unfilled; use
        ``SGD(lr, fused=False)`` for a callback that reads them.
    lr : learning rate, used when no optimizer is given
    epochs, batch_size : batch_size 1 trains on one instance vector at a time
    l2 : L2 strength; adds (l2/2)||W||^2 to the objective, weights only
    shuffle : reshuffle the training set every epoch (needs ``rng``)
    rng : numpy.random.Generator for the shuffling
    val_every : validate every this many steps (default: at the end of each epoch)
    patience : stop after this many validations without a lower validation loss
        (``None``: no early stopping). With patience set, the run always ends
        with the weights of its best validation, however it ends.
    callbacks : Callback objects
    dtype : cast model and data to this dtype (e.g. np.float32) before training
    """

    def __init__(self, model, *, optimizer=None, lr=0.01, epochs=1, batch_size=32, l2=0.0,
                 shuffle=True, rng=None, val_every=None, patience=None, callbacks=(), dtype=None):
        self.model = model
        self.optimizer = optimizer if optimizer is not None else SGD(lr)
        if int(epochs) < 1 or int(batch_size) < 1:
            raise ValueError(f"epochs and batch_size must be at least 1, got {epochs} and {batch_size}")
        if not (math.isfinite(l2) and l2 >= 0):
            raise ValueError(f"l2 must be a non-negative number, got {l2!r}")
        if shuffle:
            check_rng(rng)
        if patience is not None and int(patience) < 1:
            raise ValueError(f"patience must be at least 1 (or None), got {patience}")
        if val_every is not None and int(val_every) < 1:
            raise ValueError(f"val_every must be at least 1 step (or None), got {val_every}")
        self.epochs, self.batch_size, self.l2 = int(epochs), int(batch_size), float(l2)
        self.shuffle, self.rng = shuffle, rng
        self.val_every, self.patience = val_every, patience
        self.callbacks = list(callbacks)
        self.dtype = dtype
        self.history = History()
        self.step = self.epoch = self.total_steps = 0
        self._stop_reason = None

    def stop(self, reason: str = "requested", message: str = "") -> None:
        """Ask the run to end after the current step; the history is kept."""
        self._stop_reason = reason
        self.history.message = message

    @property
    def stopping(self) -> bool:
        return self._stop_reason is not None

    def _emit(self, event):
        for hook in self._hooks[event]:
            hook(self)

    def evaluate(self, X, y, chunk: int = 8192):
        """Mean data loss and accuracy of the model on ``(X, y)``; see :func:`evaluate`."""
        return evaluate(self.model, X, y, chunk)

    def fit(self, train, val=None) -> History:
        """Train on ``train = (X, y)``, validating on ``val = (X, y)`` if given."""
        model = self.model
        if self.dtype is not None:
            model.astype(self.dtype)
        num_classes = model.num_classes
        X, y = _check_data("train", train, model, num_classes)
        if val is not None:
            Xv, yv = _check_data("val", val, model, num_classes)
        elif self.patience is not None:
            raise ValueError("early stopping (patience) needs validation data: pass val=(X_val, y_val)")

        n, bs = len(X), self.batch_size
        per_instance = bs == 1
        steps_per_epoch = math.ceil(n / bs)
        self.total_steps = steps_per_epoch * self.epochs
        val_every = self.val_every or steps_per_epoch
        h = self.history = History(steps_per_epoch=steps_per_epoch)
        self._stop_reason = None
        self._hooks = {e: [getattr(c, e) for c in self.callbacks if hasattr(c, e)] for e in _EVENTS}
        best_loss, best_params, bad_checks = math.inf, None, 0
        l2, opt = self.l2, self.optimizer
        fused = getattr(opt, "fused", False)  # plain SGD: the step happens inside backward

        self._emit("on_train_begin")
        try:
            for self.epoch in range(self.epochs):
                order = self.rng.permutation(n) if self.shuffle else None
                ep_loss = ep_correct = 0.0
                ep_seen = 0
                for start in range(0, n, bs):
                    if per_instance:
                        i = order[start] if order is not None else start
                        xb, yb = X[i], y[i]
                    elif order is not None:
                        idx = order[start:start + bs]
                        xb, yb = X[idx], y[idx]
                    else:
                        xb, yb = X[start:start + bs], y[start:start + bs]
                    logits = model.forward(xb)
                    loss, dlogits = model.loss_fn(logits, yb)
                    if fused:
                        model.backward_sgd(dlogits, opt.lr, l2)
                    else:
                        model.backward(dlogits)
                        if l2:
                            model.add_l2_grad(l2)
                        opt.step(model)
                    step = len(h.loss) + 1
                    self.step = step
                    m = 1 if per_instance else len(yb)
                    correct = np.count_nonzero(model.classify(logits) == yb)
                    h.step.append(step)
                    h.loss.append(loss)
                    h.acc.append(correct / m)
                    ep_loss += loss * m
                    ep_correct += correct
                    ep_seen += m
                    if not math.isfinite(loss):
                        self.stop("diverged", f"the loss became {loss} at step {step}:"
                                  " the learning rate is probably too large")
                    if val is not None and step % val_every == 0 and not self.stopping:
                        vl, va = self.evaluate(Xv, yv)
                        h.val_step.append(step)
                        h.val_loss.append(vl)
                        h.val_acc.append(va)
                        if self.patience is not None:
                            if vl < best_loss:
                                best_loss, best_params, bad_checks = vl, model.get_params(), 0
                                h.best_step = step
                            else:
                                bad_checks += 1
                                if bad_checks >= self.patience:
                                    self.stop("early_stopping", f"validation loss has not improved for"
                                              f" {bad_checks} checks; restored step {h.best_step}")
                        self._emit("on_validation_end")
                    self._emit("on_step_end")
                    if self.stopping:
                        break
                if ep_seen == n:
                    h.epoch_loss.append(ep_loss / n)
                    h.epoch_acc.append(ep_correct / n)
                    self._emit("on_epoch_end")
                if self.stopping:
                    break
        except KeyboardInterrupt:
            self.stop("interrupted", "training was interrupted; the history so far is kept")
        h.stop_reason = self._stop_reason or "completed"
        if best_params is not None:
            model.set_params(best_params)
        self._emit("on_train_end")
        return h


def evaluate(model, X, y, chunk: int = 8192):
    """Mean data loss (no L2 penalty) and accuracy of ``model`` on ``(X, y)``.

    Works through ``X`` in chunks so that a large set never needs all its
    activations in memory at once.
    """
    X = np.asarray(X)
    if len(X) == 0:
        raise ValueError("cannot evaluate on an empty data set")
    total_loss = correct = 0.0
    for s in range(0, len(X), chunk):
        z = model.forward(X[s:s + chunk])
        loss, _ = model.loss_fn(z, y[s:s + chunk])
        total_loss += loss * len(z)
        correct += np.count_nonzero(model.classify(z) == y[s:s + chunk])
    return total_loss / len(X), correct / len(X)


def train(model, train_data, val_data=None, **options) -> History:
    """Shortcut for ``Trainer(model, **options).fit(train_data, val_data)``."""
    return Trainer(model, **options).fit(train_data, val_data)
