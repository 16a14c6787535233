"""Figures kept for a report: a lesson notebook keeps a figure, the report notebook shows it.

Notebook 06 keeps its NTNU figures with ``keep_figure(fig, "ntnu1-2b")``; the
report outline (``09_ntnu_report.ipynb``) shows them with ``show_kept("ntnu1-2b")``.
They live as PNG files in ``figures/`` beside the notebooks (the kernel's working
folder), so a report exported to PDF embeds them like any other output.
"""
from __future__ import annotations

import re
from pathlib import Path

from .files import atomic_write

FOLDER = Path("figures")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _path(name: str, folder) -> Path:
    # a name, never a path: a notebook cannot make us write or read outside the folder
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"a figure's name is letters, digits, '-', '_' and '.' (at most 64), not {name!r};"
                         " e.g. keep_figure(fig, 'ntnu1-2b')")
    return Path(folder) / f"{name}.png"


def keep_figure(fig, name: str, folder=FOLDER, dpi: int = 110) -> Path:
    """Save ``fig`` as ``folder/name.png`` for a report; returns the path. The old file stays until the new one is whole."""
    path = _path(name, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=dpi, facecolor="white")
    return path


def show_kept(name: str, made_in: str = "", folder=FOLDER) -> None:
    """Display the figure kept under ``name``, or say which notebook makes it."""
    from IPython.display import Image, Markdown, display

    path = _path(name, folder)
    if path.is_file():
        display(Image(data=path.read_bytes(), format="png"))
    else:
        where = f" run {made_in} (it keeps this figure) and then this cell again" if made_in else ""
        display(Markdown(f"*No figure `{name}` yet:{where or ' it has not been kept'}.*"))
