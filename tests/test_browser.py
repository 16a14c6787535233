"""The workbook in a real browser: JupyterLab + Debian's Chromium via Playwright.

One JupyterLab server on 127.0.0.1 serves both tests (a module-scoped fixture; each test's
kernels are shut down after it): a copy of ``tests/fixtures/panel_demo.ipynb`` and a student
workspace made as ``python3 workbook.py lab`` makes it.

The panel: runs the demo, moves two sliders, waits for the kernel to be idle, presses
Train and checks that the plot changed, that it was redrawn while training ran
(not only at the end) and that the run used the new values; then starts a long
run and stops it with Stop; last, types layer sizes over the panel's cap and
checks that Train refuses them.

An exercise: from the start page to notebook 02 (student edition), its set-up cells, exercise
2.3 as the stub ("not attempted yet"), with a flipped sign (✗ and the hint) and solved (✓), a
wrong answer to 2.2, the verdicts in ``.workbook/progress.json``, and the start page counting
the exercise as passed.

Screenshots go to ``artifacts/browser/``. Needs ``/usr/bin/chromium`` (``python3 workbook.py
test`` installs it); without it the tests fail rather than skip, so CI cannot pass without
running them.
"""
from __future__ import annotations

import contextlib
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
from typing import NamedTuple

import nbformat
import numpy as np
import pytest
from playwright.sync_api import expect

from workbook_tools.workspace import notebook_exercises, sources

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


class Lab(NamedTuple):
    base: str  # http://127.0.0.1:PORT
    token: str
    tmp: Path  # the server's log, the panel demo's run log
    root: Path  # what JupyterLab serves: panel/panel_demo.ipynb and workspace/


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    """One JupyterLab server for the tests of this module, serving a folder with a copy of the
    panel fixture (``panel/``) and a student workspace made as ``workbook.py lab`` makes it
    (``workspace/``: the student edition and the start page)."""
    tmp_path = tmp_path_factory.mktemp("lab")
    jupyter = Path(sys.executable).with_name("jupyter")
    assert jupyter.exists(), f"{jupyter} not found: install the project with its test extra"
    root = tmp_path / "root"
    (root / "panel").mkdir(parents=True)
    shutil.copy(FIXTURE, root / "panel" / FIXTURE.name)
    # the command `python3 workbook.py lab` runs before it starts JupyterLab
    subprocess.run([sys.executable, "-m", "workbook_tools.workspace", "sync", "--workspace", str(root / "workspace")],
                   cwd=ROOT, check=True, capture_output=True)
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
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly", "--LanguageServerManager.autodetect=False",
           "--ServerApp.terminals_enabled=False"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI containers run as root
    log = open(tmp_path / "jupyter.log", "wb")
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
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
        yield Lab(base, token, tmp_path, root)
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


@pytest.fixture
def lab(lab_server):
    """The module's JupyterLab server; every kernel a test started is shut down after it."""
    yield lab_server
    _shutdown_kernels(lab_server)


def _shutdown_kernels(lab: Lab, timeout: float = 30.0) -> None:
    """Delete every session and kernel of the server, and wait until none is left."""
    def delete(path):
        request = urllib.request.Request(f"{lab.base}{path}", method="DELETE",
                                         headers={"Authorization": f"token {lab.token}"})
        try:
            urllib.request.urlopen(request, timeout=15).close()
        except urllib.error.HTTPError as exc:
            if exc.code != 404:  # gone already
                raise

    deadline = time.monotonic() + timeout
    for session in _get_json(f"{lab.base}/api/sessions?token={lab.token}", deadline):
        delete(f"/api/sessions/{session['id']}")
    while kernels := _get_json(f"{lab.base}/api/kernels?token={lab.token}", deadline):
        if time.monotonic() > deadline:
            raise AssertionError(f"kernels still running after {timeout} s: {kernels}")
        for kernel in kernels:
            delete(f"/api/kernels/{kernel['id']}")
        time.sleep(0.2)


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


@contextlib.contextmanager
def _chromium_page(chromium, failure_shot):
    """A headless Chromium page with the tests' timeout; yields it and the page errors seen.

    On a failure the page is saved as ARTIFACTS/<failure_shot>.png.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.set_default_timeout(TIMEOUT_MS)
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            try:
                yield page, errors
            except BaseException:
                page.screenshot(path=str(ARTIFACTS / f"{failure_shot}.png"))
                raise
        finally:
            browser.close()


def _runs(tmp_path):
    path = tmp_path / "runs.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_panel_in_jupyterlab_with_chromium(chromium, lab):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    base, token, tmp_path = lab.base, lab.token, lab.tmp
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with _chromium_page(chromium, "page_failure") as (page, errors):
        page.goto(f"{base}/lab/tree/panel/panel_demo.ipynb?token={token}&reset")
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
        static_before = _save_and_read_panel_figure(page, lab.root / "panel" / FIXTURE.name)
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
        static_after = _save_and_read_panel_figure(page, lab.root / "panel" / FIXTURE.name)
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
    assert time.monotonic() - t0 < 120


# --- an exercise in the student's workspace ----------------------------------------------------

NB02 = "02_scalar_backprop.ipynb"
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def _solution(exercise: str) -> str:
    """What a student would type for an exercise: the solution edition's cell without the markers."""
    nb = nbformat.read(ROOT / "notebooks" / NB02, as_version=4)
    [cell] = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("workbook", {}).get("exercise") == exercise]
    return "\n".join(line for line in cell.source.split("\n") if not any(m in line for m in MARKERS))


def _mistake(source: str, right: str, wrong: str) -> str:
    assert source.count(right) == 1, f"{right!r} is not once in the solution: update the test's mistake"
    return source.replace(right, wrong)


def _notebook(page, has):
    """The notebook panel (of the ones open in JupyterLab) that contains ``has``."""
    return page.locator(".jp-NotebookPanel").filter(has=page.locator(has))


def _code_cell(panel, text: str):
    """The code cell whose source contains ``text``."""
    cell = panel.locator(".jp-CodeCell").filter(has=panel.page.locator(".jp-InputArea-editor", has_text=text))
    expect(cell).to_have_count(1)
    return cell


EDITOR_TEXT = "el => [...el.querySelectorAll('.cm-line')].map(line => line.textContent).join('\\n')"


def _kernel_ready(panel) -> None:
    """Wait until the notebook's own kernel is connected and idle (its toolbar's indicator says so):
    a cell run before then would find no kernel."""
    expect(panel.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute("data-status", "idle")


def _editor_text(cell) -> str:
    return cell.locator(".cm-content").evaluate(EDITOR_TEXT)


def _type(cell, text: str) -> None:
    """Replace the cell's source by ``text``, as a student pasting an answer over the stub."""
    page = cell.page
    cell.locator(".cm-content").click()
    expect(cell.locator(".cm-editor")).to_have_class(re.compile(r"\bcm-focused\b"))  # edit mode
    page.keyboard.press("ControlOrMeta+A")  # in the editor: all of the cell's text
    page.keyboard.insert_text(text)
    page.wait_for_function(f"([el, text]) => ({EDITOR_TEXT})(el) === text",
                           arg=[cell.locator(".cm-content").element_handle(), text])


def _answer(exercise, code: str, check, verdict, status: str) -> None:
    """Type ``code`` into the exercise cell and run it (a definition: no output), then run the check:
    one verdict, with ``status`` (passed, failed)."""
    _type(exercise, code)
    expect(_run(exercise).locator(".jp-OutputArea-output")).to_have_count(0)
    _run(check)
    expect(verdict).to_have_count(1)
    expect(verdict).to_have_class(re.compile(rf"workbook-check-{status}"))


def _run(cell):
    """Run the cell (select it, Ctrl+Enter) and wait until it has finished, that is until its prompt,
    having changed (to [*]), shows an execution count again. Returns its output area.

    (The count alone does not tell: a new kernel's first cell is [1] again.)"""
    prompt = cell.locator(".jp-InputArea-prompt")
    prompt.click()  # selects the cell (command mode)
    expect(cell).to_have_class(re.compile(r"\bjp-mod-active\b"))
    prompt.evaluate("""el => {
        el.__ran = false;
        new MutationObserver((_, observer) => { el.__ran = true; observer.disconnect(); })
            .observe(el, {childList: true, characterData: true, subtree: true});
    }""")
    cell.page.keyboard.press("Control+Enter")  # Shift+Enter would add a cell below the last one
    cell.page.wait_for_function("el => el.__ran && /^\\[\\d+\\]/.test(el.textContent.trim())",
                                arg=prompt.element_handle())
    return cell.locator(".jp-OutputArea")


def _progress(root: Path) -> dict:
    path = root / "workspace" / ".workbook" / "progress.json"
    return {k: v["status"] for k, v in json.loads(path.read_text()).items()} if path.exists() else {}


def test_exercise_and_start_page_in_jupyterlab(chromium, lab):
    """The student's path through an exercise: from the start page to notebook 02's exercise 2.3 (the
    stub: not attempted yet; a flipped sign: ✗ with the hint; the solution: ✓), a wrong loss in 2.2, and
    back on the start page the exercise counted as passed."""
    expect.set_options(timeout=TIMEOUT_MS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    student_nb = nbformat.read(lab.root / "workspace" / NB02, as_version=4)
    total = len(notebook_exercises(student_nb))
    assert total >= 5 and not _progress(lab.root)
    t0 = time.monotonic()
    with _chromium_page(chromium, "exercise_failure") as (page, errors):
        # where `workbook.py lab` opens JupyterLab: the start page, with no progress yet
        page.goto(f"{lab.base}/lab/tree/workspace/00_start.ipynb?token={lab.token}&reset")
        start = _notebook(page, ".workbook-course-map")
        row = start.locator(".workbook-course-map tr").filter(
            has=page.get_by_role("link", name=student_nb.metadata["title"], exact=True))
        expect(row.locator(".workbook-progress")).to_have_text(re.compile(rf"^0 of {total}\b"))
        _kernel_ready(start)

        # its link opens the notebook in JupyterLab
        row.get_by_role("link").click()
        nb = _notebook(page, ".jp-InputArea-editor:has-text('wt.check(\"2.3\"')")
        expect(nb).to_be_visible()
        _kernel_ready(nb)
        for setup in ("import workbook_tools as wt", "params = {"):  # the set-up cells
            out = _run(_code_cell(nb, setup))
            expect(out.locator("[data-mime-type='application/vnd.jupyter.stderr']")).to_have_count(0)

        exercise, check = _code_cell(nb, "def backward(params, cache, target)"), _code_cell(nb, 'wt.check("2.3"')
        verdict = check.locator(".workbook-check")
        # the stub as the student edition has it
        assert "raise NotImplementedError(\"Exercise 2.3" in _editor_text(exercise)
        _run(exercise)
        _run(check)
        expect(verdict).to_have_count(1)
        expect(verdict).to_have_class(re.compile(r"workbook-check-not-attempted"))
        expect(verdict).to_contain_text("Exercise 2.3 (the backward pass, VU-6, NTNU2-1): not attempted yet")
        assert _progress(lab.root) == {"2.3": "not attempted"}

        # a flipped sign in dL/do: ✗ and the hint that names it
        solution = _solution("2.3")
        _answer(exercise, _mistake(solution, "y[m] - (1.0 if m == target else 0.0)",
                                   "(1.0 if m == target else 0.0) - y[m]"), check, verdict, "failed")
        expect(verdict).to_contain_text("✗ Exercise 2.3")
        expect(verdict).to_contain_text("Hint: the sign: dL/do = y - onehot(t) = (-½, ½)")
        expect(verdict).to_contain_text("Until it passes, the cells below use course_lib.scalar.backward")
        assert _progress(lab.root) == {"2.3": "failed"}

        # the solution: ✓ with what was verified
        _answer(exercise, solution, check, verdict, "passed")
        expect(verdict).to_contain_text("✓ Exercise 2.3")
        expect(verdict).to_contain_text("central differences")
        expect(verdict).not_to_contain_text("Hint")
        check.screenshot(path=str(ARTIFACTS / "exercise_passed.png"))

        # another exercise, wrong: the loss with its sign flipped
        loss = _code_cell(nb, "def loss(cache, target)")
        _type(loss, _mistake(_solution("2.2"), "return -math.log(", "return math.log("))
        _run(loss)
        loss_verdict = _code_cell(nb, 'wt.check("2.2"').locator(".workbook-check")
        _run(_code_cell(nb, 'wt.check("2.2"'))
        expect(loss_verdict).to_have_class(re.compile(r"workbook-check-failed"))
        expect(loss_verdict).to_contain_text("Hint: the sign: l = -log y_target, which is ≥ 0")
        assert _progress(lab.root) == {"2.2": "failed", "2.3": "passed"}

        # back on the start page: running its cell shows the exercise passed
        page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="00_start.ipynb").click()
        expect(start).to_be_visible()
        _run(_code_cell(start, "wt.course_map()"))
        expect(row.locator(".workbook-progress")).to_have_text(re.compile(rf"^1 of {total}\b"))
        counts = start.locator(".workbook-course-map .workbook-progress").all_inner_texts()
        assert len(counts) == len(sources()), counts  # a row for each notebook, none for the start page
        assert [t for t in counts if re.match(r"[1-9]\d* of", t)] == [row.locator(".workbook-progress").inner_text()]
        start.screenshot(path=str(ARTIFACTS / "start_page_progress.png"))
        assert not errors, errors
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
