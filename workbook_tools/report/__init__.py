"""Export a notebook as a PDF report, offline, with the math typeset and the figures in.

Command line::

    python -m workbook_tools.report notebooks/05_analysis_experiments.ipynb
    python -m workbook_tools.report NOTEBOOK --no-code --execute --timeout 300 -o reports/ \\
        --title "Lab 5" --author "Ada Lovelace"

Python::

    from workbook_tools.report import export_pdf
    export_pdf("notebooks/05_analysis_experiments.ipynb", "reports")

JupyterLab: *File > Save and Export Notebook As > Report* (the ``report`` nbconvert
exporter, registered in ``pyproject.toml``; also ``jupyter nbconvert --to report``).

How it works: nbconvert's HTML exporter renders the notebook with the JupyterLab
template, with a local copy of MathJax 2.7 (the ``jupyter-server-mathjax`` package)
instead of the CDN one; headless Chromium, driven by Playwright, opens the page,
waits until MathJax has typeset every formula and prints it to an A4 PDF.

A notebook may come from someone else, so the page is fenced in (see
:mod:`.browser`): it may load only itself, MathJax and the notebook's own images
(attachments, data: URIs, image files inside its folder); no script of the
notebook runs, and nothing reaches a file elsewhere or the network. What is left
out is logged as a warning and the export goes on.

Set ``WORKBOOK_CHROMIUM`` to use another Chrome/Chromium/Edge executable, and
``WORKBOOK_MATHJAX`` to use another ``MathJax.js`` (version 2.7).

Modules: :mod:`.render` (nbconvert exporter, template, title block),
:mod:`.browser` (Chromium, MathJax, the page's fence, printing), :mod:`.execute`
(``--execute``), :mod:`.export` (:func:`export_pdf`), :mod:`.cli` (the command line).
"""
from .errors import ReportError
from .export import export_pdf
from .render import ReportExporter

__all__ = ["ReportError", "ReportExporter", "export_pdf"]
