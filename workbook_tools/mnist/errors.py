"""Exceptions raised by :mod:`workbook_tools.mnist`.

One base class, so a notebook can catch every data problem with a single
``except DataError``.
"""

from __future__ import annotations

__all__ = ["DataError", "DownloadError"]


class DataError(ValueError):
    """A data file is missing, corrupted, truncated or not what we expected.

    The message always names the file and says what to do about it.
    """


class DownloadError(DataError):
    """Every mirror failed for a file.

    Attributes
    ----------
    failures : list of (url, reason) pairs, one per mirror tried, in order.
    """

    def __init__(self, message: str, failures: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.failures = list(failures or [])
