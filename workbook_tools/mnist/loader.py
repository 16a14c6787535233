"""Loading MNIST: find the folder, download what is missing, verify, parse.

Which folder (first match wins):

1. the ``data_dir`` argument;
2. the environment variable ``WORKBOOK_MNIST_DIR``;
3. ``data/mnist/`` in the workbook (next to the ``course_lib`` package).

Relative paths are relative to the current working directory.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .checksums import MNIST_FILES, verify_file
from .errors import DataError
from .download import ENV_VAR, download_missing, existing_file
from .idx import check_pair, parse_idx
from course_lib.data import Standardizer, add_bias, binary_subset, first_n, flatten, scale, train_val_split

__all__ = ["MNIST", "default_mnist_dir", "mnist_dir", "load_mnist", "clear_mnist_cache", "mnist_splits"]


@dataclass(frozen=True, eq=False, repr=False)
class MNIST:
    """The four MNIST arrays (read-only: they are shared by every caller).

    Attributes
    ----------
    train_images : uint8 (60000, 28, 28)
    train_labels : uint8 (60000,)
    test_images : uint8 (10000, 28, 28)
    test_labels : uint8 (10000,)
    data_dir : Path, the folder the files were read from.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    data_dir: Path

    @property
    def train(self) -> tuple[np.ndarray, np.ndarray]:
        """(train_images, train_labels)"""
        return self.train_images, self.train_labels

    @property
    def test(self) -> tuple[np.ndarray, np.ndarray]:
        """(test_images, test_labels)"""
        return self.test_images, self.test_labels

    def __repr__(self) -> str:
        return (
            f"MNIST(train_images={self.train_images.shape}, test_images={self.test_images.shape}, "
            f"data_dir='{self.data_dir}')"
        )


def default_mnist_dir() -> Path:
    """``<workbook>/data/mnist``, the folder used when nothing else is said."""
    return Path(__file__).resolve().parents[2] / "data" / "mnist"


def mnist_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder MNIST is read from: ``data_dir``, else $WORKBOOK_MNIST_DIR, else the default."""
    if data_dir is None:
        data_dir = os.environ.get(ENV_VAR) or default_mnist_dir()
    return Path(data_dir).expanduser().resolve()


def load_mnist(data_dir: str | os.PathLike | None = None, *, download: bool = True, progress: bool = True) -> MNIST:
    """Load MNIST from ``data_dir`` (see :func:`mnist_dir`), downloading missing files.

    Each file may be gzipped or not. Its decompressed content is checked
    (size and sha256) on every load, so a damaged file is named, never used.
    Files that are present are never overwritten. The arrays are cached in
    this process (keyed by the files' paths, sizes and modification times),
    so calling this in several notebook cells costs nothing after the first.

    Parameters
    ----------
    data_dir : folder with the four files; default $WORKBOOK_MNIST_DIR or data/mnist.
    download : fetch missing files from the public mirrors.
    progress : show download progress bars.

    Returns
    -------
    MNIST with read-only uint8 arrays.

    Raises
    ------
    DataError
        A file is missing (and download=False), damaged, or could not be
        downloaded (:class:`DownloadError`). The message says what to do.
    """
    folder = mnist_dir(data_dir)
    missing = [stem for stem in MNIST_FILES if existing_file(folder, stem) is None]
    if missing and not download:
        names = "\n".join(f"    {stem}.gz" for stem in missing)
        raise DataError(
            f"MNIST files missing in {folder}:\n{names}\n"
            "Call load_mnist(download=True) to download them, put them there yourself "
            f"(gzipped or not), or set {ENV_VAR} to a folder that holds all four."
        )
    if download:  # also clears what a killed download left behind
        download_missing(folder, progress=progress)
    paths = [existing_file(folder, stem) for stem in MNIST_FILES]
    # The stat in the key makes a replaced or re-downloaded file load afresh.
    stats = [p.stat() for p in paths]
    key = tuple((str(p.resolve()), st.st_size, st.st_mtime_ns) for p, st in zip(paths, stats))
    return _load_verified(key, folder)


@functools.lru_cache(maxsize=2)
def _load_verified(key: tuple, folder: Path) -> MNIST:
    arrays = []
    for (path, _size, _mtime), (stem, check) in zip(key, MNIST_FILES.items()):
        content = verify_file(path, check)
        arrays.append(parse_idx(content, source=path))  # read-only views of `content`
    train_images, train_labels, test_images, test_labels = arrays
    check_pair(train_images, train_labels, source=f"{key[0][0]} + {key[1][0]}")
    check_pair(test_images, test_labels, source=f"{key[2][0]} + {key[3][0]}")
    return MNIST(train_images, train_labels, test_images, test_labels, folder)


def clear_mnist_cache() -> None:
    """Forget the arrays cached by :func:`load_mnist` (frees ~55 MB)."""
    _load_verified.cache_clear()


_NORMALIZE = ("scale", "scale_pm1", "standardize", "none")


def mnist_splits(
    data_dir: str | os.PathLike | None = None,
    *,
    n_val: int = 5000,
    first: int | None = None,
    classes: tuple[int, int] | None = None,
    normalize: str = "scale",
    fit_on: str = "train",
    dtype=np.float64,
    bias: bool = False,
    download: bool = True,
    progress: bool = True,
):
    """MNIST ready to train on: flat float features and int64 labels.

    Steps, in this order:

    1. ``first``: keep only the first ``first`` training images (NTNU: 20,000);
    2. ``classes``: keep two digits relabelled 0/1, e.g. (2, 3), in every split;
    3. ``n_val``: the last ``n_val`` of the remaining training images become
       the validation set (VU: 55,000 / 5,000); 0 gives an empty validation set;
    4. ``normalize``: "scale" to [0, 1], "scale_pm1" to [-1, 1] (NTNU A1),
       "standardize" with one global mean and std, or "none" (floats 0..255). The
       statistics come from the training part (``fit_on="train"``) or from the
       training and validation parts together (``fit_on="all"``: NTNU A2 uses all
       of its first 20,000 images);
    5. ``bias``: append a column of ones.

    Returns ``(X_train, y_train), (X_val, y_val), (X_test, y_test)``: X float
    ``(n, 784)`` (785 with bias), y int64 ``(n,)``.
    """
    if normalize not in _NORMALIZE:
        raise ValueError(f"normalize must be one of {_NORMALIZE}, got {normalize!r}")
    if fit_on not in ("train", "all"):
        raise ValueError(f"fit_on must be 'train' or 'all', got {fit_on!r}")
    data = load_mnist(data_dir, download=download, progress=progress)
    train = flatten(data.train_images), data.train_labels.astype(np.int64)
    test = flatten(data.test_images), data.test_labels.astype(np.int64)
    if first is not None:
        train = first_n(*train, first)
    if classes is not None:
        train, test = binary_subset(*train, classes), binary_subset(*test, classes)
    fit_images = train[0]
    train, val = train_val_split(*train, n_val)
    prepare = {
        "scale": functools.partial(scale, dtype=dtype),
        "scale_pm1": functools.partial(scale, dtype=dtype, to=(-1.0, 1.0)),
        "none": functools.partial(np.asarray, dtype=dtype),
    }.get(normalize)
    if prepare is None:  # standardize
        st = Standardizer.fit(train[0] if fit_on == "train" else fit_images)
        prepare = functools.partial(st.transform, dtype=dtype)

    def finish(X):
        X = prepare(X)
        return add_bias(X) if bias else X

    return tuple((finish(X), y) for X, y in (train, val, test))
