"""Finding Chromium and MathJax, and printing a page to PDF with Playwright, offline."""
from __future__ import annotations

import concurrent.futures
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ReportError

CHROMIUM_ENV = "WORKBOOK_CHROMIUM"
MATHJAX_ENV = "WORKBOOK_MATHJAX"

CHROMIUM_HINT = (
    "install it with `sudo apt-get install chromium`, or run `python3 workbook.py test`, which installs it; "
    f"on macOS/Windows set {CHROMIUM_ENV} to your Chrome, Chromium or Edge executable"
)


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


# --------------------------------------------------------------------------- printing


_BROWSER_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
    "--no-first-run", "--no-default-browser-check", "--metrics-recording-only", "--mute-audio",
    "--disable-domain-reliability", "--disable-client-side-phishing-detection",
]

# Typeset formulas, formulas MathJax itself failed on, and formulas with TeX errors
# (printed as their source in a box by the noErrors extension).
_MATH_STATS_JS = """() => ({
  total: document.querySelectorAll('script[type^="math/tex"]').length,
  failed: document.querySelectorAll('.MathJax_Error').length,
  tex_errors: Array.from(document.querySelectorAll('.noError')).map(e => e.textContent.trim().slice(0, 60)),
})"""

# Done, failed to load, or loaded something that is not MathJax 2.
_MATH_SETTLED_JS = ("window.__reportMath !== 'loading' || (document.readyState === 'complete'"
                    " && !(window.MathJax && window.MathJax.Hub))")

_FOOTER = ('<div style="font-size:8px;width:100%;text-align:center;color:#666;">'
           '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')


@dataclass
class Rendered:
    """A printed page: the PDF, the requests refused for needing the network, math counts."""

    pdf: bytes
    blocked: list[str] = field(default_factory=list)
    math: dict = field(default_factory=dict)


def _playwright():
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        raise ReportError("Python package playwright not found: install it with `pip install playwright` "
                          "(conda: `conda install -c conda-forge playwright`), or run `python3 workbook.py test`") from None
    return Error, sync_playwright


def _launch(pw, executable: str | None, error_type):
    try:
        return pw.chromium.launch(executable_path=executable, headless=True, args=_BROWSER_ARGS,
                                  handle_sigint=False, handle_sigterm=False, handle_sighup=False)
    except error_type as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        where = f"at {executable}" if executable else "(none found on this machine)"
        raise ReportError(f"Chromium could not start {where}: {first}\n  {CHROMIUM_HINT}") from None


def _typeset(page, url: str, timeout: float, error_type) -> dict:
    """Open the page, wait for MathJax to finish and return its counts."""
    ms = timeout * 1000
    try:
        page.goto(url, wait_until="load", timeout=ms)
        page.wait_for_function(_MATH_SETTLED_JS, timeout=ms)
    except error_type:
        raise ReportError(f"the page did not finish typesetting its math within {timeout:g} s") from None
    if page.evaluate("window.__reportMath") != "done":
        raise ReportError("MathJax could not be loaded from this machine "
                          f"({find_mathjax()}); reinstall jupyter-server-mathjax")
    math = page.evaluate(_MATH_STATS_JS)
    if math["failed"] and math["failed"] == math["total"]:
        raise ReportError(f"MathJax failed on all {math['total']} formulas (Math Processing Error); "
                          "reinstall jupyter-server-mathjax")
    return math


def _print_pdf(page) -> bytes:
    page.emulate_media(media="print")
    return page.pdf(format="A4", print_background=True, prefer_css_page_size=True,
                    display_header_footer=True, header_template="<span></span>", footer_template=_FOOTER,
                    margin={"top": "16mm", "bottom": "18mm", "left": "14mm", "right": "14mm"})


def _print_with_chromium(html_path: Path, executable: str | None, timeout: float) -> tuple[bytes, list[str], dict]:
    error_type, sync_playwright = _playwright()
    blocked: list[str] = []

    def guard(route):
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    with sync_playwright() as pw:
        browser = _launch(pw, executable, error_type)
        try:
            page = browser.new_page()
            page.route("**/*", guard)
            math = _typeset(page, html_path.as_uri(), timeout, error_type)
            pdf = _print_pdf(page)
        finally:
            browser.close()
    return pdf, blocked, math


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
