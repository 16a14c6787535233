"""Splitting and preprocessing helpers, on small hand-made arrays."""

import numpy as np
import pytest

from course_lib.data import (
    Standardizer,
    add_bias,
    binary_subset,
    first_n,
    flatten,
    one_hot,
    scale,
    standardize,
    train_val_split,
)

X10 = np.arange(10 * 4, dtype=np.uint8).reshape(10, 2, 2)
Y10 = np.array([0, 1, 2, 3, 2, 3, 9, 2, 3, 1])


# ------------------------------------------------ splits
def test_train_val_split_takes_the_end():
    (Xt, yt), (Xv, yv) = train_val_split(X10, Y10, n_val=3)
    assert Xt.shape == (7, 2, 2) and Xv.shape == (3, 2, 2)
    assert np.array_equal(Xv, X10[-3:]) and np.array_equal(yv, Y10[-3:])
    (Xt, _), (Xv, _) = train_val_split(X10, Y10, n_val=0)
    assert len(Xt) == 10 and len(Xv) == 0


@pytest.mark.parametrize("n_val", [-1, 10, 11])
def test_train_val_split_bad_size(n_val):
    with pytest.raises(ValueError, match="n_val must be between 0 and 9"):
        train_val_split(X10, Y10, n_val=n_val)


def test_first_n():
    X, y = first_n(X10, Y10, 4)
    assert np.array_equal(X, X10[:4]) and y.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="between 1 and 10"):
        first_n(X10, Y10, 11)
    with pytest.raises(TypeError, match="must be an integer"):
        first_n(X10, Y10, 2.5)


def test_length_mismatch():
    with pytest.raises(ValueError, match="same length"):
        first_n(X10, Y10[:5], 2)


def test_binary_subset_relabels_in_order():
    X, y = binary_subset(X10, Y10, classes=(2, 3))
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 0, 1, 0, 1]
    assert np.array_equal(X, X10[[2, 3, 4, 5, 7, 8]])
    _, y = binary_subset(X10, Y10, classes=(3, 2))  # order decides which is 1
    assert y.tolist() == [1, 0, 1, 0, 1, 0]


@pytest.mark.parametrize("classes", [(2, 5), (7, 3)])
def test_binary_subset_absent_class(classes):
    with pytest.raises(ValueError, match="does not occur in y"):
        binary_subset(X10, Y10, classes=classes)


def test_binary_subset_needs_two_different_classes():
    with pytest.raises(ValueError, match="two different labels"):
        binary_subset(X10, Y10, classes=(2, 2))


# ------------------------------------------------ preprocessing
def test_flatten():
    assert flatten(X10).shape == (10, 4)
    assert flatten(X10)[1].tolist() == [4, 5, 6, 7]
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        flatten(np.arange(3))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scale(dtype):
    out = scale(np.array([[0, 51, 255]], np.uint8), dtype=dtype)
    assert out.dtype == dtype and np.allclose(out, [[0, 0.2, 1]])


def test_scale_rejects_floats_and_out_of_range():
    with pytest.raises(TypeError, match="already scaled"):
        scale(np.array([0.5]))
    with pytest.raises(ValueError, match="0..255"):
        scale(np.array([0, 300]))
    with pytest.raises(TypeError, match="float32 or float64"):
        scale(np.array([1], np.uint8), dtype=np.int32)


def test_standardizer_is_global_and_population_std():
    X = np.array([[0, 2], [4, 6]], np.uint8)
    st = Standardizer.fit(X)
    assert st.mean == 3.0 and st.std == pytest.approx(np.std([0, 2, 4, 6]))  # ddof=0
    assert np.allclose(st.transform(X), (X - 3.0) / np.std([0, 2, 4, 6]))


def test_standardizer_chunks_agree_with_numpy():
    X = np.random.default_rng(0).integers(0, 256, (20000, 7), dtype=np.uint8)
    st = Standardizer.fit(X)
    assert st.mean == pytest.approx(X.mean(), rel=1e-12) and st.std == pytest.approx(X.std(), rel=1e-12)


def test_standardize_uses_training_statistics_only():
    train, other = np.array([[0.0, 2.0]]), np.array([[10.0, 12.0]])
    tr, ot = standardize(train, other)
    assert tr.tolist() == [[-1.0, 1.0]]
    assert ot.tolist() == [[9.0, 11.0]]
    (only,) = standardize(train)
    assert only.shape == (1, 2)


def test_standardizer_rejects_constant_data():
    with pytest.raises(ValueError, match="std is 0"):
        Standardizer.fit(np.ones((3, 3)))


def test_one_hot():
    out = one_hot(np.array([2, 0, 1]), 4)
    assert out.shape == (3, 4) and out.dtype == np.float64
    assert out.tolist() == [[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]]


@pytest.mark.parametrize("labels", [[0, 10], [-1, 2]])
def test_one_hot_out_of_range(labels):
    with pytest.raises(ValueError, match=r"labels must lie in 0..9"):
        one_hot(np.array(labels), 10)


def test_one_hot_needs_integer_labels():
    # the one label check of the course: whole-number floats (as np.loadtxt gives) are labels too
    assert one_hot(np.array([0.0, 1.0]), 2).tolist() == [[1, 0], [0, 1]]
    for bad in ([0.5, 1.0], [np.nan, 1.0]):
        with pytest.raises(ValueError, match="integer class indices"):
            one_hot(np.array(bad), 2)


def test_add_bias_appends_ones_last():
    out = add_bias(np.array([[0.5, 0.25], [1.0, 0.0]]))
    assert out.tolist() == [[0.5, 0.25, 1.0], [1.0, 0.0, 1.0]]
    with pytest.raises(ValueError, match="flatten first"):
        add_bias(X10)
