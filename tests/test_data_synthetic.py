"""The synthetic sets: shapes, conventions, determinism, and the rules that define them."""

import numpy as np
import pytest

from course_lib.data import ELLIPSE_A as SYNTH_A, ELLIPSE_THRESHOLD as SYNTH_THRESHOLD, make_moons, make_ellipse as make_synth


def test_synth_default_sizes_and_conventions():
    (Xt, yt), (Xv, yv) = make_synth(rng=0)
    assert Xt.shape == (60000, 2) and Xv.shape == (10000, 2)
    assert Xt.dtype == np.float64 and yt.dtype == np.int64 and yt.shape == (60000,)
    assert set(np.unique(yt)) == {0, 1}
    assert 0.45 < yt.mean() < 0.55  # roughly balanced
    assert abs(Xt.mean()) < 0.02 and abs(Xt.std() - 1) < 0.02  # standard normal


def test_synth_sizes_adjustable():
    (Xt, yt), (Xv, yv) = make_synth(100, 7, rng=1)
    assert Xt.shape == (100, 2) and yv.shape == (7,)


def test_synth_labels_follow_the_ellipse():
    (X, y), _ = make_synth(1000, 0, rng=2)
    q = np.array([x @ SYNTH_A @ x for x in X])
    assert np.array_equal(y, (q < SYNTH_THRESHOLD).astype(int))
    assert np.allclose(SYNTH_A, SYNTH_A.T) and np.all(np.linalg.eigvalsh(SYNTH_A) > 0)  # an ellipse


def test_synth_is_deterministic():
    a = make_synth(500, 100, rng=7)
    b = make_synth(500, 100, rng=np.random.default_rng(7))
    c = make_synth(500, 100, rng=8)
    for (xa, ya), (xb, yb) in zip(a, b):
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb)
    assert not np.array_equal(a[0][0], c[0][0])


def test_moons_shape_and_balance():
    X, y = make_moons(rng=0)
    assert X.shape == (200, 2) and X.dtype == np.float64
    assert y.shape == (200,) and y.dtype == np.int64 and int(y.sum()) == 100
    assert len(set(y[:20])) == 2  # shuffled: a prefix holds both classes


def test_moons_without_noise_lie_on_the_half_circles():
    X, y = make_moons(101, noise=0.0, rng=0)
    upper, lower = X[y == 0], X[y == 1]
    assert len(upper) == 50 and len(lower) == 51
    assert np.allclose(np.hypot(*upper.T), 1) and np.all(upper[:, 1] >= -1e-12)
    assert np.allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1) and np.all(lower[:, 1] <= 0.5 + 1e-12)


def test_moons_noise_level():
    clean, y0 = make_moons(2000, noise=0.0, rng=3)
    noisy, y1 = make_moons(2000, noise=0.2, rng=3)
    assert np.array_equal(y0, y1)  # same shuffle for the same seed
    assert np.std(noisy - clean) == pytest.approx(0.2, rel=0.05)


def test_moons_is_deterministic():
    a, b = make_moons(rng=5), make_moons(rng=np.random.default_rng(5))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], make_moons(rng=6)[0])


def test_rng_is_required_and_global_state_untouched():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    make_synth(10, 10, rng=0)
    make_moons(rng=0)
    assert np.array_equal(np.random.get_state()[1], before)
    with pytest.raises(TypeError):
        make_moons()
    with pytest.raises(TypeError, match="int seed"):
        make_synth(rng=None)


def test_bad_sizes():
    with pytest.raises(ValueError):
        make_moons(1, rng=0)
    with pytest.raises(ValueError):
        make_moons(noise=-0.1, rng=0)
    with pytest.raises(ValueError):
        make_synth(0, 5, rng=0)
