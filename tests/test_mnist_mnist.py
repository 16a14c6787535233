"""MNIST loading: folder choice, verification, the real data, and the course's splits.

Tests that need the real files find them through WORKBOOK_MNIST_DIR or, if
that is unset, at ../shared/data/mnist beside the checkout. They are skipped
only when the files are truly absent, and never on CI (CI=true).
"""

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from course_lib.data import Standardizer, binary_subset, first_n, flatten
from workbook_tools.mnist import (
    MNIST,
    MNIST_FILES,
    DataError,
    FileCheck,
    default_mnist_dir,
    load_mnist,
    mnist_dir,
    mnist_splits,
    verify_content,
    verify_file,
)
from workbook_tools.mnist.download import existing_file
from workbook_tools.mnist.idx import read_bytes

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def real_dir():
    env = os.environ.get("WORKBOOK_MNIST_DIR")
    folder = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
    missing = [s for s in MNIST_FILES if not (folder / s).is_file() and not (folder / f"{s}.gz").is_file()]
    if missing:
        where = f"{folder} (from WORKBOOK_MNIST_DIR)" if env else f"{folder} (WORKBOOK_MNIST_DIR is unset)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the real-data tests, but {missing} are missing in {where}")
        pytest.skip(f"real MNIST data absent: {missing} not in {where}")
    return folder


@pytest.fixture(scope="module")
def mnist(real_dir):
    return load_mnist(real_dir, download=False)


# ------------------------------------------------ choosing the folder (no data needed)
def test_folder_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("WORKBOOK_MNIST_DIR", raising=False)
    assert mnist_dir() == default_mnist_dir().resolve()
    assert default_mnist_dir() == Path(__file__).resolve().parents[1] / "data" / "mnist"
    monkeypatch.setenv("WORKBOOK_MNIST_DIR", str(tmp_path / "env"))
    assert mnist_dir() == tmp_path / "env"
    assert mnist_dir(tmp_path / "arg") == tmp_path / "arg"  # the argument wins


def test_missing_files_without_download(tmp_path):
    with pytest.raises(DataError) as info:
        load_mnist(tmp_path, download=False)
    msg = str(info.value)
    assert str(tmp_path) in msg and "WORKBOOK_MNIST_DIR" in msg
    assert all(f"{stem}.gz" in msg for stem in MNIST_FILES)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------ the real data
def test_shapes_dtypes_read_only(mnist):
    assert isinstance(mnist, MNIST)
    assert mnist.train_images.shape == (60000, 28, 28) and mnist.train_images.dtype == np.uint8
    assert mnist.train_labels.shape == (60000,) and mnist.train_labels.dtype == np.uint8
    assert mnist.test_images.shape == (10000, 28, 28) and mnist.test_images.dtype == np.uint8
    assert mnist.test_labels.shape == (10000,) and mnist.test_labels.dtype == np.uint8
    for arr in (mnist.train_images, mnist.train_labels, mnist.test_images, mnist.test_labels):
        assert not arr.flags.writeable  # shared through the cache: nobody may change it
    assert "60000, 28, 28" in repr(mnist)


def test_label_distribution(mnist):
    assert np.bincount(mnist.train_labels, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist.test_labels, minlength=10).tolist() == TEST_COUNTS
    assert mnist.train_images.max() == 255 and mnist.train_images.min() == 0


def test_checksum_table_matches_files(real_dir):
    for stem, check in MNIST_FILES.items():
        path = existing_file(real_dir, stem)
        content = read_bytes(path)
        assert len(content) == check.size
        # Both digests of the table, each on its own.
        verify_content(content, FileCheck(check.size, sha256=check.sha256), source=str(path))
        verify_content(content, FileCheck(check.size, md5=check.md5), source=str(path))
        assert len(verify_file(path, check)) == check.size


def test_loading_twice_is_cached(real_dir, mnist):
    again = load_mnist(real_dir, download=False)
    assert again is mnist
    assert again.train_images is mnist.train_images


def test_ntnu_mean_std_of_first_20000(mnist):
    X, _ = first_n(flatten(mnist.train_images), mnist.train_labels, 20000)
    st = Standardizer.fit(X)
    assert round(st.mean, 4) == 33.5527
    assert round(st.std, 4) == 78.8755  # population std (ddof=0)


def test_vu_split_sizes(real_dir):
    (X_tr, y_tr), (X_val, y_val), (X_te, y_te) = mnist_splits(real_dir, download=False)
    assert X_tr.shape == (55000, 784) and X_val.shape == (5000, 784) and X_te.shape == (10000, 784)
    assert y_tr.shape == (55000,) and y_tr.dtype == np.int64
    assert X_tr.dtype == np.float64 and 0.0 <= X_tr.min() and X_tr.max() == 1.0


def test_validation_is_the_end_of_the_training_set(real_dir, mnist):
    _, (X_val, y_val), _ = mnist_splits(real_dir, normalize="none", download=False)
    assert np.array_equal(X_val, flatten(mnist.train_images[-5000:]))
    assert np.array_equal(y_val, mnist.train_labels[-5000:])


def test_ntnu_first_20000_standardised(real_dir):
    (X_tr, y_tr), val, test = mnist_splits(real_dir, first=20000, n_val=0, normalize="standardize", download=False)
    assert X_tr.shape == (20000, 784) and len(val[0]) == 0 and len(test[0]) == 10000
    # Training statistics only: the training part is exactly mean 0, std 1.
    assert abs(X_tr.mean()) < 1e-9 and abs(X_tr.std() - 1) < 1e-9
    assert abs(test[0].mean()) > 1e-3  # the test set got the training statistics, not its own


def test_binary_2_vs_3(real_dir, mnist):
    n_train = int(np.isin(mnist.train_labels[:20000], (2, 3)).sum())
    n_test = int(np.isin(mnist.test_labels, (2, 3)).sum())
    n_threes = int((mnist.train_labels[:20000] == 3).sum())
    (X_tr, y_tr), _, (X_te, y_te) = mnist_splits(real_dir, first=20000, classes=(2, 3), n_val=0, bias=True, download=False)
    assert len(y_tr) == n_train and len(y_te) == n_test == TEST_COUNTS[2] + TEST_COUNTS[3]
    assert set(np.unique(y_tr)) == {0, 1} and int(y_tr.sum()) == n_threes
    assert X_tr.shape == (n_train, 785) and np.all(X_tr[:, -1] == 1)
    # the same subset by hand
    _, y_hand = binary_subset(*first_n(flatten(mnist.train_images), mnist.train_labels, 20000))
    assert np.array_equal(y_hand, y_tr)


# ------------------------------------------------ damaged files are named, never used
def _real_gz(real_dir, stem) -> bytes:
    """The real file's bytes, gzipped (the real folder may hold either form)."""
    data = existing_file(real_dir, stem).read_bytes()
    return data if data.startswith(b"\x1f\x8b") else gzip.compress(data, compresslevel=1)


def _folder_with(tmp_path, real_dir, replace: dict[str, bytes]):
    """A folder with copies of the real files, some replaced by the given bytes."""
    for stem in MNIST_FILES:
        target = tmp_path / f"{stem}.gz"
        if stem in replace:
            target.write_bytes(replace[stem])
        else:
            shutil.copyfile(existing_file(real_dir, stem), target)  # gzip or not: content decides
    return tmp_path


def test_corrupted_file_is_named(tmp_path, real_dir):
    stem = "t10k-labels-idx1-ubyte"
    content = bytearray(gzip.decompress(_real_gz(real_dir, stem)))
    content[100] = (content[100] + 1) % 10  # one label changed: still valid IDX
    folder = _folder_with(tmp_path, real_dir, {stem: gzip.compress(bytes(content))})
    with pytest.raises(DataError, match="corrupted") as info:
        load_mnist(folder, download=False)
    assert str(folder / f"{stem}.gz") in str(info.value) and "Delete it" in str(info.value)


def test_truncated_file_is_named(tmp_path, real_dir):
    stem = "train-labels-idx1-ubyte"
    blob = _real_gz(real_dir, stem)
    folder = _folder_with(tmp_path, real_dir, {stem: blob[: len(blob) // 2]})
    with pytest.raises(DataError, match="damaged gzip") as info:
        load_mnist(folder, download=True)  # present-but-damaged is reported, not re-downloaded
    assert str(folder / f"{stem}.gz") in str(info.value)


def test_file_damaged_after_loading_is_not_hidden_by_cache(tmp_path, real_dir):
    folder = _folder_with(tmp_path, real_dir, {})
    assert load_mnist(folder, download=False).test_labels.shape == (10000,)
    stem = "t10k-labels-idx1-ubyte"
    (folder / f"{stem}.gz").unlink()
    (folder / f"{stem}.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + b"abc"))
    with pytest.raises(DataError, match="wrong size"):
        load_mnist(folder, download=False)
