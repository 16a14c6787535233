"""Finding Chromium and MathJax, and printing a page to PDF with Playwright, offline and fenced in.

The page is never opened from disk. Chromium navigates to a made-up origin,
``https://report.invalid`` (``.invalid`` never resolves), and every request the
page makes is answered by :class:`Gate` from an allow-list: the HTML from
memory, MathJax's files, and images inside the notebook's folder; everything
else is refused and reported. A page on an https origin cannot load ``file:``
URLs at all. The response carries a strict Content-Security-Policy: only our
scripts (with the page's nonce) and what they load run, never the notebook's;
no frames, objects, connections or ``<base>``. The launch flags make every host
name and address unresolvable and keep WebRTC off UDP, so that even what the
request routing cannot see (preconnects, WebRTC) goes nowhere.
"""
from __future__ import annotations

import concurrent.futures
import mimetypes
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

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


# --------------------------------------------------------------------------- the page's fence


ORIGIN = "https://report.invalid"
PAGE_URL = ORIGIN + "/report.html"
MATHJAX_DIR = "/_mathjax/"
# jupyter-server-mathjax ships the output jax only inside this combined configuration.
MATHJAX_URL = ORIGIN + MATHJAX_DIR + "MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".svg": "image/svg+xml", ".webp": "image/webp", ".bmp": "image/bmp", ".avif": "image/avif"}


def content_security_policy(nonce: str) -> str:
    """Our two scripts carry ``nonce``; MathJax's extensions are trusted through them
    ('strict-dynamic'). MathJax needs inline styles, its fonts and data: images."""
    return "; ".join([
        "default-src 'none'", f"script-src 'nonce-{nonce}' 'strict-dynamic'", "style-src 'unsafe-inline'",
        f"img-src {ORIGIN} data:", f"font-src {ORIGIN} data:", "connect-src 'none'", "frame-src 'none'",
        "object-src 'none'", "media-src 'none'", "worker-src 'none'", "manifest-src 'none'",
        "base-uri 'none'", "form-action 'none'",
    ])


def inside(root: Path, relative: str) -> Path | None:
    """``root/relative`` if it is a regular file inside ``root`` once every symlink is resolved.

    Hidden names (``.ssh``, ``.git``) are refused too: a notebook's figures never live there.
    """
    parts = relative.split("/")
    if any(p in ("", ".", "..") or p.startswith(".") for p in parts) or "\\" in relative or "\0" in relative:
        return None
    try:
        path = root.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return path if path.is_relative_to(root) and path.is_file() else None


class Gate:
    """Answers every request of the page from the allow-list; remembers what it refused."""

    def __init__(self, page_html: str, nonce: str, folder: Path | None, mathjax_dir: Path):
        self.page = page_html.encode("utf-8")
        self.csp = content_security_policy(nonce)
        self.folder = folder.resolve() if folder is not None else None
        self.mathjax_dir = mathjax_dir.resolve()
        self.page_served = False
        self.blocked: list[str] = []   # resources left out: URLs
        self.refused: list[str] = []   # active content: navigations

    def attach(self, context) -> None:
        context.route("**/*", self._route)
        # Playwright before 1.48 cannot route WebSockets; CSP (connect-src 'none')
        # and the resolver rules still stop them there.
        if hasattr(context, "route_web_socket"):
            context.route_web_socket("**/*", self._websocket)

    def _websocket(self, ws) -> None:
        self.blocked.append(ws.url)
        ws.close(code=1008, reason="no network in a report")

    def _route(self, route) -> None:
        request = route.request
        try:
            answer = self._answer(request)
        except Exception:  # noqa: BLE001 - an unanswered request would hang the page
            answer = None
        if answer is not None:
            route.fulfill(**answer)
        elif request.is_navigation_request():
            # 204 keeps the page where it is; an aborted navigation would replace it by an error page.
            self.refused.append(f"navigation to {request.url}")
            route.fulfill(status=204)
        else:
            # MathJax probes for fonts that jupyter-server-mathjax leaves out: its business, not the notebook's.
            if not request.url.startswith(ORIGIN + MATHJAX_DIR):
                self.blocked.append(request.url)
            route.abort("blockedbyclient")

    def _answer(self, request) -> dict | None:
        url = urlsplit(request.url)
        if f"{url.scheme}://{url.netloc}" != ORIGIN or request.method != "GET":
            return None
        path = unquote(url.path)
        if path == "/report.html" and request.is_navigation_request() and not self.page_served:
            self.page_served = True
            return {"status": 200, "body": self.page, "headers": {
                "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": self.csp}}
        if path.startswith(MATHJAX_DIR):
            return _file_response(inside(self.mathjax_dir, path[len(MATHJAX_DIR):]))
        if self.folder is not None and request.resource_type == "image":
            file = inside(self.folder, path.lstrip("/"))
            if file is not None and file.suffix.lower() in IMAGE_TYPES:
                return _file_response(file, IMAGE_TYPES[file.suffix.lower()])
        return None


def _file_response(path: Path | None, content_type: str | None = None) -> dict | None:
    if path is None:
        return None
    content_type = content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return {"status": 200, "body": path.read_bytes(),
            "headers": {"Content-Type": content_type, "X-Content-Type-Options": "nosniff"}}


# --------------------------------------------------------------------------- printing


_BROWSER_ARGS = [
    "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
    "--no-first-run", "--no-default-browser-check", "--metrics-recording-only", "--mute-audio",
    "--disable-domain-reliability", "--disable-client-side-phishing-detection",
    # Every request is answered by the Gate, so nothing needs a name or an address
    # resolved; connections the routing never sees (preconnects, WebRTC's TURN over
    # TCP) then fail before a socket opens, also for IP literals.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    # WebRTC sends STUN/TURN over UDP, past every request hook; only proxied UDP is
    # allowed, and there is no proxy.
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
]

# The page's own script (render.py) settles this promise: "done" when MathJax has
# typeset everything, "failed" when the page loaded without MathJax.
_SETTLED_JS = """ms => Promise.race([window.__reportSettled,
  new Promise(resolve => setTimeout(() => resolve("timeout"), ms))])"""

# Typeset formulas, formulas MathJax itself failed on, and formulas with TeX errors
# (printed as their source in a box by the noErrors extension).
_MATH_STATS_JS = """() => ({
  total: document.querySelectorAll('script[type^="math/tex"]').length,
  failed: document.querySelectorAll('.MathJax_Error').length,
  tex_errors: Array.from(document.querySelectorAll('.noError')).map(e => e.textContent.trim().slice(0, 60)),
})"""

_FOOTER = ('<div style="font-size:8px;width:100%;text-align:center;color:#666;">'
           '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')


@dataclass
class Rendered:
    """A printed page: the PDF, what was left out or not run, math counts."""

    pdf: bytes
    blocked: list[str] = field(default_factory=list)
    math: dict = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)


def _playwright():
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        raise ReportError("Python package playwright not found: install it with `pip install playwright` "
                          "(conda: `conda install -c conda-forge playwright`), or run `python3 workbook.py test`") from None
    return Error, sync_playwright


def use_sandbox() -> bool:
    """Chromium's sandbox, except as root: Chromium refuses to start sandboxed as root
    (containers, CI), so there, and only there, it runs with ``--no-sandbox``; the
    page's fence (CSP, Gate, resolver rules) holds either way."""
    return not (hasattr(os, "geteuid") and os.geteuid() == 0)


def launch(pw, executable: str | None):
    """Headless Chromium with the report's flags."""
    error_type, _ = _playwright()
    try:
        return pw.chromium.launch(executable_path=executable, headless=True, args=_BROWSER_ARGS,
                                  chromium_sandbox=use_sandbox(),
                                  handle_sigint=False, handle_sigterm=False, handle_sighup=False)
    except error_type as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        where = f"at {executable}" if executable else "(none found on this machine)"
        hint = CHROMIUM_HINT
        if use_sandbox() and "sandbox" in str(e).lower():
            hint = ("Chromium's sandbox is not available to this user: enable unprivileged user namespaces "
                    "(`sysctl kernel.unprivileged_userns_clone=1`) or install Chromium's setuid sandbox helper")
        raise ReportError(f"Chromium could not start {where}: {first}\n  {hint}") from None


def _typeset(page, timeout: float, error_type) -> dict:
    """Open the page, wait for MathJax to finish and return its counts."""
    try:
        page.goto(PAGE_URL, wait_until="load", timeout=timeout * 1000)
        state = page.evaluate(_SETTLED_JS, timeout * 1000)
    except error_type:
        state = "timeout"
    if state == "timeout":
        raise ReportError(f"the page did not finish typesetting its math within {timeout:g} s")
    if state != "done":
        raise ReportError("MathJax could not be loaded from this machine "
                          f"({find_mathjax()}); reinstall jupyter-server-mathjax")
    math = page.evaluate(_MATH_STATS_JS)
    if math["failed"] and math["failed"] == math["total"]:
        raise ReportError(f"MathJax failed on all {math['total']} formulas (Math Processing Error); "
                          "reinstall jupyter-server-mathjax")
    return math


def _print_pdf(page) -> bytes:
    if page.url != PAGE_URL:
        raise ReportError(f"the notebook navigated the page away (to {page.url[:80]}); "
                          "remove the HTML or script that does it and export again")
    page.emulate_media(media="print")
    return page.pdf(format="A4", print_background=True, prefer_css_page_size=True,
                    display_header_footer=True, header_template="<span></span>", footer_template=_FOOTER,
                    margin={"top": "16mm", "bottom": "18mm", "left": "14mm", "right": "14mm"})


# CSP directives that guard active content rather than a resource to show.
_ACTIVE = {"script-src-elem": "script", "script-src": "script", "script-src-attr": "event handler",
           "frame-src": "frame", "child-src": "frame", "object-src": "object/embed", "worker-src": "worker",
           "base-uri": "<base>", "form-action": "form"}


def _violations(page) -> tuple[list[str], list[str]]:
    """What the page's CSP refused, as (resource URLs, active content)."""
    urls, active = [], []
    for directive, uri in page.evaluate("window.__reportBlocked || []"):
        if (directive, uri) == ("font-src", "about"):
            continue  # MathJax's own "MathJax_Blank" font, url(about:blank), which never loads anyway
        what = _ACTIVE.get(directive)
        if what is None:
            urls.append(uri)
        else:
            active.append(f"{uri} {what}" if uri in ("inline", "eval") else f"{what} {uri}")
    return urls, active


_LOCAL_REFUSED = "Not allowed to load local resource: "


def _print_with_chromium(gate: Gate, executable: str | None, timeout: float) -> tuple[bytes, dict]:
    error_type, sync_playwright = _playwright()
    with sync_playwright() as pw:
        browser = launch(pw, executable)
        try:
            context = browser.new_context(service_workers="block", accept_downloads=False)
            gate.attach(context)
            page = context.new_page()
            # Chromium refuses file: URLs in an https page before CSP sees them; it says so only here.
            page.on("console", lambda m: m.text.startswith(_LOCAL_REFUSED)
                    and gate.blocked.append(m.text[len(_LOCAL_REFUSED):].strip()))
            math = _typeset(page, timeout, error_type)
            pdf = _print_pdf(page)
            urls, active = _violations(page)
        finally:
            browser.close()
    gate.blocked += urls
    gate.refused += active
    return pdf, math


def html_to_pdf(page_html: str, *, nonce: str, folder: Path | None = None, timeout: float = 120.0,
                executable: str | None = None) -> Rendered:
    """Print an HTML page to PDF with headless Chromium, fenced in (see the module's docstring).

    ``nonce`` is the one the page's own scripts carry. Images are served from
    ``folder`` (the notebook's) only; whatever the page may not load is left
    out of the PDF and listed in ``Rendered.blocked`` (URLs) and
    ``Rendered.refused`` (scripts, frames, navigations).
    """
    if executable is None:
        executable = find_chromium()
    gate = Gate(page_html, nonce, folder, find_mathjax().parent)
    # Playwright's sync API refuses to run inside an asyncio loop (a Jupyter
    # kernel, jupyter-server): give it a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pdf, math = pool.submit(_print_with_chromium, gate, executable, timeout).result()
    if not pdf.startswith(b"%PDF"):
        raise ReportError("Chromium did not return a PDF")
    return Rendered(pdf, sorted(set(gate.blocked)), math, sorted(set(gate.refused)))
