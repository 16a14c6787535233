"""The start page: the course map, with links, what each notebook teaches, and the student's progress."""
from __future__ import annotations

import html
from pathlib import Path

import nbformat

INTRO = """# Neural networks from first principles — start here

Work through the notebooks in order. Each one derives a piece of the course and asks you to write it:
a **check** after every exercise says ✓ with what it verified, or ✗ with what is wrong and a hint.
Exercises you skip are filled in from the course library, so the rest of a notebook still runs.

* Your notebooks live in this folder; `python3 workbook.py lab` never overwrites one you changed.
* `python3 workbook.py reset 02` gives you a fresh copy of notebook 02 (yours is kept under `.workbook/backups`).
* `python3 workbook.py lab --solutions` opens the solution edition.

Run the cell below to refresh your progress."""


class CourseMap:
    """The course map as HTML (displays in a notebook) with a plain-text fallback."""

    def __init__(self, rows):
        self.rows = rows

    def _repr_html_(self):
        head = ("<tr><th>notebook</th><th>what you learn</th><th>course tasks</th>"
                "<th>time</th><th>exercises passed</th></tr>")
        body = "".join(
            f"<tr><td><a href='{html.escape(r['file'])}'>{html.escape(r['title'])}</a></td>"
            f"<td>{html.escape(r['teaches'])}</td><td>{html.escape(', '.join(r['tasks']) or '—')}</td>"
            f"<td>{html.escape(r['time'])}</td><td class='workbook-progress'>{_progress(r)}</td></tr>"
            for r in self.rows)
        return f"<table class='workbook-course-map'>{head}{body}</table>"

    def __repr__(self):
        return "\n".join(f"{r['title']}: {r['passed']} of {r['total']} exercises passed" for r in self.rows)


def _progress(row) -> str:
    if not row["total"]:
        return "—"
    bar = "■" * row["passed"] + "□" * (row["total"] - row["passed"])
    return f"{row['passed']} of {row['total']} <span style='letter-spacing:1px'>{bar}</span>"


def render_course_map(folder: Path, progress: dict) -> CourseMap:
    from .workspace import START, notebook_exercises, notebook_tasks

    rows = []
    for path in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")):
        if "(new version" in path.name or path.name == START:  # the start page is not on its own map
            continue
        nb = nbformat.read(path, as_version=4)
        meta = nb.metadata.get("workbook", {})
        exercises = notebook_exercises(nb)
        tasks = sorted(notebook_tasks(nb), key=_task_order)
        passed = sum(progress.get(e["exercise"], {}).get("status") == "passed" for e in exercises)
        rows.append({"file": path.name, "title": nb.metadata.get("title", path.stem), "tasks": tasks,
                     "teaches": meta.get("teaches", ""), "time": meta.get("time", ""),
                     "passed": passed, "total": len(exercises)})
    return CourseMap(rows)


def _task_order(task: str):
    course, _, number = task.rpartition("-")
    return course, int(number) if number.isdigit() else 0


def start_notebook(course_map: CourseMap):
    code = nbformat.v4.new_code_cell("import workbook_tools as wt\nwt.course_map()")
    code.outputs = [nbformat.v4.new_output("execute_result", execution_count=1, data={
        "text/html": course_map._repr_html_(), "text/plain": repr(course_map)})]
    code.execution_count = 1
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(INTRO), code])
    nb.metadata.update({"title": "Start here", "kernelspec": {"display_name": "Python 3 (ipykernel)",
                                                             "language": "python", "name": "python3"}})
    return nb
