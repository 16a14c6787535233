"""One source, two editions: the solution notebooks are well formed, the student edition leaks nothing and runs."""
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from workbook_tools.checks import EXERCISES
from workbook_tools.editions import (
    TEXT_STUB, is_check, is_solution, leaked_lines, replace_solutions, student_edition,
)

ROOT = Path(__file__).resolve().parents[1]
TASKS_MD = ROOT.parent / "shared" / "course" / "tasks.md"
# The course tasks (../shared/course/tasks.md) each exercise notebook turns into exercises.
TASKS = {
    "01_derivatives.ipynb": {"VU-1", "VU-2", "VU-3", "VU-4", "NTNU1-1", "NTNU1-2", "NTNU1-12", "NTNU2-8",
                             "RICE-2", "RICE-3", "RICE-4", "RICE-5"},
    "02_scalar_backprop.ipynb": {"VU-5", "VU-6", "VU-7", "VU-8", "NTNU2-1"},
    "03_tensor_backprop.ipynb": {"VU-9", "VU-10"},
    "04_batched_training.ipynb": {"VU-11", "VU-12", "VU-13", "NTNU2-2", "NTNU2-4"},
    "05_analysis_experiments.ipynb": {"VU-14", "VU-15", "VU-16", "VU-17"},
    "06_regularisation.ipynb": {f"NTNU1-{i}" for i in (3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16)}
                               | {f"NTNU2-{i}" for i in (3, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15)},
    "07_decision_boundaries.ipynb": {"RICE-1", "NTNU2-13"} | {f"RICE-{i}" for i in range(6, 18)},
    "08_convolutional_networks.ipynb": {f"RICE-{i}" for i in range(18, 24)},
}
EXERCISE_NOTEBOOKS = sorted(TASKS)


def read(name):
    return nbformat.read(ROOT / "notebooks" / name, as_version=4)


def all_notebooks():
    return sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("name", all_notebooks())
def test_solution_cells_follow_nbgraders_schema(name):
    nb = read(name)
    ids = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            continue
        assert meta["schema_version"] == 3 and {"grade", "grade_id", "locked", "solution", "task"} <= set(meta)
        assert re.fullmatch(r"[A-Za-z0-9_]+", meta["grade_id"])
        ids.append(meta["grade_id"])
        if meta["grade"]:
            assert "points" in meta and meta["points"] > 0
        if cell.cell_type == "markdown" and meta["solution"]:
            assert meta["grade"], "nbgrader grades written answers by hand: a Markdown solution cell is graded"
        if is_solution(cell):
            replace_solutions(cell.source, ["stub"])  # well-formed markers
            assert "BEGIN SOLUTION" in cell.source
    assert len(ids) == len(set(ids)), "grade_id values must be unique"


@pytest.mark.parametrize("name", EXERCISE_NOTEBOOKS)
def test_every_exercise_names_its_tasks_and_has_a_check(name):
    nb = read(name)
    headings = {m.group(1): m.group(2) for c in nb.cells if c.cell_type == "markdown"
                for m in re.finditer(r"### Exercise (\d+\.\d+) \(([^)]*)\)", c.source)}
    checks = [c.metadata["workbook"] for c in nb.cells if is_check(c)]
    solutions = [c.metadata["workbook"] for c in nb.cells if is_solution(c)]
    for meta in checks + solutions:
        ex = meta.get("exercise", meta.get("check"))
        assert ex in headings, f"exercise {ex} has no heading 'Exercise {ex} (TASKS)'"
        assert set(meta["tasks"]) == {t.strip() for t in headings[ex].split(",")}, ex
    for meta in checks:
        assert meta["check"] in EXERCISES and set(EXERCISES[meta["check"]].tasks) == set(meta["tasks"])
    assert set(headings) == {m.get("exercise", m.get("check")) for m in checks + solutions}


@pytest.mark.parametrize("name", EXERCISE_NOTEBOOKS)
def test_every_task_of_a_notebook_has_an_exercise(name):
    covered = {t for c in read(name).cells if is_solution(c) or is_check(c) for t in c.metadata["workbook"]["tasks"]}
    assert TASKS[name] <= covered, f"no exercise for {sorted(TASKS[name] - covered)}"
    if TASKS_MD.exists() or os.environ.get("CI"):
        text = TASKS_MD.read_text()
        catalogue = set(re.findall(r"^\| ((?:VU|NTNU1|NTNU2|RICE)-\d+) \|", text, re.M))
        catalogue |= set(re.findall(r"^- \*\*(RICE-\d+) ·", text, re.M))  # §5 lists RICE-18 ... RICE-23 this way
        assert covered <= catalogue, f"unknown task IDs {sorted(covered - catalogue)}"


@pytest.mark.parametrize("name", all_notebooks())
def test_the_student_edition_leaks_no_solution(name):
    nb = read(name)
    student = student_edition(nb)
    assert leaked_lines(nb, student) == []
    for before, after in zip(nb.cells, student.cells):
        if is_solution(before):
            assert "BEGIN SOLUTION" not in after.source
            if before.cell_type == "code":
                ex = before.metadata["workbook"]["exercise"]
                assert f'raise NotImplementedError("Exercise {ex}:' in after.source
                assert after.outputs == []
            else:
                assert TEXT_STUB in after.source
        elif is_check(before):
            assert after.source == before.source and after.outputs == []
        else:
            assert after == before  # everything else stays, outputs included


def test_stubs_keep_the_indentation_of_the_markers():
    source = "def f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"
    out = replace_solutions(source, ["# here", "raise NotImplementedError('Exercise 9.9: write f')"])
    assert out.splitlines() == ["def f(x):", "    '''doc'''", "    # here",
                                "    raise NotImplementedError('Exercise 9.9: write f')"]
    for bad in ("### BEGIN SOLUTION\nx\n", "x\n### END SOLUTION\n", "### BEGIN SOLUTION\n### BEGIN SOLUTION\n"):
        with pytest.raises(ValueError):
            replace_solutions(bad, ["stub"])


@pytest.mark.parametrize("name", EXERCISE_NOTEBOOKS)
def test_the_student_edition_runs_to_the_end_and_nothing_is_attempted(name, tmp_path):
    nb = student_edition(read(name))
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    verdicts = [o["data"]["text/plain"] for c in nb.cells if is_check(c) for o in c.outputs if "data" in o]
    assert len(verdicts) == sum(is_check(c) for c in nb.cells)
    assert all("not attempted yet" in v for v in verdicts), verdicts


def _code(nb):
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def test_the_ntnu_report_outline_has_a_section_for_every_task_and_the_figures_notebook_06_keeps():
    report = read("09_ntnu_report.ipynb")
    headings = "\n".join(c.source for c in report.cells if c.cell_type == "markdown" and c.source.startswith("#"))
    assert set(re.findall(r"NTNU1-\d+", headings)) == {f"NTNU1-{i}" for i in range(1, 18)}  # 17: the hand-in
    shown = set(re.findall(r'show_kept\("([^"]+)"', _code(report)))
    kept = set(re.findall(r'keep(?:_figure\(fig, |=)"([^"]+)"', _code(read("06_regularisation.ipynb"))))
    assert shown and shown == kept


def test_the_report_outline_shows_a_kept_figure_and_names_the_notebook_for_a_missing_one(tmp_path):
    import matplotlib.pyplot as plt

    from workbook_tools.figures import keep_figure

    fig, ax = plt.subplots()
    ax.plot([0, 1])
    keep_figure(fig, "ntnu1-2b", folder=tmp_path / "figures")
    plt.close(fig)
    nb = read("09_ntnu_report.ipynb")
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = {c.source.split('"')[1]: c.outputs for c in nb.cells if "show_kept" in c.source}
    assert [o["output_type"] for o in outputs["ntnu1-2b"]] == ["display_data"]
    assert "image/png" in outputs["ntnu1-2b"][0]["data"]
    missing = outputs["ntnu1-3b"][0]["data"]["text/markdown"]
    assert "No figure `ntnu1-3b` yet" in missing and "notebook 06, section 2" in missing
