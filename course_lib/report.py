"""Export a notebook as a PDF report, offline, with the math typeset and the figures in.

Command line::

    python -m course_lib.report notebooks/05_analysis_experiments.ipynb
    python -m course_lib.report NOTEBOOK --no-code --execute --timeout 300 -o reports/ \\
        --title "Lab 5" --author "Ada Lovelace"

Python::

    from course_lib.report import export_pdf
    export_pdf("notebooks/05_analysis_experiments.ipynb", "reports")

JupyterLab: *File > Save and Export Notebook As > Report* (the ``report`` nbconvert
exporter, registered in ``pyproject.toml``; also ``jupyter nbconvert --to report``).

How it works: nbconvert's HTML exporter renders the notebook with the JupyterLab
template, with a local copy of MathJax 2.7 (the ``jupyter-server-mathjax`` package)
instead of the CDN one; headless Chromium, driven by Playwright, opens the page,
waits until MathJax has typeset every formula and prints it to an A4 PDF. The page
can only load files from this machine: every other request is refused, and the
export fails rather than print a page that tried to reach the network.

Set ``WORKBOOK_CHROMIUM`` to use another Chrome/Chromium/Edge executable, and
``WORKBOOK_MATHJAX`` to use another ``MathJax.js`` (version 2.7).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import copy
import datetime as _dt
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import DictLoader
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Float, Unicode, default

__all__ = ["ReportError", "ReportExporter", "export_pdf", "main"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")

CHROMIUM_ENV = "WORKBOOK_CHROMIUM"
MATHJAX_ENV = "WORKBOOK_MATHJAX"

CHROMIUM_HINT = (
    "install it with `sudo apt-get install chromium`, or run `python3 workbook.py test`, which installs it; "
    f"on macOS/Windows set {CHROMIUM_ENV} to your Chrome, Chromium or Edge executable"
)


_log = logging.getLogger("course_lib.report")
# nbconvert's accessibility note fires for every matplotlib figure; not news in a report.
_log.addFilter(lambda record: not str(record.msg).startswith("Alternative text is missing"))


class ReportError(Exception):
    """An export failed for a reason the user can fix; the message says how."""


# --------------------------------------------------------------------------- finding tools


def find_mathjax() -> Path:
    """Path of a local ``MathJax.js`` (MathJax 2.7)."""
    override = os.environ.get(MATHJAX_ENV)
    if override:
        path = Path(override).expanduser()
        if path.is_dir():
            path = path / "MathJax.js"
        if not path.is_file():
            raise ReportError(f"MathJax not found at {path} (from {MATHJAX_ENV}): point it at a MathJax 2.7 MathJax.js")
        return path.resolve()
    try:
        import jupyter_server_mathjax
    except ImportError:
        raise ReportError(
            "MathJax not found: the Python package jupyter-server-mathjax provides an offline copy; "
            "install it with `pip install jupyter-server-mathjax` "
            "(conda: `conda install -c conda-forge jupyter-server-mathjax`), or run `python3 workbook.py test`"
        ) from None
    path = Path(jupyter_server_mathjax.__file__).resolve().parent / "static" / "MathJax.js"
    if not path.is_file():
        raise ReportError(f"MathJax not found: {path} is missing; reinstall it with "
                          "`pip install --force-reinstall jupyter-server-mathjax`")
    return path


_CHROMIUM_CANDIDATES = [
    "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable", "/snap/bin/chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
    r"C:\Program Files\Google\Chrome\Application\chrome.exe",
    r"C:\Program Files (x86)\Google\Chrome\Application\chrome.exe",
    r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe",
    r"C:\Program Files\Microsoft\Edge\Application\msedge.exe",
]


def find_chromium() -> str | None:
    """The browser to print with: ``$WORKBOOK_CHROMIUM``, else a system Chrome/Chromium/Edge.

    ``None`` means none was found; Playwright then tries a browser of its own
    (``playwright install chromium``, where the machine can download it).
    """
    override = os.environ.get(CHROMIUM_ENV)
    if override:
        path = Path(override).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ReportError(f"Chromium not found at {path} (from {CHROMIUM_ENV}): {CHROMIUM_HINT}")
        return str(path)
    for cand in _CHROMIUM_CANDIDATES:
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome", "msedge"):
        found = shutil.which(name)
        if found:
            return found
    return None


# --------------------------------------------------------------------------- notebook clean-up


class DropWidgetsPreprocessor(Preprocessor):
    """Remove live widget views (they cannot be printed) and the saved widget state.

    An output that is only a widget view (its text/plain fallback is e.g.
    ``VBox(children=...)``) is dropped; the panels in the workbook also display a
    static figure, which stays. An output that carries an image beside the
    widget view keeps the image.
    """

    def preprocess(self, nb, resources):
        nb.metadata.pop("widgets", None)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        cell.get("metadata", {}).pop("widgets", None)
        if cell.cell_type == "code":
            kept = []
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                if WIDGET_VIEW in data:
                    if not any(m in data for m in IMAGE_MIMES):
                        continue
                    data.pop(WIDGET_VIEW)
                    data.pop("text/plain", None)
                kept.append(out)
            cell.outputs = kept
        return cell, resources


_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$")


def _first_heading(nb) -> tuple[int, str] | None:
    """Index and text of the first markdown cell whose first line is a ``# `` heading."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.strip().splitlines()
        m = _H1.match(lines[0]) if lines else None
        return (i, m.group(1)) if m else None
    return None


def _authors(meta) -> str:
    authors = meta.get("authors") or meta.get("author") or []
    if isinstance(authors, str):
        return authors
    names = [a.get("name", "") if isinstance(a, dict) else str(a) for a in authors]
    return ", ".join(n for n in names if n)


def _title_block(nb, name: str, title: str | None, author: str | None) -> dict:
    """Decide title and author; drop the first ``# `` heading if it becomes the title."""
    heading = _first_heading(nb)
    title = title or nb.metadata.get("title") or (heading[1] if heading else None) or name
    author = author if author is not None else _authors(nb.metadata)
    if heading and heading[1].strip() == str(title).strip():
        cell = nb.cells[heading[0]]
        cell.source = "\n".join(cell.source.strip().splitlines()[1:]).strip()
        if not cell.source:
            del nb.cells[heading[0]]
    nb.metadata["title"] = str(title)  # the page title, which Chromium uses as the PDF title
    return {"title": str(title), "author": author, "date": _dt.date.today().isoformat()}


# --------------------------------------------------------------------------- template


_CSS = r"""
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
html, body { background: white !important; }
body.jp-Notebook { padding: 0 !important; overflow: visible !important; }
main { padding: 0 !important; }
.report-header { margin: 0 0 1.5em 0; padding-bottom: 0.6em; border-bottom: 1px solid #bbb; }
.report-header h1 { font-size: 1.9em; margin: 0 0 0.3em 0; }
.report-header .report-meta { color: #444; font-size: 1.05em; }
/* Long code lines wrap instead of running off the page. */
.jp-Notebook pre, .highlight pre, .jp-RenderedText pre, .jp-OutputArea-output pre {
  white-space: pre-wrap !important; overflow-wrap: anywhere !important; word-break: break-word;
}
.jp-InputArea, .jp-InputArea-editor, .jp-OutputArea, .jp-OutputArea-output,
.jp-Cell-inputWrapper, .jp-Cell-outputWrapper, .jp-RenderedHTMLCommon { overflow: visible !important; }
.jp-InputArea-editor { min-width: 0; }
/* Figures fit the page and are not cut in half by a page break. */
img, svg, .jp-RenderedImage img { max-width: 100% !important; height: auto; }
.jp-RenderedImage, .jp-OutputArea-output img { break-inside: avoid; page-break-inside: avoid; }
h1, h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
.jp-RenderedHTMLCommon table { break-inside: auto; }
.MathJax_Display, .MathJax_SVG_Display { overflow: visible !important; }
.jp-RenderedHTMLCommon .MathJax_Display { margin: 0.7em 0 !important; }
"""

# MathJax 2.7: configured before it loads; the "End" hook fires once the page is typeset.
_MATHJAX = r"""
<script type="text/javascript">
window.__reportMath = "loading";
window.MathJax = {
  TeX: {
    equationNumbers: { autoNumber: "AMS", useLabelIds: true }
  },
  tex2jax: {
    inlineMath: [["$", "$"], ["\\(", "\\)"]],
    displayMath: [["$$", "$$"], ["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true
  },
  "HTML-CSS": {
    availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null,
    linebreaks: { automatic: true }
  },
  displayAlign: "center",
  messageStyle: "none",
  showMathMenu: false,
  menuSettings: { zoom: "None" },
  AuthorInit: function () {
    MathJax.Hub.Register.StartupHook("End", function () { window.__reportMath = "done"; });
  }
};
</script>
<script type="text/javascript" src="{{ resources.mathjax_url }}"
        onerror="window.__reportMath = 'failed'"></script>
"""

_TEMPLATE = (
    r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
"""
    + _MATHJAX
    + r"""
{%- endblock html_head_js_mathjax -%}
{%- block html_head_css -%}
<style type="text/css">"""
    + _CSS
    + r"""</style>
{%- endblock html_head_css -%}
{%- block body_header -%}
{{ super() }}
{%- set report = resources.report or {} -%}
<header class="report-header">
<h1 class="report-title">{{ report.title | e }}</h1>
<div class="report-meta">
{%- if report.author %}<span class="report-author">{{ report.author | e }}</span> &middot; {% endif -%}
<span class="report-date">{{ report.date | e }}</span></div>
</header>
{%- endblock body_header -%}
"""
)


# --------------------------------------------------------------------------- exporter


class ReportExporter(HTMLExporter):
    """nbconvert exporter: a notebook as a PDF report (``jupyter nbconvert --to report``)."""

    export_from_notebook = "PDF Report (offline)"
    output_mimetype = "application/pdf"

    report_title = Unicode(None, allow_none=True, help="Title; default: notebook metadata, first heading, file name.").tag(config=True)
    report_author = Unicode(None, allow_none=True, help="Author; default: notebook metadata 'authors'.").tag(config=True)
    include_code = Bool(True, help="Show code cells (False: outputs only).").tag(config=True)
    render_timeout = Float(120.0, help="Seconds to wait for the page and its math to render.").tag(config=True)

    @default("file_extension")
    def _file_extension_default(self):
        return ".pdf"

    @default("template_name")
    def _template_name_default(self):
        # nbconvert's "webpdf" template: the JupyterLab look, declared as PDF output.
        return "webpdf"

    @default("template_file")
    def _template_file_default(self):
        return "workbook_report.html.j2"

    @default("extra_loaders")
    def _extra_loaders_default(self):
        return [DictLoader({"workbook_report.html.j2": _TEMPLATE})]

    @default("mathjax_url")
    def _mathjax_url_default(self):
        # jupyter-server-mathjax ships the output jax only inside this combined configuration.
        return find_mathjax().as_uri() + "?config=TeX-AMS-MML_HTMLorMML-full"

    @default("theme")
    def _theme_default(self):
        return "light"

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.register_preprocessor(DropWidgetsPreprocessor(), enabled=True)
        if not self.include_code:
            self.exclude_input = True
            self.exclude_input_prompt = True
            self.exclude_output_prompt = True

    def to_html(self, nb, resources=None, **kw):
        """The page that is printed: HTML with the title block, local MathJax, print CSS."""
        nb = copy.deepcopy(nb)
        resources = self._init_resources(resources)
        name = resources.get("metadata", {}).get("name") or "notebook"
        resources["report"] = _title_block(nb, name, self.report_title, self.report_author)
        return super().from_notebook_node(nb, resources, **kw)

    def from_notebook_node(self, nb, resources=None, **kw):
        page, resources = self.to_html(nb, resources, **kw)
        out = html_to_pdf(page, timeout=self.render_timeout)
        notes = []
        if out.blocked:
            notes.append(f"left out {len(out.blocked)} resource(s) that would need the network: "
                         + ", ".join(out.blocked[:3]))
        if out.math.get("failed"):
            notes.append(f"MathJax could not typeset {out.math['failed']} of {out.math['total']} formulas")
        notes += [f"TeX error, formula printed as its source: {tex}" for tex in out.math.get("tex_errors", [])]
        for note in notes:
            self.log.warning("%s", note)
        resources["report"].update(warnings=notes, blocked_requests=out.blocked, math=out.math)
        return out.pdf, resources


# --------------------------------------------------------------------------- printing


_BROWSER_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
    "--no-first-run", "--no-default-browser-check", "--metrics-recording-only", "--mute-audio",
    "--disable-domain-reliability", "--disable-client-side-phishing-detection",
]


def _print_with_chromium(html_path: Path, executable: str | None, timeout: float) -> tuple[bytes, list[str], dict]:
    try:
        from playwright.sync_api import Error as PlaywrightError, sync_playwright
    except ImportError:
        raise ReportError("Python package playwright not found: install it with `pip install playwright` "
                          "(conda: `conda install -c conda-forge playwright`), or run `python3 workbook.py test`") from None
    blocked: list[str] = []

    def guard(route):
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=executable, headless=True, args=_BROWSER_ARGS,
                                         handle_sigint=False, handle_sigterm=False, handle_sighup=False)
        except PlaywrightError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            where = f"at {executable}" if executable else "(none found on this machine)"
            raise ReportError(f"Chromium could not start {where}: {first}\n  {CHROMIUM_HINT}") from None
        try:
            page = browser.new_page()
            page.route("**/*", guard)
            ms = timeout * 1000
            try:
                page.goto(html_path.as_uri(), wait_until="load", timeout=ms)
                # Done, failed to load, or loaded something that is not MathJax 2.
                page.wait_for_function(
                    "window.__reportMath !== 'loading' || (document.readyState === 'complete'"
                    " && !(window.MathJax && window.MathJax.Hub))", timeout=ms)
            except PlaywrightError:
                raise ReportError(f"the page did not finish typesetting its math within {timeout:g} s") from None
            state = page.evaluate("window.__reportMath")
            if state != "done":
                raise ReportError("MathJax could not be loaded from this machine "
                                  f"({find_mathjax()}); reinstall jupyter-server-mathjax")
            math = page.evaluate(_MATH_STATS_JS)
            if math["failed"] and math["failed"] == math["total"]:
                raise ReportError(f"MathJax failed on all {math['total']} formulas (Math Processing Error); "
                                  "reinstall jupyter-server-mathjax")
            page.emulate_media(media="print")
            pdf = page.pdf(format="A4", print_background=True, prefer_css_page_size=True,
                           display_header_footer=True, header_template="<span></span>",
                           footer_template=('<div style="font-size:8px;width:100%;text-align:center;color:#666;">'
                                            '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'),
                           margin={"top": "16mm", "bottom": "18mm", "left": "14mm", "right": "14mm"})
        finally:
            browser.close()
    return pdf, blocked, math


# Typeset formulas, formulas MathJax itself failed on, and formulas with TeX errors
# (printed as their source in a box by the noErrors extension).
_MATH_STATS_JS = """() => ({
  total: document.querySelectorAll('script[type^="math/tex"]').length,
  failed: document.querySelectorAll('.MathJax_Error').length,
  tex_errors: Array.from(document.querySelectorAll('.noError')).map(e => e.textContent.trim().slice(0, 60)),
})"""


@dataclass
class Rendered:
    """A printed page: the PDF, the requests refused for needing the network, math counts."""

    pdf: bytes
    blocked: list[str] = field(default_factory=list)
    math: dict = field(default_factory=dict)


def html_to_pdf(page_html: str, *, timeout: float = 120.0, executable: str | None = None) -> Rendered:
    """Print an HTML page to PDF with headless Chromium, without network access.

    Requests for anything but local files are refused: such a resource is left
    out of the PDF rather than fetched, and listed in ``Rendered.blocked``.
    """
    if executable is None:
        executable = find_chromium()
    with tempfile.TemporaryDirectory(prefix="workbook-report-") as tmp:
        html_path = Path(tmp) / "report.html"
        html_path.write_text(page_html, encoding="utf-8")
        # Playwright's sync API refuses to run inside an asyncio loop (a Jupyter
        # kernel, jupyter-server): give it a thread of its own.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            pdf, blocked, math = pool.submit(_print_with_chromium, html_path, executable, timeout).result()
    if not pdf.startswith(b"%PDF"):
        raise ReportError("Chromium did not return a PDF")
    return Rendered(pdf, sorted(set(blocked)), math)


# --------------------------------------------------------------------------- execution


def _read_notebook(path: Path):
    import nbformat

    if not path.exists():
        raise ReportError(f"notebook not found: {path}")
    if path.is_dir() or path.suffix != ".ipynb":
        raise ReportError(f"not a notebook (.ipynb file): {path}")
    try:
        return nbformat.read(path, as_version=4)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ReportError(f"{path} is not a valid notebook: it is not JSON ({e})") from None
    except Exception as e:  # nbformat's validation and reader errors
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ReportError(f"{path} is not a valid notebook: {msg}") from None


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def _cell_label(nb, index: int) -> str:
    cell = nb.cells[index]
    code_no = sum(1 for c in nb.cells[: index + 1] if c.cell_type == "code")
    first = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
    if len(first) > 60:
        first = first[:57] + "..."
    return f"cell {index + 1} (code cell {code_no}: {first!r})"


def execute_notebook(nb, cwd: Path, timeout: int = 600):
    """Run a copy of ``nb`` in a fresh kernel, working directory ``cwd``; return the copy."""
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from nbconvert.preprocessors import ExecutePreprocessor

    class _Tracking(ExecutePreprocessor):
        current = -1
        kernel_log = None

        def start_new_kernel(self, **kwargs):
            # The kernel's own chatter (and its traceback when it is killed on a
            # timeout) goes to a log file, quoted only when the kernel dies.
            kwargs.setdefault("stderr", self.kernel_log)
            kwargs.setdefault("stdout", self.kernel_log)
            return super().start_new_kernel(**kwargs)

        def preprocess_cell(self, cell, resources, index):
            self.current = index
            return super().preprocess_cell(cell, resources, index)

    nb = copy.deepcopy(nb)
    ep = _Tracking(timeout=timeout, kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"))
    with tempfile.TemporaryFile(mode="w+b") as log:
        ep.kernel_log = log
        where = lambda: _cell_label(nb, ep.current) if ep.current >= 0 else "a cell"  # noqa: E731
        try:
            ep.preprocess(nb, {"metadata": {"path": str(cwd)}})
        except CellExecutionError as e:
            raise ReportError(f"executing the notebook failed in {where()}: "
                              f"{e.ename}: {_strip_ansi(str(e.evalue))}") from None
        except CellTimeoutError:
            raise ReportError(f"executing the notebook timed out: {where()} ran longer than {timeout} s "
                              "(raise --timeout)") from None
        except DeadKernelError:
            log.seek(0)
            tail = [ln for ln in log.read().decode("utf-8", "replace").splitlines()
                    if ln.strip() and "without encryption" not in ln][-5:]
            raise ReportError(f"the kernel died while executing {where()}"
                              + ("; its last words:\n  " + "\n  ".join(tail) if tail else "")) from None
        except NoSuchKernel as e:
            raise ReportError(f"kernel {e.args[0] if e.args else ''!s} not found: install it with "
                              "`pip install ipykernel` in the environment that runs the export") from None
    return nb


# --------------------------------------------------------------------------- API


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def export_pdf(notebook_path, output_dir=None, *, title: str | None = None, author: str | None = None,
               code: bool = True, execute: bool = False, timeout: int = 600) -> Path:
    """Write ``<output_dir>/<notebook name>.pdf`` and return its path.

    ``output_dir`` defaults to ``reports/`` in the current directory. The notebook
    file is only read; with ``execute=True`` a copy in memory is run first, each
    cell allowed ``timeout`` seconds. On any failure :class:`ReportError` is
    raised and no PDF (not even a partial one) is left behind.
    """
    src = Path(notebook_path).expanduser()
    nb = _read_notebook(src)
    out_dir = Path(output_dir).expanduser() if output_dir is not None else Path.cwd() / "reports"
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportError(f"output folder {out_dir} is a file")
    find_mathjax()  # fail early, before a long execution
    if os.environ.get(CHROMIUM_ENV):
        find_chromium()
    if execute:
        nb = execute_notebook(nb, src.resolve().parent, timeout)

    exporter = ReportExporter(report_title=title, report_author=author, include_code=code, log=_log)
    resources = {"metadata": {"name": src.stem, "path": str(src.resolve().parent),
                              "modified_date": _dt.datetime.fromtimestamp(src.stat().st_mtime).strftime("%B %d, %Y")}}
    try:
        pdf, _ = exporter.from_notebook_node(nb, resources)
    except ReportError:
        raise
    except Exception as e:  # template or rendering trouble: keep it short
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ReportError(f"could not render {src.name}: {type(e).__name__}: {msg}") from e

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / (src.stem + ".pdf")
    fd, tmp = tempfile.mkstemp(prefix=f".{src.stem}.", suffix=".pdf.part", dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pdf)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; a report is an ordinary file
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m course_lib.report",
        description="Export notebooks as PDF reports (offline: local MathJax, headless Chromium).")
    ap.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="the .ipynb file(s) to export")
    ap.add_argument("-o", "--output-dir", default=None, help="folder for the PDFs (default: ./reports)")
    ap.add_argument("--title", help="report title (default: notebook metadata 'title', first '# ' heading, file name)")
    ap.add_argument("--author", help="author line (default: notebook metadata 'authors')")
    ap.add_argument("--no-code", dest="code", action="store_false", help="hide the code cells, keep their outputs")
    ap.add_argument("--execute", action="store_true", help="run the notebook (a copy in memory) before exporting")
    ap.add_argument("--timeout", type=int, default=600, help="seconds each cell may run with --execute (default 600)")
    ap.add_argument("--debug", action="store_true", help="show the full traceback on failure")
    args = ap.parse_args(argv)
    if not _log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("report: warning: %(message)s"))
        _log.addHandler(handler)
        _log.propagate = False

    status = 0
    for nb_path in args.notebooks:
        start = time.perf_counter()
        try:
            out = export_pdf(nb_path, args.output_dir, title=args.title, author=args.author,
                             code=args.code, execute=args.execute, timeout=args.timeout)
        except KeyboardInterrupt:
            print("report: interrupted; no PDF written", file=sys.stderr)
            return 130
        except Exception as e:  # noqa: BLE001 - every failure gets one clear line
            if args.debug:
                traceback.print_exc()
            msg = str(e) if isinstance(e, ReportError) else f"unexpected {type(e).__name__}: {e} (rerun with --debug)"
            print(f"report: {nb_path}: {msg}", file=sys.stderr)
            status = 1
            continue
        print(f"report: wrote {out} ({time.perf_counter() - start:.1f} s)")
    return status


if __name__ == "__main__":
    sys.exit(main())
