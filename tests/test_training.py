import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import course_lib as cl


def blobs(rng, n=400, classes=3):
    """Well separated Gaussian clusters in 2-D."""
    centres = np.array([[3.0 * np.cos(a), 3.0 * np.sin(a)] for a in np.linspace(0, 2 * np.pi, classes, endpoint=False)])
    y = rng.integers(0, classes, n)
    return centres[y] + 0.5 * rng.standard_normal((n, 2)), y


@pytest.fixture
def data():
    rng = np.random.default_rng(5)
    return blobs(rng), blobs(rng, 200)


def test_training_reduces_loss_and_separates_classes(data):
    train, val = data
    rng = np.random.default_rng(0)
    net = cl.mlp([2, 8, 3], rng=rng, activation="tanh")
    before = net.loss(*val)
    h = cl.train(net, train, val, lr=0.5, epochs=20, batch_size=16, rng=rng)
    assert h.stop_reason == "completed"
    assert net.loss(*val) < before / 5
    assert net.accuracy(*val) > 0.97
    steps = math.ceil(400 / 16)
    assert len(h.loss) == len(h.acc) == len(h.step) == 20 * steps
    assert h.epochs_done == 20 and len(h.val_loss) == 20
    assert h.val_step == [steps * (e + 1) for e in range(20)]
    assert h.epoch_loss[-1] < h.epoch_loss[0]
    assert h.val_loss[-1] == pytest.approx(net.loss(*val), rel=1e-12)
    assert cl.evaluate(net, *val, chunk=7) == pytest.approx((h.val_loss[-1], h.val_acc[-1]), rel=1e-12)
    assert h.val_acc[-1] == pytest.approx(net.accuracy(*val))


def test_per_instance_training_uses_vectors_and_matches_batch_of_one(data):
    train, _ = data
    a = cl.mlp([2, 4, 3], rng=np.random.default_rng(9))
    b = cl.mlp([2, 4, 3], rng=np.random.default_rng(9))
    cl.train(a, train, lr=0.1, epochs=1, batch_size=1, rng=np.random.default_rng(2))
    # the batched path with batches of one row, same order
    order = np.random.default_rng(2).permutation(len(train[0]))
    opt = cl.SGD(0.1)
    for i in order:
        b.forward_backward(train[0][i:i + 1], train[1][i:i + 1])
        opt.step(b.params, b.grads)
    for name in a.params:
        np.testing.assert_allclose(a.params[name], b.params[name], rtol=0, atol=1e-12)


def test_logistic_regression_with_sigmoid_output():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((300, 2))
    y = (X[:, 0] + 2 * X[:, 1] > 0).astype(int)
    net = cl.mlp([2, 1], rng=rng, output="sigmoid")
    h = cl.train(net, (X, y), lr=1.0, epochs=30, batch_size=30, rng=rng)
    assert net.accuracy(X, y) > 0.97 and h.loss[-1] < h.loss[0]


def test_no_shuffle_is_deterministic_without_rng(data):
    train, _ = data
    runs = []
    for _ in range(2):
        net = cl.mlp([2, 4, 3], rng=np.random.default_rng(0))
        runs.append(cl.train(net, train, lr=0.1, epochs=2, batch_size=32, shuffle=False).loss)
    assert runs[0] == runs[1]


def test_shuffling_is_reproducible_from_the_seed(data):
    train, _ = data
    def run(seed):
        net = cl.mlp([2, 4, 3], rng=np.random.default_rng(0))
        return cl.train(net, train, lr=0.1, epochs=2, batch_size=32, rng=np.random.default_rng(seed)).loss
    assert run(1) == run(1) and run(1) != run(2)


def test_early_stopping_restores_the_best_weights():
    rng = np.random.default_rng(0)
    # tiny noisy training set, large net, big steps: validation loss soon rises
    X = rng.standard_normal((20, 5))
    y = rng.integers(0, 2, 20)
    Xv, yv = rng.standard_normal((200, 5)), rng.integers(0, 2, 200)
    net = cl.mlp([5, 50, 2], rng=rng)
    snapshots = {}

    class Snap(cl.Callback):
        def on_validation_end(self, trainer):
            snapshots[trainer.step] = trainer.model.get_params()

    h = cl.train(net, (X, y), (Xv, yv), lr=0.5, epochs=500, batch_size=5, rng=rng,
                 val_every=2, callbacks=[Snap(), cl.EarlyStopping(5)])
    assert h.stop_reason == "early_stopping"
    best = int(np.argmin(h.val_loss))
    assert h.best_step == h.val_step[best]
    assert h.best_epoch == h.best_step / h.steps_per_epoch
    assert len(h.val_loss) - 1 - best == 5  # stopped after exactly `patience` worse checks
    for name, p in net.params.items():
        np.testing.assert_array_equal(p, snapshots[h.best_step][name])
    assert net.loss(Xv, yv) == pytest.approx(min(h.val_loss), rel=1e-12)
    assert "restored" in h.message


def test_callback_can_stop_training_cleanly(data):
    train, val = data
    seen = []

    class StopAt(cl.Callback):
        def on_train_begin(self, trainer):
            seen.append(("begin", trainer.total_steps))

        def on_step_end(self, trainer):
            if trainer.step == 7:
                trainer.stop()

        def on_train_end(self, trainer):
            seen.append(("end", trainer.history.stop_reason))

    h = cl.train(cl.mlp([2, 4, 3], rng=np.random.default_rng(0)), train, val, lr=0.1, epochs=3,
                 batch_size=10, rng=np.random.default_rng(0), callbacks=[StopAt()])
    assert h.stop_reason == "requested"
    assert len(h.loss) == 7 and h.epochs_done == 0
    assert seen == [("begin", 120), ("end", "requested")]


def test_ctrl_c_stops_after_the_current_step(data):
    train, val = data
    seen = []

    class Interrupt(cl.Callback):
        def on_step_end(self, loop):
            seen.append(loop.step)
            if loop.step == 3:
                os.kill(os.getpid(), signal.SIGINT)  # what the kernel's interrupt button sends

    net = cl.mlp([2, 4, 3], rng=0)
    h = cl.train(net, train, val, lr=0.1, rng=0, epochs=2, val_every=3, callbacks=[Interrupt()])
    assert h.stop_reason == "interrupted" and "step 3" in h.message
    assert seen == [1, 2, 3] and h.step == [1, 2, 3]
    assert len(h.loss) == len(h.acc) == 3 and len(h.val_loss) == len(h.val_acc) == len(h.val_step) == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back afterwards


def test_a_second_ctrl_c_interrupts_at_once(data):
    train, _ = data

    class Twice(cl.Callback):
        def on_step_end(self, loop):
            if loop.step == 2:
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        cl.train(cl.mlp([2, 4, 3], rng=0), train, rng=0, callbacks=[Twice()])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


_INTERRUPTED_RUN = """
import json, sys, numpy as np, course_lib as cl
rng = np.random.default_rng(0)
X, y = rng.standard_normal((2000, 20)), rng.integers(0, 4, 2000)
net = cl.mlp([20, 64, 64, 4], rng=0)

class Started(cl.Callback):
    def on_step_end(self, loop):
        if loop.step == 5:
            print("started", flush=True)

h = cl.train(net, (X, y), (X[:200], y[:200]), lr=0.01, epochs=10_000, batch_size=8, rng=1, val_every=7,
             callbacks=[Started()])
print(json.dumps({"reason": h.stop_reason, "steps": len(h.step), "loss": len(h.loss), "acc": len(h.acc),
                  "last_step": h.step[-1], "val": [len(h.val_step), len(h.val_loss), len(h.val_acc)],
                  "val_due": h.step[-1] // 7, "finite": all(bool(np.isfinite(p).all()) for p in net.params.values())}))
"""


def test_a_real_interrupt_at_a_random_moment_leaves_a_consistent_run():
    proc = subprocess.Popen([sys.executable, "-c", _INTERRUPTED_RUN], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    time.sleep(0.2 + 0.3 * np.random.default_rng().random())  # anywhere inside a step
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    result = json.loads(out)
    assert result["reason"] == "interrupted"
    assert result["steps"] == result["loss"] == result["acc"] == result["last_step"]
    assert result["val"] == [result["val_due"]] * 3
    assert result["finite"]


def test_callbacks_read_the_true_gradients_during_default_training(data):
    """After every step of the default route, each layer's grads are dL/dW of that step's batch."""
    (X, y), _ = data
    net = cl.mlp([2, 5, 3], rng=0, activation="tanh")
    lr, batch = 0.2, 16
    before = net.get_params()

    class Verify(cl.Callback):
        checked = 0

        def on_step_end(self, loop):
            nonlocal before
            start = ((loop.step - 1) % loop.history.steps_per_epoch) * batch
            twin = cl.mlp([2, 5, 3], rng=0, activation="tanh")
            twin.set_params(before)
            twin.forward_backward(X[start:start + batch], y[start:start + batch])
            for name, g in loop.model.grads.items():
                np.testing.assert_allclose(g, twin.grads[name], rtol=1e-12, atol=1e-15)
                np.testing.assert_allclose(loop.model.params[name], before[name] - lr * g, rtol=1e-12, atol=1e-15)
            assert any(np.abs(g).max() > 0 for g in loop.model.grads.values())
            before = loop.model.get_params()
            Verify.checked += 1

    cl.train(net, (X, y), lr=lr, epochs=2, batch_size=batch, shuffle=False, callbacks=[Verify()])
    assert Verify.checked == 2 * math.ceil(len(X) / batch)


def test_divergence_stops_and_says_so(data):
    train, _ = data
    X = train[0] * 1e3
    with np.errstate(all="ignore"):
        # ReLU is unbounded, so a huge step sends the float32 logits to inf and the loss to nan
        h = cl.train(cl.mlp([2, 50, 50, 3], rng=np.random.default_rng(0), activation="relu"), (X, train[1]),
                     lr=1e6, epochs=5, rng=np.random.default_rng(0), dtype=np.float32)
    assert h.stop_reason == "diverged"
    assert "learning rate" in h.message
    assert len(h.loss) < 5 * 13


def test_a_loss_that_grows_by_orders_of_magnitude_is_divergence_too(data):
    """Finite but enormous losses (6e69 was seen) must not end in a green 'completed'."""
    (X, y), _ = data
    net = cl.mlp([2, 30, 3], rng=0, activation="relu", init="he")
    with np.errstate(all="ignore"):
        h = cl.train(net, (X * 30, y), lr=3.0, epochs=40, batch_size=4, rng=0)
    assert h.stop_reason == "diverged", (h, max(h.loss))
    assert "grew from" in h.message or "times that of guessing" in h.message


def test_divergence_check_spares_a_short_spike():
    """A momentary spike (momentum overshooting for a few steps) is not divergence."""
    loop = cl.Loop(model=None, epochs=1, num_classes=2)
    with loop.running(steps_per_epoch=1000):
        for step in range(1000):
            loss = 5.0 if 500 <= step < 504 else 0.05
            loop.record_step(loss, 1, 1)
            loop.emit("on_step_end")
    assert loop.history.stop_reason == "completed"


def test_accuracy_collapse_is_divergence():
    loop = cl.Loop(model=None, epochs=1, num_classes=10)
    with loop.running(steps_per_epoch=1000):
        for step in range(1000):
            good = step < 300
            loop.record_step(0.3 if good else 2.5, 9 if good else 1, 10)
            loop.emit("on_step_end")
            if loop.stopping:
                break
    assert loop.history.stop_reason == "diverged" and "collapsed" in loop.history.message


def test_float32_training(data):
    train, val = data
    net = cl.mlp([2, 8, 3], rng=np.random.default_rng(0), activation="tanh")
    h = cl.train(net, train, val, lr=0.5, epochs=10, batch_size=16, rng=np.random.default_rng(0), dtype=np.float32)
    assert net.dtype == np.float32
    assert all(g.dtype == np.float32 for g in net.grads.values())
    assert net.forward(train[0].astype(np.float32)).dtype == np.float32
    assert h.val_acc[-1] > 0.95


def test_l2_shrinks_the_weights(data):
    train, _ = data
    norms = []
    for lam in (0.0, 0.1):
        net = cl.mlp([2, 8, 3], rng=np.random.default_rng(0))
        cl.train(net, train, lr=0.3, epochs=10, l2=lam, rng=np.random.default_rng(0))
        norms.append(sum(float((W ** 2).sum()) for W in net.weights()))
    assert norms[1] < 0.5 * norms[0]


def test_momentum_optimizer_trains(data):
    train, val = data
    net = cl.mlp([2, 8, 3], rng=np.random.default_rng(0))
    cl.train(net, train, val, optimizer=cl.Momentum(0.05, 0.9), epochs=5, rng=np.random.default_rng(0))
    assert net.accuracy(*val) > 0.95


def test_progress_bar_runs_silently(data):
    from workbook_tools.progress import ProgressBar

    train, _ = data
    h = cl.train(cl.mlp([2, 4, 3], rng=np.random.default_rng(0)), train, rng=np.random.default_rng(0),
                 callbacks=[ProgressBar(disable=True, every=3)])
    assert len(h.loss) == 13


def test_the_plain_python_loop_shares_the_stop_mechanism():
    from course_lib import scalar

    params = scalar.init_params(2, 3, 2, rng=0)
    xs, ys = [[1.0, -1.0], [0.5, 0.2], [-1.0, 0.3]] * 10, [0, 1, 1] * 10

    class StopAt(cl.Callback):
        def on_step_end(self, loop):
            if loop.step == 7:
                loop.stop("requested", "enough")

    h = scalar.train(params, xs, ys, lr=0.1, epochs=3, callbacks=[StopAt()])
    assert h.stop_reason == "requested" and h.message == "enough" and len(h.loss) == 7
    h = scalar.train(scalar.init_params(2, 3, 2, rng=0), xs, ys, lr=1e300, epochs=3)
    assert h.stop_reason == "diverged"


@pytest.mark.parametrize("kwargs, data_fn, message", [
    ({"lr": -1}, None, "learning rate must be a positive"),
    ({"epochs": 0}, None, "epochs must be a whole number >= 1"),
    ({"batch_size": 0}, None, "batch_size must be a whole number >= 1"),
    ({"l2": -0.1}, None, "l2 must be a non-negative"),
    ({"callbacks": [cl.EarlyStopping(3)]}, None, "early stopping needs validation data"),
    ({"rng": None}, None, "numpy.random.Generator"),
    ({"dtype": int}, None, "float32 or float64"),
    ({}, lambda X, y: (X[:, :1], y), "has 1 features but the network's first layer takes 2"),
    ({}, lambda X, y: (X, y + 5), "labels must lie in 0..2"),
    ({}, lambda X, y: (X, y + 0.5), "integer class indices"),
    ({}, lambda X, y: (X, y[:-1]), "y must have shape"),
    ({}, lambda X, y: (np.where(np.arange(len(X))[:, None] == 3, np.nan, X), y), "NaN or infinite"),
    ({}, lambda X, y: (X.astype(object), y), "must hold numbers"),
    ({}, lambda X, y: (np.where(np.arange(len(X))[:, None] == 3, None, X), y), "must hold numbers"),
    ({"dtype": np.float32}, lambda X, y: (X * 1e39, y), "NaN or infinite values as float32"),
    ({}, lambda X, y: (X.reshape(-1), y), "must be \\(instances, features\\)"),
])
def test_bad_input_is_named_and_changes_nothing(data, kwargs, data_fn, message):
    (X, y), _ = data
    train = data_fn(X, y) if data_fn else (X, y)
    before = train[0].copy() if isinstance(train[0], np.ndarray) else None
    options = {"rng": np.random.default_rng(0), **kwargs}
    net = cl.mlp([2, 4, 3], rng=np.random.default_rng(0))
    saved = net.get_params()
    with pytest.raises((ValueError, TypeError), match=message):
        cl.train(net, train, **options)
    assert net.dtype == np.float64  # not cast to float32 by a call that failed
    for name, p in net.params.items():
        np.testing.assert_array_equal(p, saved[name])
    if before is not None and before.dtype != object:
        np.testing.assert_array_equal(train[0], before)


def test_huge_but_finite_float64_data_is_accepted(data):
    (X, y), _ = data
    net = cl.mlp([2, 4, 3], rng=0)
    with np.errstate(all="ignore"):
        h = cl.train(net, (X * 1e39, y), lr=1e-80, rng=0)
    assert len(h.loss) == 13


class AllHooks:
    """A callback that is no cl.Callback but has every method a loop calls."""

    def __getattr__(self, name):
        return lambda loop: None


@pytest.mark.parametrize("kwargs, error, message", [
    ({"epochs": 1.5}, ValueError, r"epochs must be a whole number >= 1 \(an int\), got 1.5"),
    ({"epochs": True}, ValueError, "epochs must be a whole number >= 1"),
    ({"batch_size": 2.5}, ValueError, r"batch_size must be a whole number >= 1 \(an int\), got 2.5"),
    ({"batch_size": np.float64(8)}, ValueError, "batch_size must be a whole number"),
    ({"val_every": 0.5}, ValueError, "val_every must be a whole number >= 1"),
    ({"callbacks": [42]}, TypeError, r"a callback must be a cl.Callback \(or have its methods\), got 42,"
                                     r" which lacks on_train_begin, on_step_end, .*subclass cl.Callback"),
    ({"optimizer": cl.SGD(0.1), "lr": 0.5}, ValueError,
     r"give optimizer or lr, not both: SGD\(lr=0.1\) has its own learning rate; e.g. optimizer=SGD\(0.5\)"),
])
def test_bad_options_are_refused_before_training(data, kwargs, error, message):
    (X, y), val = data
    net = cl.mlp([2, 4, 3], rng=0)
    saved = net.get_params()
    with pytest.raises(error, match=message):
        cl.train(net, (X, y), val, rng=0, **kwargs)
    for name, p in net.params.items():
        np.testing.assert_array_equal(p, saved[name])


def test_counts_may_be_numpy_integers_and_one_of_optimizer_or_lr_is_enough(data):
    (X, y), val = data
    h = cl.train(cl.mlp([2, 4, 3], rng=0), (X, y), val, epochs=np.int64(2), batch_size=np.int32(100),
                 val_every=np.uint8(2), rng=0, callbacks=[AllHooks()])
    assert len(h.loss) == 8 and h.val_step == [2, 4, 6, 8]
    net = cl.mlp([2, 4, 3], rng=0)
    assert cl.Trainer(net, rng=0).optimizer.lr == 0.01
    assert cl.Trainer(net, lr=0.5, rng=0).optimizer.lr == 0.5
    adam = cl.Adam(0.1)
    assert cl.Trainer(net, optimizer=adam, rng=0).optimizer is adam


def test_a_callback_missing_a_hook_is_named():
    class NoEpochEnd:
        def __getattr__(self, name):
            if name == "on_epoch_end":
                raise AttributeError(name)
            return lambda loop: None

    with pytest.raises(TypeError, match="which lacks on_epoch_end; subclass cl.Callback"):
        cl.Trainer(cl.mlp([2, 3], rng=0), callbacks=[NoEpochEnd()])


def test_a_callback_class_and_a_number_for_the_optimizer_are_refused_with_what_to_pass():
    net = cl.mlp([2, 3], rng=0)
    with pytest.raises(TypeError, match=r"EarlyStopping is a class: pass an instance, e.g. EarlyStopping\(\)"):
        cl.Trainer(net, callbacks=[cl.EarlyStopping])
    with pytest.raises(TypeError, match="optimizer must have a step method .* got 0.1; .* pass lr="):
        cl.Trainer(net, 0.1)
    assert [type(c).__name__ for c in cl.Trainer(net, rng=0, callbacks=None).callbacks] == ["DivergenceCheck"]


@pytest.mark.parametrize("patience", [1.5, 0, -1, True, "3"])
def test_early_stopping_patience_is_a_whole_number_of_checks(patience):
    with pytest.raises(ValueError, match=f"patience must be a whole number >= 1 \\(an int\\), got {patience!r}"):
        cl.EarlyStopping(patience)
    assert cl.EarlyStopping(np.int64(2)).patience == 2


def test_the_plain_python_loop_refuses_a_fractional_epoch_count():
    params = cl.scalar.init_params(2, 3, 2, rng=0)
    with pytest.raises(ValueError, match="epochs must be a whole number >= 1"):
        cl.scalar.train(params, [[0.0, 1.0]], [1], lr=0.1, epochs=1.5)


@pytest.mark.parametrize("which", ["train", "val"])
def test_empty_data_is_refused_before_training(data, which):
    (X, y), (Xv, yv) = data
    train, val = ((X[:0], y[:0]), (Xv, yv)) if which == "train" else ((X, y), (Xv[:0], yv[:0]))
    net = cl.mlp([2, 4, 3], rng=0)
    saved = net.get_params()
    with pytest.raises(ValueError, match=rf"{which} data is empty: X has shape \(0, 2\); pass at least one example"):
        cl.train(net, train, val, rng=0)
    for name, p in net.params.items():
        np.testing.assert_array_equal(p, saved[name])


@pytest.mark.parametrize("batch_size", [0, -2, 2.5, None])
def test_batches_needs_a_whole_batch_size_and_draws_nothing_before_checking(data, batch_size):
    (X, y), _ = data
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="batch_size must be a whole number >= 1"):
        next(cl.batches(X, y, batch_size, rng))
    assert rng.random() == np.random.default_rng(0).random()  # the generator was not advanced
