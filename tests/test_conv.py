"""Convolutional networks (notebook 08): conv and pool against their definition and finite
differences, the new layers, the course's network, and the train/evaluation switch."""
import numpy as np
import pytest

import course_lib as cl
from course_lib import conv

CASES = [  # (N, C, H, W), (F, kh, kw), stride, pad
    ((2, 3, 7, 6), (4, 3, 3), 1, "same"),
    ((2, 2, 8, 9), (3, 5, 5), 2, "valid"),
    ((1, 1, 5, 5), (2, 3, 3), 2, 1),
    ((3, 2, 6, 7), (2, 4, 2), 3, 2),
    ((2, 1, 9, 9), (2, 5, 5), 1, "same"),
    ((1, 4, 4, 4), (1, 4, 4), 1, "valid"),  # the kernel covers the whole image
]


def case(shape, kernel, seed=0):
    rng = np.random.default_rng(seed)
    F, kh, kw = kernel
    x = rng.standard_normal(shape)
    return x, rng.standard_normal((F, shape[1], kh, kw)), rng.standard_normal(F)


@pytest.mark.parametrize("shape, kernel, stride, pad", CASES)
def test_fast_convolution_agrees_with_the_loops(shape, kernel, stride, pad):
    x, W, b = case(shape, kernel)
    out = conv.conv_forward_naive(x, W, b, stride, pad)
    np.testing.assert_allclose(conv.conv_forward(x, W, b, stride, pad), out, rtol=0, atol=1e-12)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    loops = conv.conv_backward_naive(dout, x, W, stride, pad)
    for fast, loop in zip(conv.conv_backward(dout, x, W, stride, pad), loops):
        assert fast.shape == loop.shape
        np.testing.assert_allclose(fast, loop, rtol=0, atol=1e-12)


def test_the_loop_version_is_the_definition():
    # one 3x3 image, one 2x2 kernel, no flipping: out[i, j] = Σ x[i+u, j+v] W[u, v] + b
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    W = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    out = conv.conv_forward_naive(x, W, np.array([0.5]))
    expected = [[0 + 2 + 9 + 16 + 0.5, 1 + 4 + 12 + 20 + 0.5], [3 + 8 + 18 + 28 + 0.5, 4 + 10 + 21 + 32 + 0.5]]
    np.testing.assert_array_equal(out[0, 0], expected)
    assert conv.conv_forward_naive(x, W, [0.0], pad="valid").shape == (1, 1, 2, 2)
    assert conv.conv_forward(np.zeros((1, 1, 28, 28)), np.zeros((2, 1, 5, 5)), np.zeros(2), 2, "same").shape \
        == (1, 2, 14, 14)


@pytest.mark.parametrize("shape, kernel, stride, pad", CASES)
def test_convolution_gradients_against_finite_differences(shape, kernel, stride, pad):
    x, W, b = case(shape, kernel, seed=2)
    dout = np.random.default_rng(3).standard_normal(conv.conv_forward(x, W, b, stride, pad).shape)
    dx, dW, db = conv.conv_backward(dout, x, W, stride, pad)
    loss = lambda: float(np.sum(conv.conv_forward(x, W, b, stride, pad) * dout))  # noqa: E731
    for analytic, value in ((dx, x), (dW, W), (db, b)):
        assert cl.rel_error(analytic, cl.numerical_gradient(loss, value)) < 1e-6


@pytest.mark.parametrize("shape, size", [((2, 3, 6, 8), 2), ((1, 2, 7, 5), 2), ((2, 1, 9, 9), 3)])
def test_max_pooling_loops_fast_and_finite_differences(shape, size):
    rng = np.random.default_rng(4)
    x = rng.permutation(np.prod(shape)).reshape(shape) / 7.0  # distinct values: no ties
    out = conv.maxpool_forward_naive(x, size)
    assert out.shape == (shape[0], shape[1], shape[2] // size, shape[3] // size)
    np.testing.assert_array_equal(conv.maxpool_forward(x, size), out)
    dout = rng.standard_normal(out.shape)
    dx = conv.maxpool_backward(dout, x, size)
    np.testing.assert_allclose(dx, conv.maxpool_backward_naive(dout, x, size), rtol=0, atol=1e-12)
    numeric = cl.numerical_gradient(lambda: float(np.sum(conv.maxpool_forward(x, size) * dout)), x)
    assert cl.rel_error(dx, numeric) < 1e-6


def test_max_pooling_ties_send_the_gradient_to_the_first_maximum_only():
    x = np.array([[[[1.0, 1.0, 0.0, 0.0],
                    [0.0, 1.0, 0.0, 0.0],
                    [2.0, 0.0, 5.0, 3.0],
                    [0.0, 2.0, 3.0, 5.0]]]])
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    expected = np.array([[[[1.0, 0.0, 2.0, 0.0],
                           [0.0, 0.0, 0.0, 0.0],
                           [3.0, 0.0, 4.0, 0.0],
                           [0.0, 0.0, 0.0, 0.0]]]])
    for backward in (conv.maxpool_backward, conv.maxpool_backward_naive):
        np.testing.assert_array_equal(backward(dout, x), expected)
    # ReLU outputs tie at 0 all the time: loops and fast path agree there too
    rng = np.random.default_rng(5)
    x = np.maximum(rng.integers(-3, 3, (3, 4, 6, 6)).astype(float), 0)
    dout = rng.standard_normal((3, 4, 3, 3))
    np.testing.assert_array_equal(conv.maxpool_backward(dout, x), conv.maxpool_backward_naive(dout, x))
    assert np.isclose(conv.maxpool_backward(dout, x).sum(), dout.sum())  # no gradient counted twice


def test_the_fast_path_keeps_float32():
    x, W, b = (a.astype(np.float32) for a in case((2, 3, 8, 8), (4, 3, 3)))
    out = conv.conv_forward(x, W, b, 1, "same")
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in conv.conv_backward(np.ones_like(out), x, W, 1, "same"))
    assert conv.maxpool_backward(np.ones((2, 3, 4, 4), np.float32), x).dtype == np.float32


@pytest.mark.parametrize("call, message", [
    (lambda: conv.conv_forward(np.zeros((1, 1, 3, 3)), np.zeros((2, 1, 5, 5)), np.zeros(2)),
     "a 5x5 kernel does not fit in 3x3 images padded by 0"),
    (lambda: conv.conv_forward(np.zeros((1, 3, 8, 8)), np.zeros((2, 1, 3, 3)), np.zeros(2)),
     "the images have 3 channels but the kernels expect 1: in_channels of this layer must be 3"),
    (lambda: conv.conv_forward(np.zeros((4, 784)), np.zeros((2, 1, 3, 3)), np.zeros(2)),
     r"images must be \(batch, channels, height, width\), got shape \(4, 784\).*reshape\(-1, 1, 28, 28\)"),
    (lambda: conv.conv_forward(np.zeros((1, 1, 8, 8)), np.zeros((2, 1, 4, 4)), np.zeros(2), 1, "same"),
     "'same' padding needs an odd kernel size, got 4x4"),
    (lambda: conv.conv_forward(np.zeros((1, 1, 8, 8)), np.zeros((2, 1, 3, 3)), np.zeros(2), 0),
     "stride must be a whole number >= 1"),
    (lambda: conv.conv_forward(np.zeros((1, 1, 8, 8)), np.zeros((2, 1, 3, 3)), np.zeros(2), 1, "full"),
     "pad must be 'same', 'valid' or a whole number"),
    (lambda: conv.maxpool_forward(np.zeros((1, 1, 1, 5))), "a 2x2 pool does not fit in 1x5 images"),
    (lambda: conv.Conv2D(np.zeros((2, 1, 3, 3)), np.zeros(3)), r"b must have shape \(2,\), one bias per kernel"),
    (lambda: cl.Dropout(1.0, rng=0), r"dropout rate must be in \[0, 1\)"),
    (lambda: cl.Maxout(2).forward(np.zeros((1, 3, 2, 2))), "needs a multiple of 2 channels, got 3"),
])
def test_bad_shapes_say_what_to_fix(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_training_a_cnn_on_flat_rows_says_how_to_reshape():
    net = cl.cnn(rng=0, channels=(2,), fc=4, image=(1, 6, 6), classes=2)
    with pytest.raises(ValueError, match=r"reshape\(-1, 1, 28, 28\)"):
        cl.train(net, (np.zeros((8, 36)), np.zeros(8, int)), epochs=1, rng=0)


# --- layers and the whole network ------------------------------------------------------

def tiny_cnn(activation="relu", dropout=0.5, seed=0):
    return cl.cnn(rng=seed, channels=(2, 3), fc=5, image=(1, 8, 8), classes=3, activation=activation,
                  dropout=dropout, bias=0.1)


def tiny_data(seed=1, n=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 8, 8)), rng.integers(0, 3, n)


@pytest.mark.parametrize("activation", ["relu", "tanh", "leaky_relu", "maxout"])
def test_the_whole_cnn_against_finite_differences(activation):
    net, (X, y) = tiny_cnn(activation), tiny_data()
    with net.evaluating():  # dropout off: a deterministic network
        check = cl.check_model(net, X, y, l2=0.01)
    assert check.ok, check
    assert set(check.errors) == {"W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4"}
    dropout = next(layer for layer in net.layers if isinstance(layer, cl.Dropout))
    dropout.frozen = True  # in training mode, with one fixed mask for every pass
    net.train()
    check = cl.check_model(net, X, y)
    assert check.ok, check
    assert 0 < np.count_nonzero(dropout.mask) < dropout.mask.size


def test_dropout_with_a_fixed_mask_against_finite_differences():
    layer, x = cl.Dropout(0.3, rng=0), np.random.default_rng(2).standard_normal((5, 7))
    layer.frozen = True
    dout = np.random.default_rng(3).standard_normal(x.shape)
    layer.forward(x)
    dx = layer.backward(dout)
    numeric = cl.numerical_gradient(lambda: float(np.sum(layer.forward(x) * dout)), x)
    assert cl.rel_error(dx, numeric) < 1e-6
    assert set(np.unique(layer.mask)) <= {0.0, 1 / 0.7}


def test_flatten_and_maxout_against_finite_differences():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 4, 3, 3))
    for layer in (cl.Flatten(), cl.Maxout(2)):
        out = layer.forward(x)
        dout = rng.standard_normal(out.shape)
        dx = layer.backward(dout)
        assert dx.shape == x.shape
        numeric = cl.numerical_gradient(lambda: float(np.sum(layer.forward(x) * dout)), x)
        assert cl.rel_error(dx, numeric) < 1e-6
    assert cl.Flatten().forward(x).shape == (2, 36) and cl.Maxout(2).forward(x).shape == (2, 2, 3, 3)


def test_dropout_is_inverted_seeded_and_off_when_evaluating():
    x = np.ones((2000, 50))
    a, b = cl.Dropout(0.5, rng=np.random.default_rng(7)), cl.Dropout(0.5, rng=7)
    out = a.forward(x)
    np.testing.assert_array_equal(out, b.forward(x))  # an int seed becomes the same Generator
    assert set(np.unique(out)) == {0.0, 2.0} and abs(out.mean() - 1.0) < 0.01  # the expectation is kept
    np.testing.assert_array_equal(a.backward(np.ones_like(x)), out)
    a.training = False
    np.testing.assert_array_equal(a.forward(x), x)
    np.testing.assert_array_equal(a.backward(x), x)


def test_the_network_switches_dropout_off_for_evaluation_and_predictions():
    net, (X, y) = tiny_cnn(dropout=0.9), tiny_data(n=64)
    assert net.training
    first = net.forward(X)
    assert not np.allclose(first, net.forward(X))  # training mode: a new mask every pass
    with net.evaluating():
        assert not net.training
        np.testing.assert_array_equal(net.forward(X), net.forward(X))
        logits = net.forward(X)
    assert net.training  # put back
    np.testing.assert_array_equal(net.predict(X), logits.argmax(axis=1))
    assert net.training
    loss, acc = cl.evaluate(net, X, y, chunk=10)
    assert loss == pytest.approx(cl.softmax_cross_entropy(logits, y)[0]) and acc == net.accuracy(X, y)


def test_the_trainer_trains_with_dropout_and_leaves_the_model_evaluating():
    net, (X, y) = tiny_cnn(), tiny_data(n=40)
    modes = []

    class Spy(cl.Callback):
        def on_step_end(self, loop):
            modes.append(loop.model.training)

    h = cl.train(net, (X, y), (X, y), optimizer=cl.Adam(0.01), epochs=15, batch_size=8, rng=0, callbacks=[Spy()])
    assert all(modes) and not net.training
    assert h.epoch_loss[-1] < h.epoch_loss[0]
    assert h.val_loss[-1] == pytest.approx(cl.evaluate(net, X, y)[0])


def test_the_course_network_has_3274634_parameters():
    net = cl.course_cnn(0, dtype=np.float32)
    assert net.num_params == cl.conv.COURSE_CNN_PARAMS == 3_274_634
    shapes = {name: p.shape for name, p in net.params.items()}
    assert shapes == {"W1": (32, 1, 5, 5), "b1": (32,), "W2": (64, 32, 5, 5), "b2": (64,),
                      "W3": (3136, 1024), "b3": (1024,), "W4": (1024, 10), "b4": (10,)}
    assert np.all(net.params["b1"] == np.float32(0.1)) and np.abs(net.params["W2"]).max() <= 0.2
    x = np.zeros((2, 1, 28, 28), np.float32)
    sizes = []
    for layer in net.layers:
        x = layer.forward(x)
        sizes.append(x.shape[1:])
    assert sizes[:3] == [(32, 28, 28)] * 2 + [(32, 14, 14)] and sizes[5] == (64, 7, 7) and sizes[6] == (3136,)
    assert x.shape == (2, 10) and x.dtype == np.float32


def test_truncated_normal_and_kernel_fans():
    W = cl.init_kernel("truncated_normal", (64, 32, 5, 5), np.random.default_rng(0))
    assert W.shape == (64, 32, 5, 5) and np.abs(W).max() <= 0.2
    assert W.std() == pytest.approx(0.1 * 0.8796, rel=0.02)  # a normal cut at ±2σ keeps 88 % of its std
    He = cl.init_kernel("he", (64, 32, 5, 5), 0)
    assert He.std() == pytest.approx(np.sqrt(2 / (32 * 25)), rel=0.02)
    glorot = cl.init_kernel("glorot", (64, 32, 5, 5), 0)
    assert np.abs(glorot).max() <= np.sqrt(6 / (32 * 25 + 64 * 25))


def test_leaky_relu():
    x = np.array([-2.0, -0.5, 0.0, 3.0])
    np.testing.assert_allclose(cl.leaky_relu(x), [-0.02, -0.005, 0.0, 3.0])
    assert cl.check_function(cl.leaky_relu, cl.leaky_relu_grad, [-1.3, -0.2, 0.4, 2.0]).ok
    f, _, through_output = cl.ACTIVATIONS["leaky_relu"]
    np.testing.assert_array_equal(through_output(f(x)), cl.leaky_relu_grad(x))


# --- Adagrad and Adam: the published update rules, worked by hand for two steps ----------

def test_adagrad_two_steps_by_hand():
    # Duchi et al. (2011): G <- G + g², w <- w - lr g / (√G + eps); w = 1, lr = 0.1, g = 2 then -1
    params = {"W1": np.array([1.0])}
    opt = cl.Adagrad(lr=0.1)
    opt.step(params, {"W1": np.array([2.0])})   # G = 4: w = 1 - 0.1 · 2/(2 + 1e-10) = 0.9 (+ 5e-12)
    assert params["W1"][0] == pytest.approx(0.9, abs=1e-11)
    opt.step(params, {"W1": np.array([-1.0])})  # G = 5: w = 0.9 + 0.1/√5 = 0.944721359549996
    assert params["W1"][0] == pytest.approx(0.944721359549996, abs=1e-11)


def test_adam_two_steps_by_hand():
    # Kingma and Ba (2015), Algorithm 1, β1 = 0.9, β2 = 0.999, eps = 1e-8; w = 1, lr = 0.1, g = 2 then -1
    params = {"W1": np.array([1.0])}
    opt = cl.Adam(lr=0.1)
    # t = 1: m = 0.2, v = 0.004; m̂ = 0.2/0.1 = 2, v̂ = 0.004/0.001 = 4: w = 1 - 0.1 · 2/(2 + 1e-8)
    opt.step(params, {"W1": np.array([2.0])})
    assert params["W1"][0] == pytest.approx(0.9, abs=1e-9)
    # t = 2: m = 0.18 - 0.1 = 0.08, v = 0.003996 + 0.001 = 0.004996;
    # m̂ = 0.08/0.19 = 0.421052631578947, v̂ = 0.004996/0.001999 = 2.499249624812406, √v̂ = 1.580901522807
    # w = 0.9 - 0.1 · 0.421052631578947/1.580901522807 = 0.9 - 0.026633704 = 0.873366296
    opt.step(params, {"W1": np.array([-1.0])})
    assert params["W1"][0] == pytest.approx(0.873366296, abs=1e-9)
    assert opt.t == 2 and opt.m["W1"][0] == pytest.approx(0.08) and opt.v["W1"][0] == pytest.approx(0.004996)


def test_optimisers_keep_the_dtype_and_reject_bad_settings():
    for opt in (cl.Adam(0.01), cl.Adagrad(0.01)):
        p = {"W1": np.ones(3, np.float32)}
        opt.step(p, {"W1": np.ones(3, np.float32)})
        assert p["W1"].dtype == np.float32
    with pytest.raises(ValueError, match="beta1 and beta2"):
        cl.Adam(beta1=1.0)
    with pytest.raises(ValueError, match="learning rate"):
        cl.Adagrad(lr=0)


@pytest.mark.parametrize("build, message", [
    (lambda: cl.Conv2D(np.zeros((2, 1, 3, 3)), pad="bogus"), "pad must be 'same', 'valid' or a whole number >= 0,"
                                                             " got 'bogus'"),
    (lambda: cl.Conv2D(np.zeros((2, 1, 3, 3)), pad=-1), "pad must be 'same', 'valid' or a whole number >= 0"),
    (lambda: cl.Conv2D(np.zeros((2, 1, 3, 3)), stride=0), r"stride must be a whole number >= 1 \(an int\), got 0"),
    (lambda: cl.Conv2D(np.zeros((2, 1, 3, 3)), stride=1.5), "stride must be a whole number >= 1"),
    (lambda: cl.Conv2D(np.zeros((2, 1, 4, 4))), "'same' padding needs an odd kernel size, got 4x4"),
    (lambda: cl.MaxPool2D(0), r"pool size must be a whole number >= 1 \(an int\), got 0"),
    (lambda: cl.MaxPool2D(1.5), "pool size must be a whole number >= 1"),
    (lambda: conv.maxpool_forward(np.zeros((1, 1, 4, 4)), 0), "pool size must be a whole number >= 1"),
    (lambda: cl.Maxout(0), "maxout group size k must be a whole number >= 1"),
])
def test_bad_layer_settings_are_refused_when_the_layer_is_built(build, message):
    """Not at the first forward pass (MaxPool2D(0) was a ZeroDivisionError there)."""
    with pytest.raises(ValueError, match=message):
        build()


def test_conv2d_init_checks_stride_and_pad_before_drawing_weights():
    rng = np.random.default_rng(0)
    for options in ({"stride": 0}, {"pad": "bogus"}):
        with pytest.raises(ValueError, match="stride|pad"):
            cl.Conv2D.init(1, 2, 3, rng=rng, **options)
    assert rng.random() == np.random.default_rng(0).random()  # the generator was not advanced
    layer = cl.Conv2D.init(1, 2, 3, rng=rng, stride=np.int64(2), pad=np.int64(1))
    assert layer.forward(np.ones((1, 1, 5, 5))).shape == (1, 2, 3, 3)
