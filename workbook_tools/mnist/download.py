"""Downloading the MNIST files from public mirrors, safely.

Safety rules, in order of importance:

* Only files that are *missing* are downloaded; an existing file is never
  overwritten (the data folder may be shared and read-only).
* Bytes go to a hidden temporary file in the target folder
  (:func:`workbook_tools.files.atomic_write`); it is renamed to its final name
  only after the decompressed content passed its size and checksum test. On any
  failure, including Ctrl-C, the temporary file is deleted: nothing half-written
  is ever left behind to be mistaken for data. One left by a process that was
  killed outright is deleted by the next download into the folder.
* No file can fill the disk or the memory, or take forever: a mirror may send at
  most twice the file's size (plus 64 KiB), no more than the file's size is ever
  decompressed (a few kilobytes of gzip can unpack to gigabytes), and a mirror
  slower than 4 KiB/s on average after a minute is given up. A mirror that sends
  more, or trickles, is refused and the next one tried.
* HTTPS mirrors are tried first. Plain HTTP is kept as the last resort because
  every file is checked against the sha256 of the real content before it is
  kept, whoever sent it: a tampered copy is refused like a damaged one.
* Mirrors are tried in turn; if all fail, the error lists why each one failed
  and says exactly which files to put in which folder instead.
"""

from __future__ import annotations

import http.client
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from tqdm.auto import tqdm

from ..files import atomic_write, remove_stale_parts
from .checksums import MNIST_FILES, FileCheck, verify_content
from .errors import DataError, DownloadError
from .idx import read_content

__all__ = ["MIRRORS", "ENV_VAR", "existing_file", "download_file", "download_missing", "max_download_size",
           "ordered_mirrors"]

# The mirrors the major frameworks use (torchvision, TensorFlow/Keras datasets); HTTPS first.
MIRRORS: list[str] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]

# Environment variable that points the loader at a different data folder.
ENV_VAR = "WORKBOOK_MNIST_DIR"

_CHUNK = 1 << 16
_USER_AGENT = "course_lib-mnist-downloader (numpy workbook)"
# A download in progress (in another notebook, say) writes to its temporary file at
# least every `timeout` seconds or gives up; one untouched for this long was left by
# a process that was killed, and is deleted.
_STALE_AFTER = 600.0
# A mirror slower than this on average, once it had this many seconds, is given up (the
# whole MNIST takes 45 minutes at 4 KiB/s; a mirror that trickles would take weeks).
_MIN_RATE, _RATE_AFTER = 4096, 60.0


def max_download_size(check: FileCheck) -> int:
    """The most bytes a mirror may send for the file of ``check``.

    Gzip makes no file much larger than its content (a header of a few bytes;
    0.03 % for data that does not compress), and a mirror serving the file
    uncompressed sends exactly its size: twice the size is a generous margin,
    and the 64 KiB are for tiny files, whose gzip header is a large share.
    """
    return 2 * check.size + (64 << 10)


def ordered_mirrors(mirrors: Sequence[str]) -> list[str]:
    """``mirrors`` with the HTTPS ones first, each group in its given order.

    Raises ValueError for a URL that is neither ``https://`` nor ``http://``.
    """
    schemes = [urllib.parse.urlsplit(str(m)).scheme.lower() for m in mirrors]
    for mirror, scheme in zip(mirrors, schemes):
        if scheme not in ("https", "http"):
            raise ValueError(f"mirror {mirror!r} is not an https:// or http:// URL; "
                             "give the base URL of a folder that holds the .gz files.")
    return [m for m, scheme in zip(mirrors, schemes) if scheme == "https"] + \
        [m for m, scheme in zip(mirrors, schemes) if scheme == "http"]


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


def _too_big(what: str) -> DataError:
    return DataError(f"refused: the mirror {what} (twice the file's unpacked size, plus 64 KiB)")


def _check_rate(received: int, seconds: float) -> None:
    """Give up a mirror that trickles: ``timeout`` only bounds each read, and one byte every
    few seconds would keep a download alive for weeks."""
    if seconds > _RATE_AFTER and received < _MIN_RATE * seconds:
        raise DataError(f"given up: the mirror sent {received:,} bytes in {seconds:.0f} s, less than "
                        f"{_MIN_RATE // 1024} KiB/s on average")


def _fetch(url: str, out, *, desc: str, progress: bool, timeout: float, limit: int) -> None:
    """Stream ``url`` into the open binary file ``out``, with a progress bar.

    At most ``limit`` bytes are accepted: a larger announced length is refused
    before anything is read, and a longer body once ``limit + 1`` bytes came.
    """
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.strip().isdigit() else None
        if total is not None and total > limit:
            raise _too_big(f"announces {total:,} bytes, but no copy of this file has more than {limit:,}")
        received, start = 0, time.monotonic()
        # tqdm.auto ignores TQDM_DISABLE, so the switch is passed explicitly.
        with tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, disable=not progress) as bar:
            # read1: whatever has arrived, so a trickle is noticed (read() would wait for the whole chunk)
            while chunk := response.read1(min(_CHUNK, limit + 1 - received)):
                received += len(chunk)
                if received > limit:
                    raise _too_big(f"sent more than {limit:,} bytes, and no copy of this file has more")
                out.write(chunk)
                bar.update(len(chunk))
                _check_rate(received, time.monotonic() - start)
    # http.client does not complain when the server hangs up early; we must.
    if total is not None and received != total:
        raise ConnectionError(f"connection closed after {received:,} of {total:,} bytes")


def _check_download(out, check: FileCheck, name: str) -> bool:
    """Verify the downloaded bytes in the open file ``out`` (gzip or not); return whether they are gzip."""
    out.seek(0)
    is_gzip = out.read(2) == b"\x1f\x8b"
    out.seek(0)
    # No more than the real file's size is decompressed, whatever the mirror sent.
    content = read_content(out, source=f"{name} as downloaded", max_size=check.size)
    verify_content(content, check, source=f"{name} as downloaded", fix="")
    return is_gzip


def _from_mirrors(stem: str, check: FileCheck, mirrors: Sequence[str], out, *, progress: bool,
                  timeout: float) -> bool:
    """Fill ``out`` with the first copy that passes ``check``; return whether it is gzip.

    Raises DownloadError (without advice: the caller adds it) when no mirror has one.
    """
    failures: list[tuple[str, str]] = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + stem + ".gz"
        if progress and url.lower().startswith("http:"):
            tqdm.write(f"{url}: plain HTTP; the file is checked against its known checksum before it is kept",
                       file=sys.stderr)
        out.seek(0)
        out.truncate()
        try:
            _fetch(url, out, desc=f"{stem}.gz", progress=progress, timeout=timeout, limit=max_download_size(check))
            out.flush()
            return _check_download(out, check, f"{stem}.gz")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            # ValueError covers DataError (bad content, too big) and malformed URLs.
            failures.append((url, _describe(exc, timeout)))
            if progress:
                tqdm.write(f"{url}: {failures[-1][1]}", file=sys.stderr)
    raise DownloadError(_mirror_report(stem, failures), failures)


def download_file(
    stem: str,
    dest_dir: str | os.PathLike,
    check: FileCheck,
    *,
    mirrors: Sequence[str] | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Download ``<mirror>/<stem>.gz`` into ``dest_dir``, trying each mirror in turn (HTTPS ones first).

    Parameters
    ----------
    stem : file name without ``.gz``, e.g. ``"train-images-idx3-ubyte"``.
    dest_dir : folder to write into (created if needed).
    check : expected size and digest of the *decompressed* content.
    mirrors : base URLs (``https://`` or ``http://``); default :data:`MIRRORS`.
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
    mirrors = ordered_mirrors(list(MIRRORS if mirrors is None else mirrors))
    if not mirrors:
        raise ValueError("download_file needs at least one mirror URL.")
    dest_dir = Path(dest_dir)
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
        with atomic_write(dest_dir / f"{stem}.gz", "w+b") as out:
            try:
                is_gzip = _from_mirrors(stem, check, mirrors, out, progress=progress, timeout=timeout)
            except DownloadError as exc:
                raise DownloadError(f"{exc}\nPut the file {stem}.gz (or {stem} uncompressed) into {dest_dir} "
                                    "yourself.", exc.failures) from None
            if not is_gzip:
                out.target = dest_dir / stem
        return out.target
    except OSError as exc:  # the folder or the temporary file in it: every mirror's failures are DownloadErrors
        raise DataError(
            f"Cannot write into {dest_dir} to download {stem}.gz ({exc}). "
            f"Choose a writable folder with data_dir=... or the {ENV_VAR} environment variable, "
            "or put the files there yourself."
        ) from exc


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
    Temporary files of an earlier download that was killed are deleted first.

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
    remove_stale_parts(dest_dir, older_than=max(_STALE_AFTER, 4 * timeout))
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
