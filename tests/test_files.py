"""workbook_tools.files: a failed write leaves nothing behind and the old file intact."""
import os
import time

import pytest

from workbook_tools.files import atomic_write, remove_stale_parts


def test_atomic_write_replaces_the_file_whole(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with atomic_write(target) as f:
        f.write(b"new content")
        assert target.read_bytes() == b"old"  # nothing visible until the end
    assert target.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failed_write_keeps_the_old_file_and_leaves_no_part(tmp_path, error):
    target = tmp_path / "report.pdf"
    target.write_bytes(b"old report")
    with pytest.raises(type(error)):
        with atomic_write(target) as f:
            f.write(b"half a ")
            raise error
    assert target.read_bytes() == b"old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.pdf"]


def test_the_target_may_change_within_the_folder(tmp_path):
    with atomic_write(tmp_path / "data") as f:
        f.write(b"\x1f\x8b...")
        f.target = tmp_path / "data.gz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.gz"]
    with pytest.raises(ValueError, match="not in the folder"):
        with atomic_write(tmp_path / "x") as f:
            f.target = tmp_path.parent / "escaped"
    assert not (tmp_path.parent / "escaped").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.gz"]


def test_stale_parts_are_removed_but_fresh_ones_kept(tmp_path):
    old, fresh, other = tmp_path / ".a.pdf.x1.part", tmp_path / ".b.pdf.x2.part", tmp_path / "keep.part"
    for p in (old, fresh, other):
        p.write_bytes(b"x")
    long_ago = time.time() - 7200
    os.utime(old, (long_ago, long_ago))
    os.utime(other, (long_ago, long_ago))
    assert remove_stale_parts(tmp_path) == [old]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, other.name])
    assert remove_stale_parts(tmp_path / "missing") == []
