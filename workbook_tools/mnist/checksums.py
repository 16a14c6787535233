"""What the four MNIST files must contain, and checking that they do.

Checksums are of the *decompressed* content: re-compressed copies of the
files (as on some mirrors, or in our shared data folder) have different
``.gz`` checksums but identical contents.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import DataError
from .idx import read_bytes

__all__ = ["FileCheck", "MNIST_FILES", "verify_content", "verify_file"]


@dataclass(frozen=True)
class FileCheck:
    """Expected size and digest(s) of a file's decompressed content.

    At least one of ``sha256`` / ``md5`` must be given; sha256 is used when
    both are (it is also the faster of the two here).
    """

    size: int
    sha256: str | None = None
    md5: str | None = None

    def __post_init__(self):
        if self.sha256 is None and self.md5 is None:
            raise ValueError("FileCheck needs a sha256 or an md5 digest.")

    @classmethod
    def of(cls, content: bytes) -> "FileCheck":
        """The check that ``content`` passes (for making test fixtures)."""
        return cls(len(content), sha256=hashlib.sha256(content).hexdigest())


# File stem (the name without .gz) -> check. The order is the order of download.
MNIST_FILES: dict[str, FileCheck] = {
    "train-images-idx3-ubyte": FileCheck(
        47_040_016,
        sha256="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        md5="6bbc9ace898e44ae57da46a324031adb",
    ),
    "train-labels-idx1-ubyte": FileCheck(
        60_008,
        sha256="65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        md5="a25bea736e30d166cdddb491f175f624",
    ),
    "t10k-images-idx3-ubyte": FileCheck(
        7_840_016,
        sha256="0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        md5="2646ac647ad5339dbf082846283269ea",
    ),
    "t10k-labels-idx1-ubyte": FileCheck(
        10_008,
        sha256="ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        md5="27ae3e4e09519cfbb04c329615203637",
    ),
}

_FIX = "Delete it so it is downloaded again, or replace it with a good copy."


def verify_content(content: bytes, check: FileCheck, *, source: str, fix: str = _FIX) -> None:
    """Raise :class:`DataError` naming ``source`` unless ``content`` passes ``check``.

    ``fix`` is appended to the message: what the user should do about it.
    """
    if len(content) != check.size:
        raise DataError(
            f"{source}: wrong size after decompression: {len(content):,} bytes, "
            f"expected {check.size:,} (truncated or a different file). {fix}".rstrip()
        )
    algo, want = ("sha256", check.sha256) if check.sha256 else ("md5", check.md5)
    got = hashlib.new(algo, content).hexdigest()
    if got != want:
        raise DataError(
            f"{source}: {algo} of the decompressed content is {got}, expected {want}; "
            f"the content is corrupted. {fix}".rstrip()
        )


def verify_file(path: str | os.PathLike, check: FileCheck) -> bytes:
    """Read ``path`` (gzip or not), verify it, and return the decompressed bytes.

    No more than ``check.size + 1`` bytes are ever decompressed: a larger file is
    refused as soon as that is clear, not after it filled the memory.
    """
    content = read_bytes(path, max_size=check.size)
    verify_content(content, check, source=str(Path(path)))
    return content
