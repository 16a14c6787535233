#!/usr/bin/env python3
"""Execute notebooks in place with the full configuration, leaving clean outputs.

    .venv/bin/python scripts/run_notebooks.py                # every notebook
    .venv/bin/python scripts/run_notebooks.py notebooks/02_scalar_backprop.ipynb

This is how the committed outputs are made: a full run (``WORKBOOK_QUICK`` unset),
no timing metadata and no widget state, so that re-running changes nothing but what
the code really changed. A notebook is only rewritten when every cell succeeded.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from workbook_tools.report.render import DropWidgetsPreprocessor

ROOT = Path(__file__).resolve().parents[1]


def run(path: Path, timeout: int) -> None:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    # A saved widget is dead without its kernel and its text fallback ("VBox(...)",
    # a progress bar stuck at 0%) only confuses readers; every panel is followed by a
    # static figure of the same run. The PDF report drops them by the same rule.
    nb, _ = DropWidgetsPreprocessor().preprocess(nb, {})
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    # write next to the target, then rename: an interrupted run never leaves half a notebook
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".ipynb.tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            nbformat.write(nb, f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = ap.parse_args()
    os.environ.pop("WORKBOOK_QUICK", None)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    for path in paths:
        t0 = time.perf_counter()
        print(f"{path.name} ...", end=" ", flush=True)
        run(path.resolve(), args.timeout)
        print(f"{time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
