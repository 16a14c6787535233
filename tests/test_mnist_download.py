"""The downloader, against a real HTTP server on 127.0.0.1 started by the test.

The server serves small FAKE but valid IDX files (a few images), so the
expected checksums are passed in; the real MNIST table is only the default.
"""

import gzip
import os
import socket
import threading
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
)
from workbook_tools.mnist.download import existing_file
from workbook_tools.mnist.idx import read_bytes


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
    """Looks up self.path in server.routes: (kind, body) with kind ok / drop."""

    def do_GET(self):
        self.server.requests.append(self.path)
        kind, body = self.server.routes.get(self.path, ("404", b""))
        if kind == "404":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if kind == "drop":
            # Promise the whole body, send half, hang up (HTTP/1.0: the
            # connection closes when the handler returns).
            self.wfile.write(body[: len(body) // 2])
        else:
            self.wfile.write(body)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.routes, srv.requests = {}, []
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    srv.url = lambda mirror: f"http://127.0.0.1:{srv.server_address[1]}/{mirror}/"
    yield srv
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
