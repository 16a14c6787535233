import numpy as np
import pytest

import course_lib as cl
from course_lib.activations import ACTIVATIONS, IMPROVED_A, IMPROVED_B

TOL = 1e-6


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_derivative_matches_central_differences(name, rng):
    f, df, df_out = ACTIVATIONS[name]
    x = rng.uniform(-4, 4, 200)
    x = x[np.abs(x) > 1e-3]  # ReLU has no derivative at 0
    check = cl.check_function(f, df, x)
    assert check.ok, str(check)
    # the form the layers use, through the output, is the same derivative
    np.testing.assert_allclose(df_out(f(x)), df(x), rtol=1e-12, atol=1e-15)


def test_activation_values():
    assert cl.sigmoid(0.0) == 0.5
    np.testing.assert_allclose(cl.improved_sigmoid(np.array([1.0, -1.0])), [1.0, -1.0], atol=2e-4)
    assert IMPROVED_A * IMPROVED_B == pytest.approx(1.14393, abs=1e-5)
    assert cl.relu_grad(np.array([0.0]))[0] == 0.0  # our choice of subgradient at 0


def test_sigmoid_is_stable_for_large_inputs():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = cl.sigmoid(np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0]))
    assert s[0] == 0.0 and s[-1] == 1.0
    assert s[1] == pytest.approx(np.exp(-40.0), rel=1e-12)  # no cancellation for tiny outputs


def test_softmax_and_log_softmax_are_stable_for_huge_logits():
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = cl.softmax(z)
        lp = cl.log_softmax(z)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[1], 1 / 3)
    assert lp[0, 0] == 0.0 and lp[0, 1] == -2000.0
    np.testing.assert_allclose(lp[1], -np.log(3))


def test_softmax_jacobian_matches_central_differences(rng):
    o = rng.standard_normal(5)
    J = cl.softmax_jacobian(cl.softmax(o))
    h = 1e-6
    numeric = np.stack([(cl.softmax(o + h * e) - cl.softmax(o - h * e)) / (2 * h) for e in np.eye(5)], axis=1)
    assert cl.rel_error(J, numeric) < TOL
    y = cl.softmax(o)
    assert J[0, 0] == pytest.approx(y[0] * (1 - y[0]))
    assert J[0, 1] == pytest.approx(-y[0] * y[1])


def test_chain_through_softmax_gives_y_minus_onehot(rng):
    o = rng.standard_normal(4)
    y = cl.softmax(o)
    c = 2
    dl_dy = np.zeros(4)
    dl_dy[c] = -1 / y[c]
    dl_do = cl.softmax_jacobian(y).T @ dl_dy
    np.testing.assert_allclose(dl_do, y - np.eye(4)[c], atol=1e-15)


@pytest.mark.parametrize("batch", [None, 1, 7])
def test_softmax_cross_entropy_gradient(batch, rng):
    shape = (5,) if batch is None else (batch, 5)
    logits = rng.standard_normal(shape) * 3
    y = rng.integers(0, 5, size=() if batch is None else batch)
    check = cl.check_scalar_function(lambda z: cl.softmax_cross_entropy(z, y), logits)
    assert check.ok, str(check)


def test_softmax_cross_entropy_value_and_stability():
    loss, d = cl.softmax_cross_entropy(np.array([0.0, 0.0]), 0)
    assert loss == pytest.approx(np.log(2), abs=1e-15)
    np.testing.assert_allclose(d, [-0.5, 0.5])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, d = cl.softmax_cross_entropy(np.array([[1000.0, -1000.0], [-1000.0, 1000.0]]), np.array([1, 1]))
    assert loss == pytest.approx(1000.0)  # mean of 2000 and 0
    assert np.isfinite(d).all()
    assert cl.cross_entropy(cl.softmax(np.array([0.0, 0.0])), 1) == pytest.approx(np.log(2))


@pytest.mark.parametrize("shape", [(9,), (9, 1)])
def test_binary_cross_entropy_gradient_and_stability(shape, rng):
    z = rng.standard_normal(shape) * 3
    y = rng.integers(0, 2, 9)
    check = cl.check_scalar_function(lambda t: cl.binary_cross_entropy(t, y), z)
    assert check.ok, str(check)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, d = cl.binary_cross_entropy(np.array([1000.0, -1000.0]), np.array([0, 1]))
    assert loss == pytest.approx(1000.0) and np.isfinite(d).all()
    p = cl.sigmoid(z.ravel())
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert cl.binary_cross_entropy(z, y)[0] == pytest.approx(expected, rel=1e-12)


def test_bad_labels_are_named():
    with pytest.raises(ValueError, match=r"labels must lie in 0..2"):
        cl.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"labels must lie in 0..2"):
        cl.softmax_cross_entropy(np.zeros((2, 3)), np.array([-1, 0]))
    with pytest.raises(ValueError, match="need labels of shape"):
        cl.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="integer class indices"):
        cl.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="labels must lie in 0..1"):
        cl.binary_cross_entropy(np.zeros(2), np.array([0, 2]))
    with pytest.raises(ValueError, match="unknown activation"):
        cl.Activation("swish")
