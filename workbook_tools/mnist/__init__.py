"""MNIST for the workbook: downloaded from public mirrors, verified, cached, split.

Modules, one job each: :mod:`.idx` (the IDX file format), :mod:`.checksums`
(what the files must contain), :mod:`.download` (fetching missing files safely),
:mod:`.loader` (finding the folder, loading, the course's splits). The
preprocessing itself is the lesson's (``course_lib.data``).
"""
from .checksums import MNIST_FILES, FileCheck, verify_content, verify_file
from .download import ENV_VAR, MIRRORS, download_file, download_missing
from .errors import DataError, DownloadError
from .idx import encode_idx, parse_idx, read_idx, read_idx_pair
from .loader import MNIST, clear_mnist_cache, default_mnist_dir, load_mnist, mnist_dir, mnist_splits

__all__ = [
    "DataError", "DownloadError", "ENV_VAR", "FileCheck", "MIRRORS", "MNIST", "MNIST_FILES", "clear_mnist_cache",
    "default_mnist_dir", "download_file", "download_missing", "encode_idx", "load_mnist", "mnist_dir",
    "mnist_splits", "parse_idx", "read_idx", "read_idx_pair", "verify_content", "verify_file",
]
