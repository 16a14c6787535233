"""Reading and writing the IDX format that MNIST is distributed in.

The format (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"):

* 4-byte magic number: two zero bytes, one type code, one byte ``ndim``;
* ``ndim`` big-endian uint32 dimension sizes;
* the data, row-major, big-endian, nothing after it.

MNIST images are ``0x00000803`` (uint8, 3-D: n x 28 x 28) and labels are
``0x00000801`` (uint8, 1-D: n). Everything is parsed with numpy from raw
bytes; nothing is ever unpickled.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from .errors import DataError

__all__ = ["IDX_TYPES", "read_bytes", "read_content", "parse_idx", "encode_idx", "read_idx", "check_pair", "read_idx_pair"]

# Type code -> big-endian numpy dtype, as in the IDX specification.
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


_DELETE_IT = "Delete it so it is downloaded again, or replace it with a good copy."


def read_bytes(path: str | os.PathLike, *, max_size: int | None = None) -> bytes:
    """Return the content of ``path``, decompressed if it is gzip.

    Gzip is recognised by its magic bytes, not by the ``.gz`` name, so a
    file that was unpacked but kept its name (or the reverse) still works.
    With ``max_size``, reading stops after that many bytes of content (see
    :func:`read_content`), so a huge file or a gzip bomb costs no more memory.

    Raises
    ------
    DataError
        If the file looks like gzip but is truncated or corrupted, or its
        content is longer than ``max_size``.
    """
    with open(path, "rb") as f:
        return read_content(f, source=str(path), max_size=max_size, fix=_DELETE_IT)


def read_content(f, *, source: str, max_size: int | None = None, fix: str = "") -> bytes:
    """Read the open binary file ``f`` from where it is to its end, decompressed if it is gzip.

    ``max_size`` bounds what is read (decompressed): more content than that is
    refused after reading ``max_size + 1`` bytes, never all of it, because a
    few kilobytes of gzip can unpack to gigabytes. ``source`` names the file in
    messages and ``fix`` (what to do about it) ends them.
    """
    start = f.read(len(_GZIP_MAGIC))
    f.seek(-len(start), os.SEEK_CUR)
    gzipped = start == _GZIP_MAGIC
    limit = -1 if max_size is None else max_size + 1
    if not gzipped:
        content = f.read(limit)
    else:
        try:  # GzipFile decompresses only as much as is asked for
            with gzip.GzipFile(fileobj=f, mode="rb") as unpacked:
                content = unpacked.read(limit)
        except (EOFError, OSError, zlib.error) as exc:  # BadGzipFile is an OSError
            raise DataError(
                f"{source}: damaged gzip file ({exc}); it is probably truncated or corrupted. {fix}".rstrip()
            ) from exc
    if max_size is not None and len(content) > max_size:
        what = "unpacks to more than" if gzipped else "is longer than"
        raise DataError(
            f"{source}: {what} {max_size:,} bytes, the size of the file it should be; "
            f"reading stopped there (a different file{', or a gzip bomb' if gzipped else ''}). {fix}".rstrip()
        )
    return content


def parse_idx(buf: bytes, *, source: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of one (uncompressed) IDX file.

    Parameters
    ----------
    buf : bytes
        The whole file.
    source : str
        Name used in error messages (usually the file path).

    Returns
    -------
    ndarray of the shape given in the header, in native byte order.
    For uint8 data this is a read-only view of ``buf`` (no copy);
    call ``.copy()`` if you need to modify it.

    Raises
    ------
    DataError
        Bad magic number, unknown type code, or a data section whose length
        does not match the header (truncated file or trailing garbage).
    """
    if len(buf) < 4:
        raise DataError(f"{source}: only {len(buf)} bytes, too short to be an IDX file (needs a 4-byte magic number).")
    zero0, zero1, type_code, ndim = buf[0], buf[1], buf[2], buf[3]
    magic = int.from_bytes(buf[:4], "big")
    if zero0 != 0 or zero1 != 0 or type_code not in IDX_TYPES or ndim == 0:
        raise DataError(
            f"{source}: bad magic number 0x{magic:08X}; this is not an IDX file "
            "(MNIST images start with 0x00000803, labels with 0x00000801)."
        )
    header_len = 4 + 4 * ndim
    if len(buf) < header_len:
        raise DataError(f"{source}: truncated header ({len(buf)} bytes, the {ndim}-D header needs {header_len}).")
    dims = tuple(int.from_bytes(buf[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_TYPES[type_code]
    count = int(np.prod(dims, dtype=np.int64))
    expected = header_len + count * dtype.itemsize
    if len(buf) != expected:
        what = "truncated" if len(buf) < expected else "too long (trailing bytes)"
        raise DataError(
            f"{source}: {what}: the header says shape {dims} of {dtype.name}, which needs "
            f"{expected:,} bytes in total, but the file has {len(buf):,} bytes."
        )
    arr = np.frombuffer(buf, dtype=dtype, count=count, offset=header_len).reshape(dims)
    if dtype.itemsize > 1:
        # Big-endian -> native, so arithmetic downstream is not slowed down.
        arr = arr.astype(dtype.newbyteorder("="))
        arr.setflags(write=False)
    return arr


def encode_idx(array: np.ndarray) -> bytes:
    """Return the IDX bytes of ``array`` (the inverse of :func:`parse_idx`).

    Used by the tests to make small fake MNIST files; handy for students too.
    """
    array = np.asarray(array)
    for code, dtype in IDX_TYPES.items():
        if array.dtype.kind == dtype.kind and array.dtype.itemsize == dtype.itemsize:
            break
    else:
        raise TypeError(f"IDX cannot store dtype {array.dtype}; use one of uint8, int8, int16, int32, float32, float64.")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got {array.ndim}.")
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=dtype).tobytes()


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzip or not); see :func:`parse_idx`."""
    return parse_idx(read_bytes(path), source=str(path))


def check_pair(images: np.ndarray, labels: np.ndarray, *, source: str = "") -> None:
    """Check that ``images`` (n, rows, cols) and ``labels`` (n,) belong together.

    Raises
    ------
    DataError
        Wrong number of dimensions, or different counts.
    """
    where = f"{source}: " if source else ""
    if images.ndim != 3:
        raise DataError(f"{where}images must be 3-D (n, rows, cols), got shape {images.shape}.")
    if labels.ndim != 1:
        raise DataError(f"{where}labels must be 1-D (n,), got shape {labels.shape}.")
    if len(images) != len(labels):
        raise DataError(
            f"{where}{len(images):,} images but {len(labels):,} labels; the two files do not belong together."
        )


def read_idx_pair(images_path: str | os.PathLike, labels_path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read an images file and its labels file and check they match.

    Returns
    -------
    images : ndarray (n, rows, cols)
    labels : ndarray (n,)
    """
    images, labels = read_idx(images_path), read_idx(labels_path)
    check_pair(images, labels, source=f"{images_path} + {labels_path}")
    return images, labels
