"""The course's 2-3-2 network and the agreement of the three code paths."""
import math

import numpy as np
import pytest

import course_lib as cl
from course_lib import scalar

COURSE = {
    "W": [[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]],
    "b": [0.0, 0.0, 0.0],
    "V": [[1.0, 1.0], [-1.0, -1.0], [-1.0, -1.0]],
    "c": [0.0, 0.0],
}
X0, TARGET = [1.0, -1.0], 0


def numpy_net(p):
    return cl.Sequential([cl.Linear(np.array(p["W"]), np.array(p["b"])), cl.Sigmoid(),
                          cl.Linear(np.array(p["V"]), np.array(p["c"]))])


def grads_of(net):
    """The network's gradients under the course's names: W, b (layer 1) and V, c (layer 2)."""
    g = net.grads
    return {"W": g["W1"], "b": g["b1"], "V": g["W2"], "c": g["b2"]}


def test_plain_python_reference_values():
    cache = scalar.forward(COURSE, X0)
    assert scalar.loss(cache, TARGET) == pytest.approx(math.log(2), abs=1e-15)
    g = scalar.backward(COURSE, cache, TARGET)
    for row in g["V"]:
        assert row == pytest.approx([-0.4404, 0.4404], abs=5e-5)
    assert g["c"] == pytest.approx([-0.5, 0.5], abs=1e-15)
    assert all(v == 0 for row in g["W"] for v in row)
    assert g["b"] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("batched", [False, True])
def test_numpy_reference_values(batched):
    net = numpy_net(COURSE)
    x = np.array([X0]) if batched else np.array(X0)
    y = np.array([TARGET]) if batched else TARGET
    assert net.forward_backward(x, y) == pytest.approx(math.log(2), abs=1e-15)
    g = grads_of(net)
    np.testing.assert_allclose(g["V"], [[-0.4404, 0.4404]] * 3, atol=5e-5)
    np.testing.assert_allclose(g["c"], [-0.5, 0.5], atol=1e-15)
    assert not g["W"].any() and not g["b"].any()


def test_three_code_paths_agree_to_1e_12():
    rng = np.random.default_rng(7)
    params = scalar.init_params(4, 5, 3, rng=rng)
    params["b"] = rng.standard_normal(5).tolist()
    params["c"] = rng.standard_normal(3).tolist()
    X = rng.standard_normal((6, 4))
    y = rng.integers(0, 3, 6)

    # plain Python, one instance at a time, gradients averaged like the batch's mean loss
    total = {k: np.zeros(np.shape(v)) for k, v in params.items()}
    losses = []
    for x, t in zip(X.tolist(), y.tolist()):
        cache = scalar.forward(params, x)
        losses.append(scalar.loss(cache, t))
        for k, v in scalar.backward(params, cache, t).items():
            total[k] += np.array(v) / len(X)

    # numpy, one instance vector at a time
    net = numpy_net(params)
    per_instance = {k: np.zeros(np.shape(v)) for k, v in params.items()}
    inst_losses = []
    for x, t in zip(X, y):
        inst_losses.append(net.forward_backward(x, t))
        for k, v in grads_of(net).items():
            per_instance[k] += v / len(X)

    # numpy, the whole batch in one pass
    batch_loss = net.forward_backward(X, y)
    batched = grads_of(net)

    assert np.allclose(losses, inst_losses, rtol=0, atol=1e-12)
    assert batch_loss == pytest.approx(np.mean(losses), abs=1e-12)
    for k in params:
        np.testing.assert_allclose(per_instance[k], total[k], rtol=0, atol=1e-12)
        np.testing.assert_allclose(batched[k], total[k], rtol=0, atol=1e-12)


def test_plain_python_training_agrees_with_numpy_per_instance_training():
    rng = np.random.default_rng(3)
    params = scalar.init_params(2, 3, 2, rng=rng)
    X = rng.standard_normal((20, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    net = numpy_net(params)
    scalar.train(params, X.tolist(), y.tolist(), lr=0.1, epochs=2)
    cl.train(net, (X, y), lr=0.1, epochs=2, batch_size=1, shuffle=False)
    for ours, course in [("W1", "W"), ("b1", "b"), ("W2", "V"), ("b2", "c")]:
        np.testing.assert_allclose(net.params[ours], params[course], rtol=0, atol=1e-12)


def test_plain_python_gradient_check():
    rng = np.random.default_rng(11)
    params = scalar.init_params(3, 4, 3, rng=rng)
    x, t = rng.standard_normal(3).tolist(), 1
    g = scalar.backward(params, scalar.forward(params, x), t)
    h = 1e-6
    for name in params:
        flat = np.array(params[name], dtype=float)
        numeric = np.zeros_like(flat)
        for idx in np.ndindex(flat.shape):
            for sign in (1, -1):
                p = {k: [list(r) if isinstance(r, list) else r for r in v] for k, v in params.items()}
                target = p[name]
                if len(idx) == 2:
                    target[idx[0]][idx[1]] += sign * h
                else:
                    target[idx[0]] += sign * h
                numeric[idx] += sign * scalar.loss(scalar.forward(p, x), t) / (2 * h)
        assert cl.rel_error(g[name], numeric) < 1e-6, name


def test_plain_python_bad_input():
    with pytest.raises(ValueError, match="takes 2 inputs"):
        scalar.forward(COURSE, [1.0])
    with pytest.raises(ValueError, match="target class"):
        scalar.loss(scalar.forward(COURSE, X0), 2)
    with pytest.raises(ValueError, match="learning rate"):
        scalar.sgd_step(COURSE, scalar.backward(COURSE, scalar.forward(COURSE, X0), 0), -0.1)


def test_plain_python_training_history_and_callbacks():
    rng = np.random.default_rng(5)
    params = scalar.init_params(2, 4, 2, rng=rng)
    X = rng.standard_normal((200, 2))
    y = (X[:, 0] > 0).astype(int)
    seen = []

    class Watch(cl.Callback):
        def on_epoch_end(self, run):
            seen.append(run.history.epoch_loss[-1])

        def on_step_end(self, run):
            if run.epoch == 2 and run.step == 450:
                run.stop()

    h = scalar.train(params, X.tolist(), y.tolist(), lr=0.5, epochs=5,
                     val=(X[:50].tolist(), y[:50].tolist()), callbacks=[Watch()])
    assert h.stop_reason == "requested" and len(h.loss) == 450
    assert seen == h.epoch_loss and len(seen) == 2
    assert h.epoch_loss[1] < h.epoch_loss[0]
    assert h.val_acc[-1] > 0.9
    assert h.epoch_acc[0] == np.mean(h.acc[:200])
