"""The downloader, against a real HTTP server on 127.0.0.1 started by the test.

The server serves small FAKE but valid IDX files (a few images), so the
expected checksums are passed in; the real MNIST table is only the default.
"""

import gzip
import os
import re
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import workbook_tools.mnist.download as download_mod
from workbook_tools.mnist import (
    MNIST_FILES,
    DataError,
    DownloadError,
    FileCheck,
    clear_mnist_cache,
    download_file,
    download_missing,
    encode_idx,
    load_mnist,
    read_idx_pair,
    verify_file,
)
from workbook_tools.mnist.download import MIRRORS, existing_file, max_download_size, ordered_mirrors
from workbook_tools.mnist.idx import read_bytes

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- fake data
def _fake_contents():
    rng = np.random.default_rng(42)
    return {
        "train-images-idx3-ubyte": encode_idx(rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)),
        "train-labels-idx1-ubyte": encode_idx(rng.integers(0, 10, 6, dtype=np.uint8)),
        "t10k-images-idx3-ubyte": encode_idx(rng.integers(0, 256, (4, 28, 28), dtype=np.uint8)),
        "t10k-labels-idx1-ubyte": encode_idx(rng.integers(0, 10, 4, dtype=np.uint8)),
    }


CONTENTS = _fake_contents()
CHECKS = {stem: FileCheck.of(data) for stem, data in CONTENTS.items()}


def _corrupt(data: bytes) -> bytes:
    flipped = bytearray(data)
    flipped[-1] ^= 0xFF  # still valid IDX, wrong content: only the hash can tell
    return bytes(flipped)


# ---------------------------------------------------------------- the server
class _Handler(BaseHTTPRequestHandler):
    """Looks up self.path in server.routes: (kind, body).

    ok: the body with its length; drop: the length promised, half the body sent;
    unannounced: the body with no length (its end is the closed connection);
    stall: half the body, then a wait until the test releases the server;
    trickle: the body with its length, 100 bytes every 20 ms.
    The bytes actually sent are counted in server.sent[path].
    """

    def do_GET(self):
        self.server.requests.append(self.path)
        kind, body = self.server.routes.get(self.path, ("404", b""))
        if kind == "404":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if kind != "unannounced":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # HTTP/1.0: the connection closes when the handler returns.
        part = body[: len(body) // 2] if kind in ("drop", "stall") else body
        step = 100 if kind == "trickle" else 1 << 16
        sent = 0
        try:
            for start in range(0, len(part), step):
                self.wfile.write(part[start:start + step])
                self.wfile.flush()
                sent += len(part[start:start + step])
                if kind == "trickle":
                    time.sleep(0.02)
            if kind == "stall":
                self.wfile.flush()
                self.server.release.wait(30)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up: that is what some tests want
        finally:
            self.server.sent[self.path] = sent

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.routes, srv.requests, srv.sent, srv.release = {}, [], {}, threading.Event()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    srv.url = lambda mirror: f"http://127.0.0.1:{srv.server_address[1]}/{mirror}/"
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def _serve(srv, mirror, kind="ok", contents=CONTENTS, transform=gzip.compress):
    for stem, data in contents.items():
        srv.routes[f"/{mirror}/{stem}.gz"] = (kind, transform(data))


def _closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"  # nobody listens there now


def _listing(folder: Path):
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------- tests
def test_404_then_corrupt_then_good_ends_verified(server, tmp_path):
    _serve(server, "m2", transform=lambda d: gzip.compress(_corrupt(d)))
    _serve(server, "m3")
    mirrors = [server.url("m1"), server.url("m2"), server.url("m3")]

    paths = download_missing(tmp_path, CHECKS, mirrors=mirrors, progress=False)

    assert [p.name for p in paths] == [f"{stem}.gz" for stem in CHECKS]
    assert _listing(tmp_path) == sorted(f"{stem}.gz" for stem in CHECKS)  # no temp files
    for stem, data in CONTENTS.items():
        assert read_bytes(tmp_path / f"{stem}.gz") == data
    images, labels = read_idx_pair(tmp_path / "train-images-idx3-ubyte.gz", tmp_path / "train-labels-idx1-ubyte.gz")
    assert images.shape == (6, 28, 28) and labels.shape == (6,)
    # Each file was tried on the three mirrors in order.
    first = "train-images-idx3-ubyte.gz"
    assert server.requests[:3] == [f"/m1/{first}", f"/m2/{first}", f"/m3/{first}"]


def test_progress_bar_and_mirror_messages(server, tmp_path, capsys):
    _serve(server, "good")
    stem = "t10k-labels-idx1-ubyte"
    path = download_file(stem, tmp_path, CHECKS[stem], mirrors=[server.url("bad"), server.url("good")], progress=True)
    assert path == tmp_path / f"{stem}.gz"
    err = capsys.readouterr().err
    assert "HTTP error 404" in err and f"{stem}.gz" in err


def test_every_mirror_fails_error_says_what_to_do(server, tmp_path):
    _serve(server, "corrupt", transform=lambda d: gzip.compress(_corrupt(d)))
    _serve(server, "notgzip", transform=lambda d: b"\x1f\x8b" + b"garbage" * 10)
    mirrors = [server.url("m404"), server.url("corrupt"), server.url("notgzip"), _closed_port_url()]
    dest = tmp_path / "data" / "mnist"

    with pytest.raises(DownloadError) as info:
        download_missing(dest, CHECKS, mirrors=mirrors, progress=False, timeout=5)

    msg = str(info.value)
    reasons = [reason for _url, reason in info.value.failures]
    assert len(reasons) == 4
    assert "HTTP error 404" in reasons[0]
    assert "sha256" in reasons[1] and "corrupted" in reasons[1]
    assert "damaged gzip" in reasons[2]
    assert "cannot connect" in reasons[3]
    for url in mirrors:
        assert url in msg
    # Exactly which files to put where, and the environment variable.
    assert str(dest) in msg and "WORKBOOK_MNIST_DIR" in msg
    for stem in CHECKS:
        assert f"{stem}.gz" in msg
    assert _listing(dest) == []  # nothing left behind


def test_dropped_connection_leaves_no_partial_file(server, tmp_path):
    _serve(server, "drop", kind="drop")
    stem = "train-images-idx3-ubyte"
    with pytest.raises(DownloadError) as info:
        download_file(stem, tmp_path, CHECKS[stem], mirrors=[server.url("drop")], progress=False)
    assert "connection closed after" in info.value.failures[0][1]
    assert _listing(tmp_path) == []


def test_dropped_connection_then_good_mirror(server, tmp_path):
    _serve(server, "drop", kind="drop")
    _serve(server, "good")
    stem = "train-images-idx3-ubyte"
    path = download_file(stem, tmp_path, CHECKS[stem], mirrors=[server.url("drop"), server.url("good")], progress=False)
    assert read_bytes(path) == CONTENTS[stem]
    assert _listing(tmp_path) == [f"{stem}.gz"]


def test_interrupt_leaves_nothing(server, tmp_path, monkeypatch):
    _serve(server, "good")

    def ctrl_c(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(download_mod, "_check_download", ctrl_c)
    stem = "train-labels-idx1-ubyte"
    with pytest.raises(KeyboardInterrupt):
        download_file(stem, tmp_path, CHECKS[stem], mirrors=[server.url("good")], progress=False)
    assert _listing(tmp_path) == []


def test_existing_files_are_never_touched(server, tmp_path):
    _serve(server, "good")
    kept = tmp_path / "train-images-idx3-ubyte.gz"
    kept.write_bytes(b"damaged, but it is the user's file")
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(CONTENTS["t10k-labels-idx1-ubyte"])  # uncompressed counts too

    paths = download_missing(tmp_path, CHECKS, mirrors=[server.url("good")], progress=False)

    assert sorted(p.name for p in paths) == ["t10k-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert kept.read_bytes() == b"damaged, but it is the user's file"
    assert not any("train-images" in r or "t10k-labels" in r for r in server.requests)
    assert download_missing(tmp_path, CHECKS, mirrors=[server.url("good")], progress=False) == []


def test_uncompressed_content_is_stored_without_gz(server, tmp_path):
    _serve(server, "plain", transform=lambda d: d)
    stem = "t10k-labels-idx1-ubyte"
    path = download_file(stem, tmp_path, CHECKS[stem], mirrors=[server.url("plain")], progress=False)
    assert path.name == stem and path.read_bytes() == CONTENTS[stem]


def test_unwritable_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    with pytest.raises(DataError, match="Cannot write into"):
        download_file("x", blocker / "mnist", CHECKS["t10k-labels-idx1-ubyte"], mirrors=["http://127.0.0.1:9/"])


def _real_mnist_dir():
    env = os.environ.get("WORKBOOK_MNIST_DIR")
    folder = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
    if all(existing_file(folder, stem) for stem in MNIST_FILES):
        return folder
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the real-data tests, but the MNIST files are not in {folder}")
    pytest.skip(f"real MNIST files not found in {folder} (set WORKBOOK_MNIST_DIR)")


def test_load_mnist_downloads_real_files_from_local_mirror(server, tmp_path, monkeypatch):
    """End to end with the real checksum table: ~11 MB over loopback."""
    real = _real_mnist_dir()
    for stem in MNIST_FILES:
        server.routes[f"/m2/{stem}.gz"] = ("ok", existing_file(real, stem).read_bytes())
    monkeypatch.setattr(download_mod, "MIRRORS", [server.url("m1"), server.url("m2")])
    target = tmp_path / "mnist"

    data = load_mnist(target, progress=False)

    assert data.train_images.shape == (60000, 28, 28) and data.test_labels.shape == (10000,)
    assert all(existing_file(target, stem) for stem in MNIST_FILES) and len(_listing(target)) == 4
    assert load_mnist(target, download=False) is data  # cached, and no network needed
    clear_mnist_cache()


# ---------------------------------------------------------------- limits: too big, bombs, truncation
# A bigger fake file, so that a gzip bomb fits under the limit on what a mirror may send.
BIG = np.random.default_rng(7).integers(0, 256, 1 << 20, dtype=np.uint8).tobytes()
BIG_CHECK = FileCheck.of(BIG)
BIG_LIMIT = max_download_size(BIG_CHECK)


def _gzip_bomb(unpacked: int = 256 << 20) -> bytes:
    """A few hundred kilobytes of gzip that unpack to ``unpacked`` zero bytes."""
    packer, zeros = zlib.compressobj(9, zlib.DEFLATED, 31), bytes(1 << 20)
    return b"".join([packer.compress(zeros) for _ in range(unpacked >> 20)] + [packer.flush()])


BAD_COPIES = {  # name: (how it is served, what it is, the reason the downloader must give)
    "announced-too-big": ("ok", lambda: bytes(BIG_LIMIT + 1), "the mirror announces"),
    "streams-too-much": ("unannounced", lambda: bytes(BIG_LIMIT + (8 << 20)), "the mirror sent more than"),
    "gzip-bomb": ("ok", _gzip_bomb, "unpacks to more than 1,048,576 bytes"),
    "truncated-gzip": ("ok", lambda: gzip.compress(BIG)[: len(BIG) // 2], "damaged gzip"),
    "dropped-connection": ("drop", lambda: gzip.compress(BIG), "connection closed after"),
}


@pytest.mark.parametrize("name", BAD_COPIES)
def test_a_bad_copy_is_refused_and_the_next_mirror_used(server, tmp_path, capsys, name):
    kind, make, reason = BAD_COPIES[name]
    server.routes["/bad/big.gz"] = (kind, make())
    server.routes["/good/big.gz"] = ("ok", gzip.compress(BIG))

    path = download_file("big", tmp_path, BIG_CHECK, mirrors=[server.url("bad"), server.url("good")])

    assert read_bytes(path) == BIG and _listing(tmp_path) == ["big.gz"]  # no temporary file left
    err = capsys.readouterr().err
    assert f"{server.url('bad')}big.gz: " in err and reason in err, err
    with pytest.raises(DownloadError) as info:
        download_file("big", tmp_path / "alone", BIG_CHECK, mirrors=[server.url("bad")], progress=False)
    assert reason in info.value.failures[0][1]
    assert _listing(tmp_path / "alone") == []


def test_the_limit_on_what_a_mirror_may_send():
    assert max_download_size(BIG_CHECK) == 2 * len(BIG) + 65536
    real = MNIST_FILES["train-images-idx3-ubyte"]
    assert max_download_size(real) == 2 * 47_040_016 + 65536  # the real file gzipped is about 9.9 MB


def test_an_endless_body_is_cut_off_at_the_limit(server, tmp_path):
    """Reading stops at the limit: the server gets to send little more than that (socket buffers)."""
    endless = 512 << 20
    server.routes["/bad/big.gz"] = ("unannounced", bytes(endless))
    with pytest.raises(DownloadError, match="the mirror sent more than"):
        download_file("big", tmp_path, BIG_CHECK, mirrors=[server.url("bad")], progress=False)
    deadline = time.monotonic() + 20
    while "/bad/big.gz" not in server.sent and time.monotonic() < deadline:
        time.sleep(0.05)
    assert BIG_LIMIT < server.sent["/bad/big.gz"] < BIG_LIMIT + (64 << 20) < endless
    assert _listing(tmp_path) == []


def test_a_gzip_bomb_never_unpacks_in_memory(server, tmp_path):
    bomb = _gzip_bomb()  # 256 MiB unpacked
    assert len(bomb) < BIG_LIMIT  # small enough to be downloaded: only the unpacking can catch it
    server.routes["/bad/big.gz"] = ("ok", bomb)
    tracemalloc.start()
    try:
        with pytest.raises(DownloadError, match="unpacks to more than"):
            download_file("big", tmp_path, BIG_CHECK, mirrors=[server.url("bad")], progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"{peak / 2**20:.0f} MiB"
    assert _listing(tmp_path) == []
    # The same file put into the data folder by hand is refused by the loader's check, as cheaply.
    (tmp_path / "big.gz").write_bytes(bomb)
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"big.gz: unpacks to more than 1,048,576 bytes.*Delete it"):
            verify_file(tmp_path / "big.gz", BIG_CHECK)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"{peak / 2**20:.0f} MiB"


def test_a_file_too_long_uncompressed_is_refused_by_the_loader(tmp_path):
    (tmp_path / "big").write_bytes(BIG + b"\0")
    with pytest.raises(DataError, match=r"big: is longer than 1,048,576 bytes"):
        verify_file(tmp_path / "big", BIG_CHECK)


def test_a_mirror_that_trickles_is_given_up(server, tmp_path, capsys, monkeypatch):
    """5 KB/s, against a floor of 20 KB/s after half a second (the real ones: 4 KiB/s after a minute)."""
    monkeypatch.setattr(download_mod, "_MIN_RATE", 20 * 1024)
    monkeypatch.setattr(download_mod, "_RATE_AFTER", 0.5)
    server.routes["/slow/big.gz"] = ("trickle", gzip.compress(BIG))
    server.routes["/good/big.gz"] = ("ok", gzip.compress(BIG))
    start = time.monotonic()
    path = download_file("big", tmp_path, BIG_CHECK, mirrors=[server.url("slow"), server.url("good")])
    assert time.monotonic() - start < 10
    assert read_bytes(path) == BIG and _listing(tmp_path) == ["big.gz"]
    err = capsys.readouterr().err
    assert re.search(r"slow/big.gz: given up: the mirror sent [0-9,]+ bytes in [01] s, less than 20 KiB/s", err), err


# ---------------------------------------------------------------- HTTPS first
def test_https_mirrors_come_first_and_other_schemes_are_refused(tmp_path):
    assert ordered_mirrors(["http://a/", "https://b/", "http://c/", "HTTPS://d/"]) == \
        ["https://b/", "HTTPS://d/", "http://a/", "http://c/"]
    assert ordered_mirrors(MIRRORS) == MIRRORS and MIRRORS[0].startswith("https://")
    for bad in ("file:///etc/", "ftp://example.org/mnist/", "example.org/mnist/"):
        with pytest.raises(ValueError, match="not an https:// or http:// URL"):
            download_file("big", tmp_path / "never", BIG_CHECK, mirrors=[_closed_port_url().replace("http:", "https:"), bad])
    assert not (tmp_path / "never").exists()


def test_plain_http_is_the_fallback_and_says_it_is_verified(server, tmp_path, capsys):
    server.routes["/good/big.gz"] = ("ok", gzip.compress(BIG))
    https = _closed_port_url().replace("http://", "https://")
    download_file("big", tmp_path, BIG_CHECK, mirrors=[server.url("good"), https])
    lines = [line for line in capsys.readouterr().err.splitlines() if "big.gz" in line and "://" in line]
    assert lines[0].startswith(https) and "cannot connect" in lines[0]  # tried first, though given last
    assert lines[1].startswith(server.url("good")) and "plain HTTP" in lines[1] and "checksum" in lines[1]


# ---------------------------------------------------------------- a killed download
def test_a_killed_download_is_cleaned_up_by_the_next_one(server, tmp_path):
    server.routes["/slow/big.gz"] = ("stall", gzip.compress(BIG))  # half of it, then nothing
    server.routes["/good/big.gz"] = ("ok", gzip.compress(BIG))
    code = ("import sys; from workbook_tools.mnist import download_file, FileCheck\n"
            "download_file('big', sys.argv[1], FileCheck(int(sys.argv[2]), sha256=sys.argv[3]),\n"
            "              mirrors=[sys.argv[4]], progress=False)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(BIG_CHECK.size), BIG_CHECK.sha256,
                              server.url("slow")], env=env)
    try:
        deadline = time.monotonic() + 60
        while not [p for p in tmp_path.glob(".*.part") if p.stat().st_size] and time.monotonic() < deadline:
            assert child.poll() is None, "the download ended before it could be killed"
            time.sleep(0.05)
    finally:
        child.kill()  # SIGKILL: no clean-up code runs
        child.wait(10)
    parts = list(tmp_path.glob(".*.part"))
    assert len(parts) == 1 and parts[0].name.startswith(".big.gz.")

    # Straight after, the part might be another notebook's download in progress: kept.
    download_missing(tmp_path, {"big": BIG_CHECK}, mirrors=[server.url("good")], progress=False)
    assert sorted(_listing(tmp_path)) == sorted([parts[0].name, "big.gz"])
    # Once it has not been written to for ten minutes it is a leftover, and the next call removes it.
    old = time.time() - 601
    os.utime(parts[0], (old, old))
    assert download_missing(tmp_path, {"big": BIG_CHECK}, mirrors=[server.url("good")], progress=False) == []
    assert _listing(tmp_path) == ["big.gz"]
