import numpy as np
import pytest

import course_lib as cl


@pytest.mark.parametrize("name, std", [
    ("normal", 1.0),
    ("uniform", np.sqrt(1 / 3)),
    ("fan_in", np.sqrt(1 / 400)),
    ("improved", np.sqrt(1 / 400)),
    ("glorot", np.sqrt(2 / (400 + 300))),
    ("he", np.sqrt(2 / 400)),
])
def test_initialiser_spread(name, std):
    W = cl.init_weights(name, 400, 300, np.random.default_rng(0))
    assert W.shape == (400, 300)
    assert W.std() == pytest.approx(std, rel=0.02)
    assert abs(W.mean()) < 0.02 * std * 10


def test_initialisers_are_seeded_by_the_generator():
    a = cl.mlp([5, 4, 2], rng=np.random.default_rng(3), init="he")
    b = cl.mlp([5, 4, 2], rng=np.random.default_rng(3), init="he")
    c = cl.mlp([5, 4, 2], rng=np.random.default_rng(4), init="he")
    np.testing.assert_array_equal(a.layers[0].params["W"], b.layers[0].params["W"])
    assert not np.array_equal(a.layers[0].params["W"], c.layers[0].params["W"])
    assert not a.layers[0].params["b"].any()


def test_initialiser_errors():
    with pytest.raises(ValueError, match="unknown initialiser 'xavierr'.*glorot"):
        cl.init_weights("xavierr", 3, 2, np.random.default_rng(0))
    with pytest.raises(TypeError, match="default_rng"):
        cl.init_weights("he", 3, 2, None)
    np.testing.assert_array_equal(cl.init_weights("he", 3, 2, 7), cl.init_weights("he", 3, 2, np.random.default_rng(7)))
    for bad in (True, -1, 2.5, np.random.RandomState(0)):
        with pytest.raises(TypeError, match="Generator or a non-negative int seed"):
            cl.as_rng(bad)


def test_sgd_step():
    params, grads = {"W1": np.array([[1.0]]), "b1": np.array([0.5])}, {"W1": np.array([[2.0]]), "b1": np.array([-1.0])}
    cl.SGD(0.1).step(params, grads)
    assert params["W1"][0, 0] == pytest.approx(0.8) and params["b1"][0] == pytest.approx(0.6)


def test_momentum_steps():
    params, grads = {"W1": np.array([[1.0]])}, {"W1": np.array([[2.0]])}
    opt = cl.Momentum(0.1, momentum=0.9)
    opt.step(params, grads)  # v = -0.2
    opt.step(params, grads)  # v = 0.9 * -0.2 - 0.2 = -0.38
    assert params["W1"][0, 0] == pytest.approx(1.0 - 0.2 - 0.38)
    # the course's form: dw <- g + mu dw, w <- w - lr dw
    w, dw = 1.0, 0.0
    for _ in range(2):
        dw = 2.0 + 0.9 * dw
        w -= 0.1 * dw
    assert params["W1"][0, 0] == pytest.approx(w, rel=1e-12)


@pytest.mark.parametrize("lr", [-0.1, 0.0, float("nan"), float("inf")])
def test_bad_learning_rates(lr):
    with pytest.raises(ValueError, match="learning rate must be a positive finite number"):
        cl.SGD(lr)
    with pytest.raises(ValueError, match="learning rate"):
        cl.Momentum(lr)


def test_bad_momentum():
    with pytest.raises(ValueError, match="momentum must be in"):
        cl.Momentum(0.1, momentum=1.0)
    with pytest.raises(ValueError, match="learning rate"):
        cl.SGD(True)


@pytest.mark.parametrize("make", [lambda eps: cl.Adam(0.01, eps=eps), lambda eps: cl.Adagrad(0.01, eps=eps)])
@pytest.mark.parametrize("eps", [0, -1e-8, float("nan"), float("inf"), True])
def test_eps_must_be_a_positive_finite_number(make, eps):
    """ε is added to √G (Adagrad) or √v̂ (Adam) in a denominator: with ε = 0 a weight whose gradients were
    all 0 would take the step 0/0."""
    with pytest.raises(ValueError, match=r"eps must be a positive finite number, got"):
        make(eps)
    assert make(1e-12).eps == 1e-12
