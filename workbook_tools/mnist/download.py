"""Downloading the MNIST files from public mirrors, safely.

Safety rules, in order of importance:

* Only files that are *missing* are downloaded; an existing file is never
  overwritten (the data folder may be shared and read-only).
* Bytes go to a hidden temporary file in the target folder; it is renamed to
  its final name (atomically, with :func:`os.replace`) only after the
  decompressed content passed its size and checksum test. On any failure,
  including Ctrl-C, the temporary file is deleted: nothing half-written is
  ever left behind to be mistaken for data.
* Mirrors are tried in turn; if all fail, the error lists why each one failed
  and says exactly which files to put in which folder instead.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import os
import socket
import sys
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from tqdm.auto import tqdm

from .checksums import MNIST_FILES, FileCheck, verify_content
from .errors import DataError, DownloadError

__all__ = ["MIRRORS", "ENV_VAR", "existing_file", "download_file", "download_missing"]

# The mirrors the major frameworks use (torchvision, TensorFlow/Keras datasets), in order.
MIRRORS: list[str] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]

# Environment variable that points the loader at a different data folder.
ENV_VAR = "WORKBOOK_MNIST_DIR"

_CHUNK = 1 << 16
_USER_AGENT = "course_lib-mnist-downloader (numpy workbook)"


def existing_file(data_dir: str | os.PathLike, stem: str) -> Path | None:
    """Return the file for ``stem`` in ``data_dir`` (uncompressed or ``.gz``), or None.

    The uncompressed file is preferred when both exist: it loads faster.
    """
    for name in (stem, stem + ".gz"):
        path = Path(data_dir) / name
        if path.is_file():
            return path
    return None


def _describe(exc: BaseException, timeout: float) -> str:
    """A short, human-readable reason for a failed attempt."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP error {exc.code} {exc.reason}"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"timed out (no data for {timeout:g} s)"
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return f"timed out (no data for {timeout:g} s)"
        return f"cannot connect ({reason})"
    if isinstance(exc, DataError):  # our own content checks: the message says it all
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _fetch(url: str, out, *, desc: str, progress: bool, timeout: float) -> None:
    """Stream ``url`` into the open binary file ``out``, with a progress bar."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.strip().isdigit() else None
        received = 0
        # tqdm.auto ignores TQDM_DISABLE, so the switch is passed explicitly.
        with tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, disable=not progress) as bar:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    # http.client does not complain when the server hangs up early; we must.
    if total is not None and received != total:
        raise ConnectionError(f"connection closed after {received:,} of {total:,} bytes")


def _check_download(raw: bytes, check: FileCheck, name: str) -> bool:
    """Verify downloaded bytes (gzip or not); return whether they are gzip."""
    is_gzip = raw.startswith(b"\x1f\x8b")
    if is_gzip:
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise DataError(f"damaged gzip data ({exc})") from exc
    verify_content(raw, check, source=f"{name} as downloaded", fix="")
    return is_gzip


def download_file(
    stem: str,
    dest_dir: str | os.PathLike,
    check: FileCheck,
    *,
    mirrors: Sequence[str] | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Download ``<mirror>/<stem>.gz`` into ``dest_dir``, trying each mirror in turn.

    Parameters
    ----------
    stem : file name without ``.gz``, e.g. ``"train-images-idx3-ubyte"``.
    dest_dir : folder to write into (created if needed).
    check : expected size and digest of the *decompressed* content.
    mirrors : base URLs; default :data:`MIRRORS`.
    progress : show a progress bar.
    timeout : seconds without data before a mirror is given up.

    Returns
    -------
    Path of the verified file: ``<stem>.gz`` (or ``<stem>`` if a mirror served
    it uncompressed).

    Raises
    ------
    DownloadError
        Every mirror failed; ``.failures`` lists (url, reason) per mirror.
    """
    mirrors = list(MIRRORS if mirrors is None else mirrors)
    if not mirrors:
        raise ValueError("download_file needs at least one mirror URL.")
    dest_dir = Path(dest_dir)
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=f".{stem}.", suffix=".part")
    except OSError as exc:
        raise DataError(
            f"Cannot write into {dest_dir} to download {stem}.gz ({exc}). "
            f"Choose a writable folder with data_dir=... or the {ENV_VAR} environment variable, "
            "or put the files there yourself."
        ) from exc
    tmp = Path(tmp_name)
    failures: list[tuple[str, str]] = []
    try:
        with os.fdopen(fd, "w+b") as out:
            for mirror in mirrors:
                url = mirror.rstrip("/") + "/" + stem + ".gz"
                out.seek(0)
                out.truncate()
                try:
                    _fetch(url, out, desc=f"{stem}.gz", progress=progress, timeout=timeout)
                    out.flush()
                    out.seek(0)
                    is_gzip = _check_download(out.read(), check, f"{stem}.gz")
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    # ValueError covers DataError (bad content) and malformed URLs.
                    failures.append((url, _describe(exc, timeout)))
                    if progress:
                        tqdm.write(f"{url}: {failures[-1][1]}", file=sys.stderr)
                    continue
                os.fsync(out.fileno())
                break
            else:
                raise DownloadError(
                    f"{_mirror_report(stem, failures)}\n"
                    f"Put the file {stem}.gz (or {stem} uncompressed) into {dest_dir} yourself.",
                    failures,
                )
        final = dest_dir / (stem + ".gz" if is_gzip else stem)
        os.chmod(tmp, 0o644)  # mkstemp makes it private (0600); data files are not secret
        os.replace(tmp, final)
        return final
    except BaseException:
        # Any failure, Ctrl-C included: leave nothing behind.
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _mirror_report(stem: str, failures: Sequence[tuple[str, str]]) -> str:
    lines = "\n".join(f"  - {url}: {reason}" for url, reason in failures)
    return f"Could not download {stem}.gz; every mirror failed:\n{lines}"


def _manual_instructions(dest_dir: Path, missing: Sequence[str], checks: Mapping[str, FileCheck]) -> str:
    names = "\n".join(f"    {s}.gz" for s in missing)
    every = ", ".join(f"{s}.gz" for s in checks)
    return (
        "To use MNIST without downloading, copy these files (gzipped, or unpacked without the .gz) "
        f"from any MNIST copy into\n  {dest_dir}\n{names}\n"
        f"or set the environment variable {ENV_VAR} (or pass data_dir=...) to a folder that "
        f"holds all four: {every}."
    )


def download_missing(
    dest_dir: str | os.PathLike,
    checks: Mapping[str, FileCheck] | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> list[Path]:
    """Download the files of ``checks`` (default: MNIST) that are not in ``dest_dir``.

    Files already present are left alone, even if damaged: the loader names
    them so the user can decide. Stops at the first file no mirror delivers.

    Returns
    -------
    Paths of the files downloaded (empty if nothing was missing).

    Raises
    ------
    DownloadError
        With the reason per mirror and exactly which files to put where.
    """
    checks = MNIST_FILES if checks is None else checks
    dest_dir = Path(dest_dir)
    missing = [stem for stem in checks if existing_file(dest_dir, stem) is None]
    done = []
    for i, stem in enumerate(missing):
        try:
            done.append(download_file(stem, dest_dir, checks[stem], mirrors=mirrors, progress=progress, timeout=timeout))
        except DownloadError as exc:
            raise DownloadError(
                f"{_mirror_report(stem, exc.failures)}\n{_manual_instructions(dest_dir, missing[i:], checks)}",
                exc.failures,
            ) from None
    return done
