"""The page that is printed: nbconvert's HTML exporter with the report's template,
title block, local MathJax and print CSS; the exporter ``jupyter nbconvert --to report``."""
from __future__ import annotations

import copy
import datetime as _dt
import re

from jinja2 import DictLoader
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Float, Unicode, default

from .browser import find_mathjax, html_to_pdf

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


def _warnings(out) -> list[str]:
    """What the reader of the log should know about a printed page."""
    notes = []
    if out.blocked:
        notes.append(f"left out {len(out.blocked)} resource(s) that would need the network: "
                     + ", ".join(out.blocked[:3]))
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
        resources["report"] = title_block(nb, name, self.report_title, self.report_author)
        return super().from_notebook_node(nb, resources, **kw)

    def from_notebook_node(self, nb, resources=None, **kw):
        page, resources = self.to_html(nb, resources, **kw)
        out = html_to_pdf(page, timeout=self.render_timeout)
        notes = _warnings(out)
        for note in notes:
            self.log.warning("%s", note)
        resources["report"].update(warnings=notes, blocked_requests=out.blocked, math=out.math)
        return out.pdf, resources
