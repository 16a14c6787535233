"""The gradient check's verdict is honest: NaN and infinity never pass, a WRONG line never ends in PASS."""
import math

import numpy as np
import pytest

import course_lib as cl


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_rel_error_of_non_finite_values_is_infinite(bad):
    assert cl.rel_error([bad, 1.0], [1.0, 1.0]) == math.inf
    assert cl.rel_error([1.0, 1.0], [1.0, bad]) == math.inf
    assert cl.rel_error([bad], [bad]) == math.inf


def test_rel_error_refuses_different_shapes():
    # (3,) against (3, 1) would broadcast to (3, 3) and compare the wrong entries
    with pytest.raises(ValueError, match=r"shapes \(3,\) and \(3, 1\)"):
        cl.rel_error(np.zeros(3), np.zeros((3, 1)))
    assert cl.rel_error(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0


def test_a_nan_gradient_fails_with_a_reason():
    check = cl.check_function(np.sin, lambda x: np.where(x > 0, np.nan, np.cos(x)), [-1.0, 0.5])
    assert not check.ok and not check
    text = str(check)
    assert "WRONG (NaN or inf)" in text and text.splitlines()[-1].startswith("FAIL")


def test_a_nan_numeric_estimate_fails_too():
    f = lambda x: np.where(x > 1, np.nan, x ** 2)  # noqa: E731
    check = cl.check_function(f, lambda x: 2 * x, [0.5, 1.0 + 1e-7])
    assert not check.ok


def test_a_report_with_a_wrong_line_never_passes():
    report = cl.GradCheck({"W1": 1e-10, "b1": 0.3, "W2": float("nan")})
    assert not report.ok
    lines = str(report).splitlines()
    assert "ok" in lines[0] and "WRONG" in lines[1] and "NaN or inf" in lines[2]
    assert lines[-1].startswith("FAIL")
    assert cl.GradCheck({"W1": 1e-10}).ok and str(cl.GradCheck({"W1": 1e-10})).splitlines()[-1].startswith("PASS")


def test_numerical_gradient_restores_x_even_when_f_fails():
    x = np.array([1.0, 2.0])
    calls = []

    def f():
        calls.append(x.copy())
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cl.numerical_gradient(f, x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_check_model_of_a_network_with_a_nan_weight_fails():
    net = cl.mlp([2, 3, 2], rng=0)
    net.params["W1"][0, 0] = np.nan  # NaN everywhere downstream: nothing can be verified
    X, y = np.ones((2, 2)), np.array([0, 1])
    with np.errstate(all="ignore"):
        check = cl.check_model(net, X, y)
    assert not check.ok


@pytest.mark.parametrize("h", [0, -1e-6, float("nan"), float("inf")])
def test_the_step_h_must_be_a_positive_finite_number(h):
    """h = 0 divided by zero; the error comes before x or the model's gradients are touched."""
    x = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match=f"h must be a positive finite number, got {h!r}"):
        cl.numerical_gradient(lambda: float(np.sum(x ** 2)), x, h=h)
    np.testing.assert_array_equal(x, [1.0, 2.0])
    with pytest.raises(ValueError, match="h must be a positive finite number"):
        cl.check_function(np.tanh, lambda v: 1 - np.tanh(v) ** 2, x, h=h)
    net = cl.mlp([3, 2], rng=0)
    grads = {name: g.copy() for name, g in net.grads.items()}
    with pytest.raises(ValueError, match="h must be a positive finite number"):
        cl.check_model(net, np.ones((2, 3)), np.array([0, 1]), h=h)
    for name, g in net.grads.items():
        np.testing.assert_array_equal(g, grads[name])


def test_a_sampled_check_needs_at_least_one_sample():
    """samples=0 would compare no entries and pass whatever the gradients."""
    with pytest.raises(ValueError, match="samples must be a whole number >= 1"):
        cl.check_model(cl.mlp([3, 2], rng=0), np.ones((2, 3)), np.array([0, 1]), samples=0, rng=0)
