"""Datasets for the workbook: MNIST (downloaded and verified) and small synthetic sets.

Conventions, shared with the trainer: features ``X`` float (n, features),
labels ``y`` int64 class indices (n,), splits as ``(X, y)`` tuples.

Modules, one job each:

* :mod:`.idx` -- the IDX file format (parse, write, check image/label pairs);
* :mod:`.checksums` -- what the MNIST files must contain, and verifying it;
* :mod:`.download` -- fetching missing files from mirrors, safely;
* :mod:`.mnist` -- finding the folder and loading MNIST;
* :mod:`.splits` -- validation split, first N, two-class subset;
* :mod:`.preprocess` -- flatten, scale, standardise, one-hot, bias column;
* :mod:`.synthetic` -- the 2-D "synth" ellipse set and two moons.
"""

from .checksums import MNIST_FILES, FileCheck, verify_content, verify_file
from .download import ENV_VAR, MIRRORS, download_file, download_missing
from .errors import DataError, DownloadError
from .idx import encode_idx, parse_idx, read_idx, read_idx_pair
from .mnist import MNIST, clear_mnist_cache, default_mnist_dir, load_mnist, mnist_dir, mnist_splits
from .preprocess import Standardizer, add_bias, flatten, one_hot, scale, standardize
from .splits import binary_subset, first_n, train_val_split
from .synthetic import SYNTH_A, SYNTH_THRESHOLD, make_moons, make_synth

__all__ = [
    "DataError",
    "DownloadError",
    "ENV_VAR",
    "FileCheck",
    "MIRRORS",
    "MNIST",
    "MNIST_FILES",
    "SYNTH_A",
    "SYNTH_THRESHOLD",
    "Standardizer",
    "add_bias",
    "binary_subset",
    "clear_mnist_cache",
    "default_mnist_dir",
    "download_file",
    "download_missing",
    "encode_idx",
    "first_n",
    "flatten",
    "load_mnist",
    "make_moons",
    "make_synth",
    "mnist_dir",
    "mnist_splits",
    "one_hot",
    "parse_idx",
    "read_idx",
    "read_idx_pair",
    "scale",
    "standardize",
    "train_val_split",
    "verify_content",
    "verify_file",
]
