"""The page that is printed: nbconvert's HTML exporter with the report's template,
title block, local MathJax and print CSS; the exporter ``jupyter nbconvert --to report``."""
from __future__ import annotations

import copy
import datetime as _dt
import re
import secrets
from pathlib import Path
from urllib.parse import unquote

from jinja2 import DictLoader
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Float, Unicode, default

from .browser import MATHJAX_URL, ORIGIN, find_mathjax, html_to_pdf

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")


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


# --------------------------------------------------------------------------- title block


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


def title_block(nb, name: str, title: str | None, author: str | None) -> dict:
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

# The page's only scripts: they carry its nonce, which the Content-Security-Policy
# (browser.py) requires of every script, so no script of the notebook runs. The
# first reports what the policy refused and configures MathJax 2.7 before it loads;
# MathJax's "End" hook settles window.__reportSettled once the page is typeset.
_MATHJAX = r"""
<script nonce="{{ resources.report_nonce }}">
window.__reportMath = "loading";
window.__reportBlocked = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__reportBlocked.push([e.effectiveDirective, e.blockedURI]);
});
window.__reportSettled = new Promise(function (resolve) {
  window.__reportSettle = resolve;
  window.addEventListener("load", function () {
    if (!(window.MathJax && window.MathJax.Hub)) { window.__reportMath = "failed"; resolve("failed"); }
  });
});
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
    MathJax.Hub.Register.StartupHook("End", function () {
      window.__reportMath = "done";
      window.__reportSettle("done");
    });
  }
};
</script>
<script nonce="{{ resources.report_nonce }}" src="{{ resources.mathjax_url }}"></script>
"""

# Everything after this mark comes from the notebook.
_CONTENT_MARK = "<!-- report: notebook content -->"

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
{%- block body_loop -%}
"""
    + _CONTENT_MARK
    + r"""
{{ super() }}
{%- endblock body_loop -%}
"""
)


# --------------------------------------------------------------------------- exporter


# A <meta http-equiv="refresh"> navigates the page away (to about:blank, say), and
# neither CSP nor any Chromium switch turns that off in a page that runs scripts.
# So "<meta" is renamed wherever it occurs in the notebook's part of the page: a tag
# name has no other spelling (no entities, no escapes), text and code cells come
# escaped ("&lt;meta"), and where it is not a tag (inside a raw <script> or an
# attribute) the renaming changes nothing that is printed.
_META = re.compile(r"<meta(?=[\s/>]|$)", re.IGNORECASE)


def _defuse_meta(page: str) -> tuple[str, int]:
    ours, mark, notebook = page.partition(_CONTENT_MARK)
    if not mark:  # a template without the mark: all of the page counts as the notebook's
        ours, notebook = "", page
    notebook, count = _META.subn("<meta-refused", notebook)
    return ours + mark + notebook, count


def _shown(item: str) -> str:
    """A refused URL as the notebook's author would recognise it."""
    if item.startswith(ORIGIN + "/"):
        item = unquote(item[len(ORIGIN) + 1:])  # a path relative to the notebook's folder
    elif item == "file":
        item = "a file: URL"  # CSP reports file: URLs by their scheme only
    return item if len(item) <= 90 else item[:87] + "..."


def _listed(items: list[str]) -> str:
    return ", ".join(_shown(i) for i in items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")


def _warnings(out, metas: int) -> list[str]:
    """What the reader of the log should know about a printed page."""
    local = [u for u in out.blocked if u.startswith(("file", ORIGIN + "/"))]
    network = [u for u in out.blocked if re.match(r"(https?|wss?|ftp):", u) and u not in local]
    other = [u for u in out.blocked if u not in local and u not in network]  # about:, data:, blob:
    notes = []
    if network:
        notes.append(f"left out {len(network)} resource(s) that would need the network: {_listed(network)}")
    if local:
        notes.append(f"left out {len(local)} local file(s) missing or outside the notebook's folder "
                     f"(only images inside it are printed): {_listed(local)}")
    active = out.refused + other + ([f"{metas} <meta> element(s)"] if metas else [])
    if active:
        notes.append(f"did not run or embed {len(active)} piece(s) of the notebook's active content "
                     f"(scripts, frames, objects, <meta>, <base>, navigation): {_listed(active)}")
    if out.math.get("failed"):
        notes.append(f"MathJax could not typeset {out.math['failed']} of {out.math['total']} formulas")
    notes += [f"TeX error, formula printed as its source: {tex}" for tex in out.math.get("tex_errors", [])]
    return notes


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
        find_mathjax()  # fail here, with the fix, rather than with a page without math
        return MATHJAX_URL

    @default("theme")
    def _theme_default(self):
        return "light"

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.register_preprocessor(DropWidgetsPreprocessor(), enabled=True)
        # With embed_images, nbconvert itself reads every image the Markdown names
        # (../ and absolute paths too) into the page, past the browser's fence.
        self.embed_images = False
        if not self.include_code:
            self.exclude_input = True
            self.exclude_input_prompt = True
            self.exclude_output_prompt = True

    def to_html(self, nb, resources=None, **kw):
        """The page that is printed: HTML with the title block, MathJax, print CSS.

        ``resources["report_nonce"]`` is the nonce of the page's own scripts.
        """
        nb = copy.deepcopy(nb)
        resources = self._init_resources(resources)
        name = resources.get("metadata", {}).get("name") or "notebook"
        resources["report"] = title_block(nb, name, self.report_title, self.report_author)
        resources["report_nonce"] = secrets.token_urlsafe(18)
        page, resources = super().from_notebook_node(nb, resources, **kw)
        page, resources["report"]["meta_refused"] = _defuse_meta(page)
        return page, resources

    def from_notebook_node(self, nb, resources=None, **kw):
        page, resources = self.to_html(nb, resources, **kw)
        # nbconvert and jupyter-server give the notebook's folder; "" is the current one.
        folder = resources.get("metadata", {}).get("path")
        out = html_to_pdf(page, nonce=resources["report_nonce"], timeout=self.render_timeout,
                          folder=Path(folder or ".") if folder is not None else None)
        notes = _warnings(out, resources["report"]["meta_refused"])
        for note in notes:
            self.log.warning("%s", note)
        resources["report"].update(warnings=notes, blocked_requests=out.blocked, refused=out.refused,
                                   math=out.math)
        return out.pdf, resources
