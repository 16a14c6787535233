"""One source, two editions: the student edition is built from the solution notebooks.

The committed notebooks are the solution edition. Solutions sit between the
markers nbgrader uses, in cells nbgrader marks as solution cells::

    def backward(params, cache, target):
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

so an instructor can take the notebooks into nbgrader as they are. The student
edition replaces each solution region with a stub that names the exercise
(``raise NotImplementedError("Exercise 2.2: write backward()")``; "*Your answer
here*" in Markdown) and clears the outputs of exercise and check cells; every
other cell, outputs included, stays as it is.

Why not nbgrader's ``ClearSolutions``: the same replacement, but its stub is one
text per language, and the students' JupyterLab would have to carry nbgrader
(server and JupyterLab extensions with their own database, and caps of jupyterlab < 5
and notebook < 8) for a 20-line transformation. ``pip install -e .[instructor]`` installs nbgrader for
instructors; our markers and metadata follow its schema (version 3).
"""
from __future__ import annotations

import copy
import json
import re

BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"
TEXT_STUB = "*Your answer here*"


def is_solution(cell) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def is_check(cell) -> bool:
    return "check" in cell.get("metadata", {}).get("workbook", {})


def exercise_of(cell) -> dict:
    """The exercise metadata of a cell: ``{"exercise": "2.2", "tasks": [...], "stub": "..."}`` or {}."""
    return cell.get("metadata", {}).get("workbook", {})


def code_stub(cell) -> list[str]:
    meta = exercise_of(cell)
    what = meta.get("stub", "write your solution")
    label = f"Exercise {meta['exercise']}" if "exercise" in meta else "Exercise"
    return [f"# Your code here ({label.lower()})", f"raise NotImplementedError({json.dumps(f'{label}: {what}', ensure_ascii=False)})"]


def replace_solutions(source: str, stub: list[str]) -> str:
    """``source`` with every region between the markers replaced by ``stub``, indented like the marker."""
    out, inside = [], False
    for number, line in enumerate(source.split("\n"), 1):
        if BEGIN in line:
            if inside:
                raise ValueError(f"line {number}: a second {BEGIN} before {END}")
            inside = True
            indent = re.match(r"\s*", line).group(0)
            out += [indent + s for s in stub]
        elif END in line:
            if not inside:
                raise ValueError(f"line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} without {END}")
    return "\n".join(out)


def student_edition(nb):
    """The student edition of a solution notebook (a new notebook; ``nb`` is not changed)."""
    nb = copy.deepcopy(nb)
    for index, cell in enumerate(nb.cells):
        if not (is_solution(cell) or is_check(cell)):
            continue
        if is_solution(cell):
            stub = code_stub(cell) if cell.cell_type == "code" else [TEXT_STUB]
            try:
                cell.source = replace_solutions(cell.source, stub)
            except ValueError as exc:
                raise ValueError(f"cell {index + 1} (exercise {exercise_of(cell).get('exercise', '?')}): {exc}") from None
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def _split_lines(nb):
    """The stripped non-empty lines of a notebook, inside and outside its solution regions."""
    inside_lines, outside_lines = set(), set()
    for cell in nb.cells:
        inside = False
        for line in cell.source.split("\n"):
            if BEGIN in line or END in line:
                inside = BEGIN in line
            elif line.strip():
                (inside_lines if inside else outside_lines).add(line.strip())
    return inside_lines, outside_lines


def leaked_lines(solution_nb, student_nb) -> list[str]:
    """Lines of the solutions that the student edition shows, beyond those the notebook shows anyway."""
    inside, outside = _split_lines(solution_nb)
    shown = {line.strip() for cell in student_nb.cells for line in cell.source.split("\n")}
    for cell in student_nb.cells:
        for output in cell.get("outputs", []):
            text = output.get("text", "") or "".join(output.get("data", {}).get("text/plain", ""))
            shown |= {line.strip() for line in str(text).split("\n")}
    return sorted((inside - outside) & shown)
