"""``export_pdf``: read a notebook, optionally run a copy, print it, write the PDF whole."""
from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import tempfile
from pathlib import Path

from ..files import atomic_write, remove_stale_parts
from .browser import CHROMIUM_ENV, find_chromium, find_mathjax
from .errors import ReportError
from .execute import execute_notebook
from .render import ReportExporter

log = logging.getLogger("workbook_tools.report")
# nbconvert's accessibility note fires for every matplotlib figure; not news in a report.
log.addFilter(lambda record: not str(record.msg).startswith("Alternative text is missing"))


def read_notebook(path: Path):
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


def check_output_dir(out_dir: Path, pdf_name: str | None = None) -> None:
    """Fail now, not after minutes of execution, if the PDF could not be written to ``out_dir``.

    Nothing is created: a folder that does not exist yet is checked through the
    nearest one that does, where it would be created. ``pdf_name``, the file to
    be written there, must not be a folder.
    """
    try:
        _probe_output_dir(out_dir)
        if pdf_name and (out_dir / pdf_name).is_dir():
            raise ReportError(f"{out_dir / pdf_name} is a folder, so the PDF cannot be written there: "
                              "move it away or choose another folder with -o")
    except OSError as e:  # a name too long, a loop of symlinks, ...: the system's reason says it
        raise ReportError(f"output folder {out_dir} cannot be used ({e.strerror or e}): "
                          "choose another with -o") from None


def _probe_output_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportError(f"output folder {out_dir} is a file: choose another with -o")
    existing = out_dir
    while not existing.is_dir():
        if existing.exists() or existing.is_symlink() or existing.parent == existing:
            raise ReportError(f"output folder {out_dir} cannot be created: {existing} is not a folder; "
                              "choose another with -o")
        existing = existing.parent
    try:
        # An unnamed file where supported (O_TMPFILE), so nothing shows even if we are killed here.
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        verb = "written" if existing == out_dir else "created"
        raise ReportError(f"output folder {out_dir} cannot be {verb} ({existing}: {e.strerror or e}): "
                          "choose another with -o") from None


def _render(src: Path, nb, title, author, code) -> bytes:
    exporter = ReportExporter(report_title=title, report_author=author, include_code=code, log=log)
    modified = _dt.datetime.fromtimestamp(src.stat().st_mtime).strftime("%B %d, %Y")
    resources = {"metadata": {"name": src.stem, "path": str(src.resolve().parent), "modified_date": modified}}
    try:
        pdf, _ = exporter.from_notebook_node(nb, resources)
    except ReportError:
        raise
    except Exception as e:  # template or rendering trouble: keep it short
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ReportError(f"could not render {src.name}: {type(e).__name__}: {msg}") from e
    return pdf


def export_pdf(notebook_path, output_dir=None, *, title: str | None = None, author: str | None = None,
               code: bool = True, execute: bool = False, timeout: int = 600) -> Path:
    """Write ``<output_dir>/<notebook name>.pdf`` and return its path.

    ``output_dir`` defaults to ``reports/`` in the current directory. The notebook
    file is only read; with ``execute=True`` a copy in memory is run first, each
    cell allowed ``timeout`` seconds. On any failure :class:`ReportError` is
    raised and no PDF (not even a partial one) is left behind.
    """
    if execute and (isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1):
        raise ReportError(f"timeout must be a positive whole number of seconds, not {timeout!r}")
    src = Path(notebook_path).expanduser()
    out_dir = Path(output_dir).expanduser() if output_dir is not None else Path.cwd() / "reports"
    remove_stale_parts(out_dir)
    nb = read_notebook(src)
    check_output_dir(out_dir, src.stem + ".pdf")
    find_mathjax()  # fail early, before a long execution
    if os.environ.get(CHROMIUM_ENV):
        find_chromium()
    if execute:
        nb = execute_notebook(nb, src.resolve().parent, timeout)
    pdf = _render(src, nb, title, author, code)
    target = out_dir / (src.stem + ".pdf")
    try:  # checked before the work, but the folder may have changed since (or be immutable, full, ...)
        out_dir.mkdir(parents=True, exist_ok=True)
        with atomic_write(target) as f:
            f.write(pdf)
    except OSError as e:
        raise ReportError(f"could not write {target} ({e.strerror or e}); nothing was written: "
                          "choose another folder with -o") from None
    return target
