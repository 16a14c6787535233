"""The fast path: the BLAS calls numpy lacks, and the fused SGD step built on them."""
import os
import subprocess
import sys

import numpy as np
import pytest

import course_lib as cl
from workbook_tools import blas
from workbook_tools.fast import FusedTrainer, backward_sgd, fused_linear_step


@pytest.fixture(params=["blas", "numpy"])
def path(request, monkeypatch):
    """Run a test through the BLAS call and through the numpy fallback."""
    if request.param == "numpy":
        monkeypatch.setattr(blas, "_funcs", {})
    elif blas.available() is None:
        pytest.fail("no BLAS library found for the fused updates (see workbook_tools.blas)")
    else:
        monkeypatch.setattr(blas, "MIN_SIZE", 0)  # small test matrices through BLAS too
    return request.param


def numpy_blas_name():
    """The BLAS numpy was built with, lower case ("scipy-openblas", "openblas64_", "mkl_rt", ...)."""
    try:
        cfg = np.show_config(mode="dicts")  # numpy >= 1.26
    except TypeError:  # older numpy (the declared minimum is 1.24) keeps its build info in numpy.__config__
        infos = [v for k, v in vars(np.__config__).items() if k.startswith("blas") and isinstance(v, dict)]
        return " ".join(lib for info in infos for lib in info.get("libraries", [])).lower()
    return cfg["Build Dependencies"]["blas"]["name"].lower()


def test_numpys_openblas_is_found():
    # The speed of the batched trainer depends on it wherever numpy uses OpenBLAS (pip wheels, CI).
    if "openblas" in numpy_blas_name():
        assert blas.available() is not None
        assert "openblas" in blas.available().lower()


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-13), (np.float32, 1e-5)])
@pytest.mark.parametrize("k, m, n", [(64, 784, 300), (1, 3, 2), (5, 1, 7), (17, 10, 1)])
@pytest.mark.parametrize("beta", [1.0, 0.9])
def test_gemm_matches_numpy(path, dtype, tol, k, m, n, beta):
    rng = np.random.default_rng(k * m * n)
    a, b, c = (rng.standard_normal(s).astype(dtype) for s in [(k, m), (k, n), (m, n)])
    expected = beta * c.astype(np.float64) - 0.1 * (a.T.astype(np.float64) @ b)
    out = blas.gemm(-0.1, a, b, beta, c)
    assert out is c and c.dtype == dtype
    np.testing.assert_allclose(c, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-14), (np.float32, 1e-6)])
def test_ger_matches_numpy(path, dtype, tol):
    rng = np.random.default_rng(1)
    x, y, a = (rng.standard_normal(s).astype(dtype) for s in [(784,), (300,), (784, 300)])
    expected = a.astype(np.float64) + 0.5 * np.outer(x, y)
    blas.ger(0.5, x, y, a)
    np.testing.assert_allclose(a, expected, rtol=tol, atol=tol)


def test_arrays_blas_cannot_take_go_through_numpy():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((8, 10))[:, ::2]  # not contiguous
    b = rng.standard_normal((8, 3)).astype(np.float32)  # another dtype
    c = rng.standard_normal((5, 3))
    expected = c + 2.0 * a.T @ b
    blas.gemm(2.0, a, b, 1.0, c)
    np.testing.assert_allclose(c, expected, rtol=1e-6)


@pytest.mark.parametrize("shapes", [[(4, 3), (5, 2), (3, 2)], [(4, 3), (4, 2), (2, 3)], [(4,), (4, 2), (4, 2)]])
def test_gemm_refuses_wrong_shapes_without_touching_c(shapes):
    a, b, c = (np.ones(s) for s in shapes)
    with pytest.raises(ValueError, match="gemm needs a"):
        blas.gemm(1.0, a, b, 1.0, c)
    assert (c == 1).all()


def test_ger_refuses_wrong_shapes():
    a = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"ger needs x \(m,\)"):
        blas.ger(1.0, np.ones(2), np.ones(3), a)
    assert (a == 1).all()


def test_empty_batch_changes_nothing_but_the_decay(path):
    c = np.ones((3, 2))
    blas.gemm(1.0, np.zeros((0, 3)), np.zeros((0, 2)), 0.5, c)
    np.testing.assert_array_equal(c, 0.5)


# --- the fused SGD step -------------------------------------------------------

def small_net(dtype=np.float64, seed=0):
    return cl.mlp([6, 5, 4, 3], rng=np.random.default_rng(seed), dtype=dtype)


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("l2", [0.0, 0.03])
def test_backward_sgd_is_backward_then_sgd_step(path, batched, l2):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 6) if batched else 6)
    y = rng.integers(0, 3, 7) if batched else 1
    a, b = small_net(), small_net()
    a.forward_backward(x, y, l2=l2)
    before = {name: g.copy() for name, g in a.grads.items()}
    cl.SGD(0.2).step(a.params, a.grads)
    loss, dlogits = b.loss_fn(b.forward(x), y)
    dx = backward_sgd(b, dlogits, 0.2, l2)
    assert dx is None  # the first layer needs no dL/dx
    for name in a.params:
        np.testing.assert_allclose(b.params[name], a.params[name], rtol=1e-13, atol=1e-15, err_msg=name)
    # the fused step stores no gradients
    assert all((g == 0).all() for g in b.grads.values())
    assert not all((g == 0).all() for g in before.values())


def test_fused_step_returns_dx_with_the_old_weights(path):
    rng = np.random.default_rng(4)
    lin = cl.Linear(rng.standard_normal((6, 4)), rng.standard_normal(4))
    x, dout = rng.standard_normal((3, 6)), rng.standard_normal((3, 4))
    lin.forward(x)
    expected = dout @ lin.params["W"].T
    np.testing.assert_allclose(fused_linear_step(lin, dout, 0.5), expected, rtol=1e-14)
    assert not np.allclose(lin.params["W"] @ dout.T, expected.T)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("batch_size", [1, 16])
def test_fused_and_plain_trainers_train_alike(dtype, tol, batch_size):
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((64, 6)), rng.integers(0, 3, 64)
    runs = []
    for trainer in (FusedTrainer, cl.Trainer):
        net = small_net(dtype)
        h = trainer(net, lr=0.1, batch_size=batch_size, epochs=3, l2=0.01, rng=6).fit((X, y))
        runs.append((net, h))
    (a, ha), (b, hb) = runs
    for name in a.params:
        assert a.params[name].dtype == dtype
        np.testing.assert_allclose(a.params[name], b.params[name], rtol=tol, atol=tol, err_msg=name)
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=tol)


def test_fused_trainer_takes_plain_sgd_only():
    with pytest.raises(TypeError, match="plain SGD"):
        FusedTrainer(small_net(), optimizer=cl.Momentum(0.1))


def test_workbook_blas_0_switches_the_fused_calls_off():
    code = "from workbook_tools import blas; print(blas.available())"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "WORKBOOK_BLAS": "0"},
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "None"


# --- one instance at a time: the lean step ----------------------------------------------

@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 3e-5)])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "improved_sigmoid", "identity"])
@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_one_instance_at_a_time_trains_as_the_lesson_does(path, dtype, tol, activation, l2):
    """FusedTrainer(batch_size=1) and cl.Trainer(batch_size=1): the same losses, weights and accuracy."""
    rng = np.random.default_rng(11)
    X = rng.standard_normal((120, 30))
    y = X[:, :4].argmax(axis=1)  # learnable: random labels can trip the divergence check
    runs = []
    for trainer in (FusedTrainer, cl.Trainer):
        net = cl.mlp([30, 40, 20, 4], rng=np.random.default_rng(12), activation=activation, dtype=dtype)
        h = trainer(net, lr=0.01, batch_size=1, epochs=2, l2=l2, rng=13, val_every=50).fit((X, y), (X[:30], y[:30]))
        runs.append((net, h))
    (a, ha), (b, hb) = runs
    assert len(ha.loss) == len(hb.loss) and ha.stop_reason == hb.stop_reason  # (relu trips the divergence check)
    for name in b.params:
        assert a.params[name].dtype == dtype
        np.testing.assert_allclose(a.params[name], b.params[name], rtol=tol, atol=tol, err_msg=name)
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=tol, atol=tol)
    assert ha.acc == hb.acc and ha.epoch_acc == hb.epoch_acc
    np.testing.assert_allclose(ha.val_loss, hb.val_loss, rtol=tol)


def test_the_mnist_network_one_image_at_a_time():
    """784-300-10 sigmoid, float32 and float64, a few hundred steps: as cl.Trainer computes it."""
    rng = np.random.default_rng(14)
    X = rng.integers(0, 256, (300, 784)).astype(np.float64) / 255
    y = rng.integers(0, 10, 300)
    for dtype, tol in [(np.float64, 1e-12), (np.float32, 1e-5)]:
        nets = [cl.mlp([784, 300, 10], rng=np.random.default_rng(15), dtype=dtype) for _ in range(2)]
        ha = FusedTrainer(nets[0], lr=0.1, batch_size=1, rng=16).fit((X, y))
        hb = cl.Trainer(nets[1], lr=0.1, batch_size=1, rng=16).fit((X, y))
        np.testing.assert_allclose(ha.loss, hb.loss, rtol=tol, atol=tol)
        for name in nets[1].params:
            np.testing.assert_allclose(nets[0].params[name], nets[1].params[name], rtol=tol, atol=tol)


def test_the_lean_step_is_taken_and_follows_swapped_arrays(monkeypatch):
    from workbook_tools import fast

    calls = []
    real = fast.InstanceStep.__call__
    monkeypatch.setattr(fast.InstanceStep, "__call__", lambda self, x, y: calls.append(1) or real(self, x, y))

    class Swap(cl.Callback):
        """Replaces the first layer's W by a new array halfway (as a user's callback might)."""

        def on_step_end(self, loop):
            if loop.step == 10:
                layer = loop.model.layers[0]
                layer.params["W"] = layer.params["W"] * 0.5

    rng = np.random.default_rng(17)
    X, y = rng.standard_normal((20, 6)), rng.integers(0, 3, 20)
    a, b = small_net(), small_net()
    FusedTrainer(a, lr=0.1, batch_size=1, rng=1, callbacks=[Swap()]).fit((X, y))
    cl.Trainer(b, lr=0.1, batch_size=1, rng=1, callbacks=[Swap()]).fit((X, y))
    assert len(calls) == 20
    for name in a.params:
        np.testing.assert_allclose(a.params[name], b.params[name], rtol=1e-12, err_msg=name)


def test_other_networks_take_the_general_step():
    from workbook_tools import fast

    assert fast.InstanceStep.build(cl.mlp([3, 4, 1], rng=0, output="sigmoid"), 0.1, 0.0) is False
    rng = np.random.default_rng(18)
    X, y = rng.standard_normal((30, 3)), rng.integers(0, 2, 30)
    a, b = (cl.mlp([3, 4, 1], rng=0, output="sigmoid") for _ in range(2))
    FusedTrainer(a, lr=0.1, batch_size=1, rng=2).fit((X, y))
    cl.Trainer(b, lr=0.1, batch_size=1, rng=2).fit((X, y))
    for name in a.params:
        np.testing.assert_allclose(a.params[name], b.params[name], rtol=1e-12, err_msg=name)
