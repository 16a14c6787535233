import math

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
        opt.step(b)
    for (_, p, _), (_, q, _) in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p, q, rtol=0, atol=1e-12)


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
                 val_every=2, patience=5, callbacks=[Snap()])
    assert h.stop_reason == "early_stopping"
    best = int(np.argmin(h.val_loss))
    assert h.best_step == h.val_step[best]
    assert h.best_epoch == h.best_step / h.steps_per_epoch
    assert len(h.val_loss) - 1 - best == 5  # stopped after exactly `patience` worse checks
    for name, p, _ in net.parameters():
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


def test_keyboard_interrupt_keeps_the_history(data):
    train, _ = data

    class Interrupt(cl.Callback):
        def on_step_end(self, trainer):
            if trainer.step == 3:
                raise KeyboardInterrupt

    h = cl.train(cl.mlp([2, 4, 3], rng=np.random.default_rng(0)), train, lr=0.1,
                 rng=np.random.default_rng(0), callbacks=[Interrupt()])
    assert h.stop_reason == "interrupted" and len(h.loss) == 3


def test_divergence_stops_and_says_so(data):
    train, _ = data
    X = train[0] * 1e3
    with np.errstate(all="ignore"):
        # ReLU is unbounded, so a huge step sends the float32 logits to inf and the loss to nan
        h = cl.train(cl.mlp([2, 50, 50, 3], rng=np.random.default_rng(0), activation="relu"), (X, train[1]),
                     lr=1e6, epochs=5, rng=np.random.default_rng(0), dtype=np.float32)
    assert h.stop_reason == "diverged"
    assert "learning rate" in h.message
    assert not math.isfinite(h.loss[-1]) and len(h.loss) < 5 * 13


def test_float32_training(data):
    train, val = data
    net = cl.mlp([2, 8, 3], rng=np.random.default_rng(0), activation="tanh")
    h = cl.train(net, train, val, lr=0.5, epochs=10, batch_size=16, rng=np.random.default_rng(0), dtype=np.float32)
    assert net.dtype == np.float32
    assert all(g.dtype == np.float32 for _, _, g in net.parameters())
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
    train, _ = data
    h = cl.train(cl.mlp([2, 4, 3], rng=np.random.default_rng(0)), train, rng=np.random.default_rng(0),
                 callbacks=[cl.ProgressBar(disable=True, every=3)])
    assert len(h.loss) == 13


@pytest.mark.parametrize("kwargs, data_fn, message", [
    ({"lr": -1}, None, "learning rate must be a positive"),
    ({"epochs": 0}, None, "epochs and batch_size"),
    ({"l2": -0.1}, None, "l2 must be a non-negative"),
    ({"patience": 3}, None, "early stopping .* needs validation data"),
    ({"rng": None}, None, "numpy.random.Generator"),
    ({}, lambda X, y: (X[:, :1], y), "has 1 features but the network's first layer takes 2"),
    ({}, lambda X, y: (X, y + 5), "labels must lie in 0..2"),
    ({}, lambda X, y: (X, y[:-1]), "y must have shape"),
    ({}, lambda X, y: (np.where(np.arange(len(X))[:, None] == 3, np.nan, X), y), "NaN or infinite"),
    ({}, lambda X, y: (X.reshape(-1), y), "must be \\(instances, features\\)"),
])
def test_bad_input_is_named(data, kwargs, data_fn, message):
    (X, y), _ = data
    train = data_fn(X, y) if data_fn else (X, y)
    options = {"rng": np.random.default_rng(0), **kwargs}
    with pytest.raises((ValueError, TypeError), match=message):
        cl.train(cl.mlp([2, 4, 3], rng=np.random.default_rng(0)), train, **options)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_every_nan_or_inf_in_the_data_is_found(dtype, bad, layout):
    from course_lib.train import _all_finite

    X = np.random.default_rng(0).standard_normal((50, 8)).astype(dtype)
    X = {"C": X, "F": np.asfortranarray(X), "strided": X[::2]}[layout]
    assert _all_finite(X)
    X[-1, 5] = bad
    assert not _all_finite(X)


def test_huge_but_finite_data_is_accepted():
    # the fast check (a sum of squares) overflows here; the exact one must decide
    from course_lib.train import _all_finite

    X = np.full((10, 4), 3e38, np.float32)
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.dot(X.ravel(), X.ravel()))
    assert _all_finite(X)
