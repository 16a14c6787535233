"""Result tables that render as tables: HTML in JupyterLab and in PDF reports, aligned text elsewhere."""
from __future__ import annotations

import html
import numbers


class Table:
    """Rows of dicts shown as a table; numbers rounded to ``digits`` decimals."""

    def __init__(self, rows, columns=None, digits: int = 4, caption: str = ""):
        self.rows = [dict(r) for r in rows]
        self.columns = list(columns or (self.rows[0] if self.rows else []))
        self.digits, self.caption = digits, caption

    def _cell(self, value) -> str:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return f"{value:,}"
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return f"{value:.{self.digits}f}"
        return str(value)

    def _cells(self):
        return [[self._cell(r.get(c, "")) for c in self.columns] for r in self.rows]

    def _repr_html_(self):
        numeric = [all(isinstance(r.get(c), numbers.Number) for r in self.rows) for c in self.columns]
        align = ["right" if n else "left" for n in numeric]
        head = "".join(f"<th style='text-align:{a}'>{html.escape(c)}</th>" for c, a in zip(self.columns, align))
        body = "".join("<tr>" + "".join(f"<td style='text-align:{a}'>{html.escape(v)}</td>" for v, a in zip(row, align))
                       + "</tr>" for row in self._cells())
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table class='workbook-table'>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self):
        cells = self._cells()
        widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(self.columns)]
        lines = ["  ".join(c.rjust(w) for c, w in zip(self.columns, widths))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in cells]
        return "\n".join(([self.caption] if self.caption else []) + lines)


def table(rows, columns=None, digits: int = 4, caption: str = "") -> Table:
    """A table of ``rows`` (dicts) for display: the last expression of a cell, or ``display(table(...))``."""
    return Table(rows, columns, digits, caption)
