"""The IDX parser: good files (raw and gzip), bad magic, truncation, wrong sizes, pairs."""

import gzip

import numpy as np
import pytest

from workbook_tools.mnist import DataError, encode_idx, parse_idx, read_idx, read_idx_pair
from workbook_tools.mnist.idx import check_pair


def _header(type_code, *dims):
    return bytes([0, 0, type_code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


def test_parses_hand_made_labels():
    buf = _header(0x08, 3) + bytes([7, 0, 9])
    labels = parse_idx(buf)
    assert labels.dtype == np.uint8 and labels.shape == (3,)
    assert labels.tolist() == [7, 0, 9]


def test_parses_hand_made_images_row_major():
    buf = _header(0x08, 2, 2, 3) + bytes(range(12))
    images = parse_idx(buf)
    assert images.shape == (2, 2, 3)
    assert images[1, 0].tolist() == [6, 7, 8]


def test_big_endian_types_come_out_native():
    buf = _header(0x0B, 2) + (258).to_bytes(2, "big") + (1).to_bytes(2, "big")
    arr = parse_idx(buf)
    assert arr.tolist() == [258, 1]
    assert arr.dtype.isnative and arr.dtype.kind == "i" and arr.dtype.itemsize == 2


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_encode_parse_round_trip(dtype):
    arr = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype) if dtype != np.uint8 else np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    back = parse_idx(encode_idx(arr))
    assert back.dtype == np.dtype(dtype) and np.array_equal(back, arr)


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_raw_and_gzip(tmp_path, compress):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    data = encode_idx(images)
    path = tmp_path / "imgs"
    path.write_bytes(gzip.compress(data) if compress else data)
    out = read_idx(path)
    assert out.dtype == np.uint8 and np.array_equal(out, images)
    assert not out.flags.writeable  # a view of the file's bytes


def test_gzip_is_recognised_by_content_not_name(tmp_path):
    labels = np.array([1, 2, 3], np.uint8)
    (tmp_path / "a.gz").write_bytes(encode_idx(labels))  # not actually gzip
    (tmp_path / "b").write_bytes(gzip.compress(encode_idx(labels)))  # gzip without .gz
    assert read_idx(tmp_path / "a.gz").tolist() == [1, 2, 3]
    assert read_idx(tmp_path / "b").tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    "magic",
    [b"\x12\x34\x08\x01", b"\x00\x00\x07\x01", b"\x00\x00\x08\x00", b"PK\x03\x04"],
    ids=["nonzero-leading", "unknown-type", "zero-dims", "zip-file"],
)
def test_bad_magic(magic):
    with pytest.raises(DataError, match="bad magic number"):
        parse_idx(magic + (3).to_bytes(4, "big") + b"abc", source="x.idx")


def test_too_short_for_magic():
    with pytest.raises(DataError, match="too short"):
        parse_idx(b"\x00\x00", source="x.idx")


def test_truncated_header():
    with pytest.raises(DataError, match="truncated header"):
        parse_idx(_header(0x08, 5, 28, 28)[:10])


def test_truncated_data_names_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(_header(0x08, 4, 28, 28) + bytes(4 * 28 * 28 - 1))
    with pytest.raises(DataError, match="truncated") as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert "(4, 28, 28)" in str(info.value)


def test_header_dims_inconsistent_with_size():
    # Header claims 10 labels, file holds 12: trailing bytes are an error too.
    with pytest.raises(DataError, match="too long"):
        parse_idx(_header(0x08, 10) + bytes(12))


def test_truncated_gzip_names_file(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    blob = gzip.compress(encode_idx(np.zeros(1000, np.uint8)))
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="damaged gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value) and "Delete it" in str(info.value)


def test_pair_ok(tmp_path):
    (tmp_path / "i").write_bytes(encode_idx(np.zeros((3, 2, 2), np.uint8)))
    (tmp_path / "l").write_bytes(encode_idx(np.array([0, 1, 2], np.uint8)))
    images, labels = read_idx_pair(tmp_path / "i", tmp_path / "l")
    assert images.shape == (3, 2, 2) and labels.shape == (3,)


def test_pair_count_mismatch(tmp_path):
    (tmp_path / "i").write_bytes(encode_idx(np.zeros((3, 2, 2), np.uint8)))
    (tmp_path / "l").write_bytes(encode_idx(np.array([0, 1], np.uint8)))
    with pytest.raises(DataError, match="3 images but 2 labels"):
        read_idx_pair(tmp_path / "i", tmp_path / "l")


def test_pair_wrong_dimensions():
    with pytest.raises(DataError, match="images must be 3-D"):
        check_pair(np.zeros((3, 4), np.uint8), np.zeros(3, np.uint8))
    with pytest.raises(DataError, match="labels must be 1-D"):
        check_pair(np.zeros((3, 2, 2), np.uint8), np.zeros((3, 1), np.uint8))


def test_encode_rejects_unsupported_dtype():
    with pytest.raises(TypeError, match="IDX cannot store"):
        encode_idx(np.zeros(3, np.int64))
