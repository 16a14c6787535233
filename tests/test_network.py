import numpy as np
import pytest

import course_lib as cl


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "improved_sigmoid", "identity"])
@pytest.mark.parametrize("batched", [False, True])
def test_linear_and_activation_layers_gradients(name, batched, rng):
    """Every layer's backward, input gradient included, against central differences."""
    lin, act = cl.Linear.init(4, 3, rng=rng, init="normal"), cl.Activation(name)
    lin.params["b"][:] = rng.standard_normal(3)
    x = rng.standard_normal((5, 4) if batched else 4)
    up = rng.standard_normal((5, 3) if batched else 3)  # a fixed upstream gradient

    def objective():
        return float(np.sum(act.forward(lin.forward(x)) * up))

    objective()
    dx = lin.backward(act.backward(up))
    for key, p in lin.params.items():
        assert cl.rel_error(lin.grads[key], cl.numerical_gradient(objective, p)) < 1e-6, key
    assert cl.rel_error(dx, cl.numerical_gradient(objective, x)) < 1e-6


SIZES = {
    1: [6, 4],
    2: [6, 5, 4],
    3: [6, 5, 5, 4],
    5: [2, 10, 6, 4, 3, 3, 2],
    10: [6] + [5] * 9 + [3],
}


@pytest.mark.parametrize("depth", sorted(SIZES))
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "improved_sigmoid"])
def test_whole_network_gradient_check(depth, activation, rng):
    sizes = SIZES[depth]
    assert len(sizes) - 1 == depth + (depth == 5)  # 2-10-6-4-3-3-2 has six weight layers
    net = cl.mlp(sizes, rng=rng, activation=activation, init="normal")
    # sigmoid' <= 1/4 shrinks the gradient at every layer; with small weights the
    # first layers' gradients of a 10-layer sigmoid net fall to ~1e-10, below what
    # central differences resolve (their round-off is ~1e-16 / h). Larger weights
    # keep them measurable, so the check tests the code and not the arithmetic.
    scale = 2.0 if activation == "sigmoid" else 0.7
    for p in net.params.values():
        p[...] = rng.standard_normal(p.shape) * scale
    X = rng.standard_normal((8, sizes[0]))
    y = rng.integers(0, sizes[-1], 8)
    check = cl.check_model(net, X, y, l2=0.05)
    assert check.ok, str(check)


def test_ten_hidden_layers_gradient_check(rng):
    net = cl.mlp([5] + [4] * 10 + [3], rng=rng, activation="tanh", init="glorot")
    X, y = rng.standard_normal((4, 5)), rng.integers(0, 3, 4)
    assert len(net.weights()) == 11
    check = cl.check_model(net, X, y)
    assert check.ok, str(check)


def test_sigmoid_output_network_gradient_check(rng):
    net = cl.mlp([3, 4, 1], rng=rng, output="sigmoid", activation="tanh")
    X, y = rng.standard_normal((9, 3)), rng.integers(0, 2, 9)
    check = cl.check_model(net, X, y, l2=0.1)
    assert check.ok, str(check)
    assert net.predict(X).shape == (9,)
    assert set(np.unique(net.predict(X))) <= {0, 1}


def test_gradient_check_catches_a_wrong_backward(rng):
    net = cl.mlp([3, 4, 2], rng=rng)
    X, y = rng.standard_normal((5, 3)), rng.integers(0, 2, 5)
    act = net.layers[1]
    act.df_from_output = lambda out: out  # wrong: should be out * (1 - out)
    check = cl.check_model(net, X, y)
    assert not check.ok
    assert "FAIL" in str(check) and "WRONG" in str(check)
    assert check.errors["W1"] > 1e-3 and check.errors["W2"] < 1e-6  # the layer above is still right


def test_gradient_check_refuses_float32(rng):
    net = cl.mlp([3, 2], rng=rng, dtype=np.float32)
    with pytest.raises(TypeError, match="float64"):
        cl.check_model(net, np.zeros((2, 3), np.float32), np.array([0, 1]))


def test_l2_adds_half_lambda_w_squared_and_lambda_w(rng):
    net = cl.mlp([3, 4, 2], rng=rng)
    X, y = rng.standard_normal((5, 3)), rng.integers(0, 2, 5)
    plain = net.forward_backward(X, y)
    dW = net.layers[0].grads["W"].copy()
    db = net.layers[0].grads["b"].copy()
    lam = 0.3
    reg = net.forward_backward(X, y, l2=lam)
    sq = sum(float((W ** 2).sum()) for W in net.weights())
    assert reg == pytest.approx(plain + lam / 2 * sq, rel=1e-12)
    np.testing.assert_allclose(net.layers[0].grads["W"], dW + lam * net.layers[0].params["W"], rtol=1e-12)
    np.testing.assert_allclose(net.layers[0].grads["b"], db, rtol=1e-12)  # biases are not penalised


@pytest.mark.parametrize("sizes, expected", [
    ([784, 64, 10], 50_890),
    ([784, 64, 64, 10], 55_050),
    # The course states 88,394 for ten hidden layers of 64; counting gives 88,330:
    # 785*64 + 9*65*64 + 65*10. The difference, 64, is one extra bias vector.
    ([784] + [64] * 10 + [10], 785 * 64 + 9 * 65 * 64 + 65 * 10),
    ("2-10-6-4-3-3-2", 2 * 10 + 10 + 10 * 6 + 6 + 6 * 4 + 4 + 4 * 3 + 3 + 3 * 3 + 3 + 3 * 2 + 2),
])
def test_parameter_counts(sizes, expected, rng):
    assert cl.count_params(sizes) == expected
    assert cl.mlp(sizes, rng=rng).num_params == expected


def test_parse_sizes():
    assert cl.parse_sizes("10-6-4-3-3") == [10, 6, 4, 3, 3]
    assert cl.parse_sizes(" 784, 64 ,10") == [784, 64, 10]
    assert cl.parse_sizes("8 8") == [8, 8]
    assert cl.parse_sizes(np.array([784, 64, 10])) == [784, 64, 10]
    assert cl.parse_sizes((3.0, 2)) == [3, 2]
    for bad, msg in [("", "no layer sizes"), ("10-a-3", "whole numbers"), ("8-x", "whole numbers"),
                     ("10-0-3", "at least one unit"), ("784--10", "single"), ("-5", "single"),
                     ("4_8_3", "single"), ("8,,8", "single"), ("8-", "single"), ("1e3", "single"),
                     ([], "list of whole numbers"), ([2.5, 3], "list of whole numbers"), ([[1, 2]], "list")]:
        with pytest.raises(ValueError, match=msg):
            cl.parse_sizes(bad)


def test_network_shape_errors_name_the_problem(rng):
    net = cl.mlp([784, 64, 10], rng=rng)
    with pytest.raises(ValueError, match=r"expects input .*784.* got shape \(3, 785\)"):
        net.forward(np.zeros((3, 785)))
    with pytest.raises(ValueError, match="one unit"):
        cl.mlp([3, 2], rng=rng, output="sigmoid")
    with pytest.raises(ValueError, match="must have shape"):
        cl.Linear(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(TypeError, match="numpy.random.Generator or a non-negative int seed"):
        cl.mlp([3, 2], rng=None)
    with pytest.raises(TypeError, match="float32 or float64"):
        cl.mlp([3, 2], rng=0, dtype=int)


def test_astype_and_params_round_trip(rng):
    net = cl.mlp([4, 3, 2], rng=rng)
    saved = net.get_params()
    net.astype(np.float32)
    assert net.dtype == np.float32
    assert all(g.dtype == np.float32 for g in net.grads.values())
    for p in net.params.values():
        p[...] = 0
    net.set_params(saved)
    np.testing.assert_allclose(net.params["W1"], saved["W1"], rtol=1e-7)
    assert net.params["W1"] is net.layers[0].params["W"]  # by name, the layer's own array


def test_sampled_gradient_check_on_a_large_layer(rng):
    net = cl.mlp([784, 300, 10], rng=rng)
    X, y = rng.random((2, 784)), np.array([3, 7])
    check = cl.check_model(net, X, y, samples=20, rng=np.random.default_rng(0))
    assert check.ok, str(check)
    assert set(check.errors) == {"W1", "b1", "W2", "b2"}
    with pytest.raises(TypeError, match="Generator"):
        cl.check_model(net, X, y, samples=5)


def test_models_compute_in_float32_or_float64_only(rng):
    """float16 and longdouble are float types too, but the lesson's arithmetic is float32 or float64."""
    bad = [np.float16] + ([np.longdouble] if np.dtype(np.longdouble).itemsize > 8 else [])  # 8 bytes on some machines
    for dtype in bad:
        with pytest.raises(TypeError, match=f"dtype must be float32 or float64, got {np.dtype(dtype)}"):
            cl.mlp([3, 2], rng=rng, dtype=dtype)
        net = cl.mlp([3, 2], rng=0)
        with pytest.raises(TypeError, match="float32 or float64"):
            net.astype(dtype)
        assert net.dtype == np.float64
    assert cl.mlp([3, 2], rng=rng, dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize("x", [np.array([["0.5", "1", "2"]]), np.array([[0.5, None, 2]], dtype=object),
                               [["a", "b", "c"]]])
def test_input_that_is_not_numbers_is_named_whatever_the_call(x, rng):
    """One check where the network takes its input (not numpy's UFuncTypeError from inside a layer)."""
    net = cl.mlp([3, 2], rng=rng)
    for call in (net.forward, net.predict, net.predict_proba):
        with pytest.raises(TypeError, match=r"input must hold numbers, got dtype .*np.asarray\(x, float\)"):
            call(x)
    assert net.predict([[0, 1, 2]]).shape == (1,)  # lists and integers are numbers
