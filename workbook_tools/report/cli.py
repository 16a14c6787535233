"""The command line: ``python -m workbook_tools.report NOTEBOOK ... [options]``."""
from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from pathlib import Path

from .errors import ReportError
from .export import export_pdf, log


def _positive_seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number of seconds, not {text!r} (e.g. --timeout 300)")
    return value


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m workbook_tools.report",
        description="Export notebooks as PDF reports (offline: local MathJax, headless Chromium).")
    ap.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="the .ipynb file(s) to export")
    ap.add_argument("-o", "--output-dir", default=None, help="folder for the PDFs (default: ./reports)")
    ap.add_argument("--title", help="report title (default: notebook metadata 'title', first '# ' heading, file name)")
    ap.add_argument("--author", help="author line (default: notebook metadata 'authors')")
    ap.add_argument("--no-code", dest="code", action="store_false", help="hide the code cells, keep their outputs")
    ap.add_argument("--execute", action="store_true", help="run the notebook (a copy in memory) before exporting")
    ap.add_argument("--timeout", type=_positive_seconds, default=600, help="seconds each cell may run with --execute (default 600)")
    ap.add_argument("--debug", action="store_true", help="show the full traceback on failure")
    return ap


def _log_warnings_to_stderr() -> None:
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("report: warning: %(message)s"))
        log.addHandler(handler)
        log.propagate = False


def _same_pdf(notebooks: list[str]) -> str | None:
    """Two notebooks that would be written to the same PDF (a/lab.ipynb, b/lab.ipynb), said in one line."""
    seen: dict[str, str] = {}
    for path in notebooks:
        name = Path(path).stem + ".pdf"
        if name in seen:
            return (f"report: {seen[name]} and {path} would both be written to {name}, the second over the "
                    "first: export them one at a time, each with its own -o folder")
        seen[name] = path
    return None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _log_warnings_to_stderr()
    clash = _same_pdf(args.notebooks)
    if clash:
        print(clash, file=sys.stderr)
        return 1
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
