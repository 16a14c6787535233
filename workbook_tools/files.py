"""Writing files so that a failure never leaves half a file behind."""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

#: Temporary files end with this; :func:`remove_stale_parts` knows them by it.
PART_SUFFIX = ".part"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class AtomicFile:
    """The open temporary file of :func:`atomic_write`.

    ``target`` may be changed before the ``with`` block ends (a download learns
    only from the bytes whether it is gzip), as long as it stays in the same folder.
    """

    def __init__(self, file, target: Path):
        self.file, self.target = file, target

    def __getattr__(self, name):
        return getattr(self.file, name)


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb"):
    """Write ``path`` through a temporary file beside it, renamed into place at the end.

    Readers see the old file or the complete new one, never a part: on any
    failure (an exception, Ctrl-C) the temporary file is deleted and ``path``
    is left as it was. The new file gets the usual permissions (``0o666 & ~umask``)::

        with atomic_write("reports/lab.pdf") as f:
            f.write(pdf_bytes)
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=PART_SUFFIX)
    try:
        with os.fdopen(fd, mode) as f:
            handle = AtomicFile(f, target)
            yield handle
            f.flush()
            os.fsync(f.fileno())
        if handle.target.parent.resolve() != target.parent.resolve():
            raise ValueError(f"atomic_write: {handle.target} is not in the folder of {target}")
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private
        os.replace(tmp, handle.target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def remove_stale_parts(folder, older_than: float = 3600.0) -> list[Path]:
    """Delete temporary files of :func:`atomic_write` left in ``folder`` by a killed process.

    Only hidden ``.*.part`` files older than ``older_than`` seconds are removed, so
    that a write in progress in another process is not disturbed.
    """
    removed = []
    now = time.time()
    with contextlib.suppress(OSError):  # best effort: a folder we cannot list has nothing of ours
        for p in Path(folder).glob(f".*{PART_SUFFIX}"):
            with contextlib.suppress(OSError):
                if p.is_file() and now - p.stat().st_mtime > older_than:
                    p.unlink()
                    removed.append(p)
    return removed
