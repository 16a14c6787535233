"""The training panel in a real browser: JupyterLab + Debian's Chromium via Playwright.

Serves a temporary copy of ``tests/fixtures/panel_demo.ipynb`` with JupyterLab on
127.0.0.1, runs it, moves two sliders, waits for the kernel to be idle, presses
Train and checks that the plot changed, that it was redrawn while training ran
(not only at the end) and that the run used the new values; then starts a long
run and stops it with Stop; last, types layer sizes over the panel's cap and
checks that Train refuses them. Screenshots go to ``artifacts/browser/``.

Needs ``/usr/bin/chromium`` (``python3 workbook.py test`` installs it); without it
the test fails rather than skips, so CI cannot pass without running it.
"""
from __future__ import annotations

import http.client
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "panel_demo.ipynb"
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions"]
TIMEOUT_MS = 60_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str, deadline: float):
    """GET ``url`` as JSON. While a kernel starts the server may answer 5xx, drop the
    connection or time out: those are retried until ``deadline`` (time.monotonic)."""
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            if exc.code < 500:  # a wrong token or path: retrying cannot help
                raise AssertionError(f"{url.split('?')[0]} answered {exc.code} {exc.reason}") from None
            error = exc
        except (OSError, http.client.HTTPException, ValueError) as exc:  # refused, reset, truncated
            error = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"{url.split('?')[0]} still failing at the deadline: {error!r}")
        time.sleep(0.2)


@pytest.fixture
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package"
                    " (`python3 workbook.py test` does it) -- the browser test must run in CI")
    return CHROMIUM


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on a copy of the fixture notebook; yields (base_url, token, workdir)."""
    jupyter = Path(sys.executable).with_name("jupyter")
    assert jupyter.exists(), f"{jupyter} not found: install the project with its test extra"
    work = tmp_path / "nb"
    work.mkdir()
    shutil.copy(FIXTURE, work / FIXTURE.name)
    # Fresh JupyterLab settings: no news, no update checks, no user state leaking in.
    settings = tmp_path / "lab-settings"
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port, token = _free_port(), os.urandom(12).hex()
    env = dict(os.environ,
               JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
               PANEL_DEMO_LOG=str(tmp_path / "runs.jsonl"), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               PYTHONUNBUFFERED="1")
    env.pop("MPLBACKEND", None)
    cmd = [str(jupyter), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
           "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly", "--LanguageServerManager.autodetect=False",
           "--ServerApp.terminals_enabled=False"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI containers run as root
    log = open(tmp_path / "jupyter.log", "wb")
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{(tmp_path / 'jupyter.log').read_text()}")
            try:  # one try at a time: between them, check that the server is still alive
                _get_json(f"{base}/api/status?token={token}", deadline=0)
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    pytest.fail("jupyter lab did not answer within 60 s:\n" + (tmp_path / "jupyter.log").read_text())
                time.sleep(0.3)
        yield base, token, tmp_path
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)
        log.close()
        shutil.copy(tmp_path / "jupyter.log", ARTIFACTS / "jupyter.log") if ARTIFACTS.is_dir() else None


def _wait_kernel_idle(base, token, timeout=60.0, settle=0.5):
    """Poll the REST API until the notebook's kernel is idle (and stays idle for ``settle`` s)."""
    deadline = time.monotonic() + timeout
    idle_since, kernels = None, "no answer"
    while time.monotonic() < deadline:
        kernels = _get_json(f"{base}/api/kernels?token={token}", deadline)
        if kernels and all(k["execution_state"] == "idle" for k in kernels):
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= settle:
                return
        else:
            idle_since = None
        time.sleep(0.1)
    raise AssertionError(f"kernel not idle after {timeout} s: {kernels}")


def _pixels(png: bytes) -> np.ndarray:
    import matplotlib.image as mpimg

    return mpimg.imread(io.BytesIO(png), format="png")


def _set_slider(page, name, value):
    """Type a value into a slider's readout and press Enter (what ipywidgets supports robustly)."""
    readout = page.locator(f".cl-panel-control-{name} .widget-readout")
    readout.click()
    readout.fill(str(value))
    readout.press("Enter")


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
STATIC_IMG = ".jp-RenderedImage[data-mime-type='image/png'] img"


def _decoded(page, selector):
    """Wait until every image matching ``selector`` has decoded its current src: a
    screenshot taken earlier may show the previous frame, or nothing."""
    page.evaluate("sel => Promise.all([...document.querySelectorAll(sel)].map(img => img.decode()"
                  ".catch(() => null)))", selector)


def _save_and_read_panel_figure(page, path, timeout=30.0):
    """File > Save Notebook, then the PNG saved beside the panel's widget view (what a report prints)."""
    before = path.stat().st_mtime_ns
    page.locator(".lm-MenuBar-item", has_text="File").first.click()
    page.locator(".lm-Menu-item", has=page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Save Notebook$"))
                 ).first.click()
    deadline = time.monotonic() + timeout
    while path.stat().st_mtime_ns == before:
        assert time.monotonic() < deadline, "JupyterLab did not save the notebook"
        time.sleep(0.1)
    for _ in range(50):  # the file may be caught mid-write: read until it parses
        try:
            nb = json.loads(path.read_text())
            break
        except json.JSONDecodeError:
            time.sleep(0.1)
    outputs = [o for c in nb["cells"] for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]
    assert len(outputs) == 1 and "image/png" in outputs[0]["data"], "the panel's output lost its figure"
    return outputs[0]["data"]["image/png"]


def _runs(tmp_path):
    path = tmp_path / "runs.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_panel_in_jupyterlab_with_chromium(chromium, lab):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    base, token, tmp_path = lab
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.set_default_timeout(TIMEOUT_MS)
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{base}/lab/tree/panel_demo.ipynb?token={token}&reset")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for()
            _wait_kernel_idle(base, token)

            # Run > Run All Cells
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            page.locator(".lm-Menu-item", has=page.locator(".lm-Menu-itemLabel", has_text="Run All Cells")).first.click()
            message = page.locator(".cl-panel-message")
            plot = page.locator("img.cl-panel-plot")
            panel = page.locator(".cl-panel")
            expect(page.locator(".cl-panel-train")).to_be_visible()
            expect(message).to_contain_text("Done", timeout=TIMEOUT_MS)
            expect(message).to_contain_text("lr=0.05")
            _wait_kernel_idle(base, token)
            assert _runs(tmp_path)[-1]["values"]["lr"] == pytest.approx(0.05)
            plot.scroll_into_view_if_needed()
            _decoded(page, "img.cl-panel-plot")
            before = plot.screenshot(path=str(ARTIFACTS / "panel_before.png"))
            # the figure for exports travels in the panel's own output, never on screen beside it
            assert page.locator(f".jp-CodeCell:has(.cl-panel) {STATIC_IMG}").count() == 0
            static_before = _save_and_read_panel_figure(page, tmp_path / "nb" / FIXTURE.name)
            panel.screenshot(path=str(ARTIFACTS / "panel_widget_before.png"))

            # Count the plot's redraws from now on, as the browser sees them.
            page.evaluate("""() => {
                const img = document.querySelector('img.cl-panel-plot');
                window.__frames = 0;
                // one callback may carry several changes when the page is busy: count the records
                new MutationObserver((records) => { window.__frames += records.length; })
                    .observe(img, {attributes: true, attributeFilter: ['src']});
            }""")

            # Move two sliders; the kernel confirms it received them in the message line.
            _set_slider(page, "lr", 0.5)
            _set_slider(page, "epochs", 400)
            expect(message).to_contain_text("Values changed")
            expect(message).to_contain_text("lr=0.5,")
            expect(message).to_contain_text("epochs=400,")
            assert page.evaluate("window.__frames") == 0, "moving a slider must not start training"
            _wait_kernel_idle(base, token)
            n_runs = len(_runs(tmp_path))

            page.locator(".cl-panel-train").click()
            expect(message).to_contain_text("Done", timeout=TIMEOUT_MS)
            expect(message).to_contain_text("lr=0.5,")
            expect(page.locator(".cl-panel-train")).to_be_enabled()  # after the static figure's update
            runs = _runs(tmp_path)
            run = runs[-1]
            assert len(runs) == n_runs + 1
            assert run["values"]["lr"] == pytest.approx(0.5) and run["optimizer_lr"] == pytest.approx(0.5)
            assert run["values"]["epochs"] == 400 and run["epochs_done"] == 400
            assert run["stop_reason"] == "completed"
            frames = page.evaluate("window.__frames")
            assert frames >= 3, (f"the plot was redrawn {frames} times ({run['frames'] - runs[-2]['frames']} drawn by"
                                 " the kernel): expected live frames, not only the last")
            expect(page.locator(".cl-panel-status")).to_contain_text("step 9600/9600")
            _decoded(page, "img.cl-panel-plot")
            after = plot.screenshot(path=str(ARTIFACTS / "panel_after.png"))
            panel.screenshot(path=str(ARTIFACTS / "panel_widget_after.png"))
            a, b = _pixels(before), _pixels(after)
            assert a.shape == b.shape, f"plot size changed: {a.shape} -> {b.shape}"
            changed = np.mean(np.any(np.abs(a - b) > 0.02, axis=-1))
            assert changed > 0.01, f"only {changed:.2%} of the plot's pixels changed"
            assert page.locator(f".jp-CodeCell:has(.cl-panel) {STATIC_IMG}").count() == 0
            static_after = _save_and_read_panel_figure(page, tmp_path / "nb" / FIXTURE.name)
            assert static_after != static_before, "the saved figure was not replaced by the new run's"

            # A long run, stopped from the browser while it trains.
            _set_slider(page, "epochs", 3000)
            expect(message).to_contain_text("epochs=3000,")
            _wait_kernel_idle(base, token)
            page.locator(".cl-panel-train").click()
            expect(message).to_contain_text("Training with")
            expect(page.locator(".cl-panel-stop")).to_be_enabled()
            page.wait_for_function("""() => {
                const m = document.querySelector('.cl-panel-status').innerText.match(/step (\\d+)\\/72000/);
                return m && Number(m[1]) >= 200;
            }""")  # well under way (the status line shows the kernel's progress)
            page.locator(".cl-panel-stop").click()
            expect(message).to_contain_text("Stopped by you", timeout=TIMEOUT_MS)
            panel.screenshot(path=str(ARTIFACTS / "panel_widget_stopped.png"))
            page.screenshot(path=str(ARTIFACTS / "page_stopped.png"))
            run = _runs(tmp_path)[-1]
            assert run["stop_reason"] == "requested"
            assert 0 < run["steps"] < 3000 * 24

            # Typed layer sizes over the panel's cap: warned while typing, refused by Train.
            _wait_kernel_idle(base, token)
            n_runs = len(_runs(tmp_path))
            page.locator(".cl-panel-control-hidden input").fill("100000")
            expect(message).to_contain_text("Train would refuse them")
            _wait_kernel_idle(base, token)
            page.locator(".cl-panel-train").click()
            expect(message).to_contain_text("Cannot train with")
            expect(message).to_contain_text("at most 4,096 per layer")
            expect(page.locator(".cl-panel-train")).to_be_enabled()
            assert len(_runs(tmp_path)) == n_runs, "a refused setting must not train"
            assert not [e for e in errors if "widget" in e.lower()], errors
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "page_failure.png"))
            raise
        finally:
            browser.close()
    assert time.monotonic() - t0 < 120


def test_get_json_retries_server_errors_until_the_deadline():
    """A server starting a kernel may answer 500 or drop connections: _get_json waits it out."""
    import http.server
    import threading

    answers = [500, 503, "drop", 200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
            if answer == "drop":
                self.close_connection = True
                return  # no status line: the client sees the connection closed
            self.send_response(answer)
            self.end_headers()
            self.wfile.write(b'[{"execution_state": "idle"}]' if answer == 200 else b"busy")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/api/kernels?token=secret"
    try:
        assert _get_json(url, time.monotonic() + 30) == [{"execution_state": "idle"}]
        answers[:] = [500]
        with pytest.raises(AssertionError, match="still failing") as err:
            _get_json(url, time.monotonic() + 0.5)
        assert "secret" not in str(err.value), "the token must not end up in a test log"
        answers[:] = [403]
        with pytest.raises(AssertionError, match="403"):
            _get_json(url, time.monotonic() + 30)  # at once: a wrong token is not retried
    finally:
        server.shutdown()
        server.server_close()
