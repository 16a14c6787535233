"""The student's workspace: created on first use, updated after a git pull without overwriting the student's work."""
import json
import subprocess
from pathlib import Path

import nbformat
import pytest

from workbook_tools import workspace as ws
from workbook_tools.checks import EXERCISES
from workbook_tools.editions import student_edition

ROOT = Path(__file__).resolve().parents[1]


def solution_notebook(text, extra_cells=(), intro="# A notebook"):
    """A tiny solution notebook with one exercise, like the course's."""
    sol = nbformat.v4.new_code_cell(f"def f(x):\n    ### BEGIN SOLUTION\n    return {text}\n    ### END SOLUTION")
    sol.metadata.update(nbgrader={"grade": False, "grade_id": "ex9_1", "locked": False, "schema_version": 3,
                                  "solution": True, "task": False},
                        workbook={"exercise": "9.1", "tasks": ["VU-1"], "stub": "write f(x)"})
    chk = nbformat.v4.new_code_cell("f = wt.check('9.1', f)")
    chk.metadata.update(workbook={"check": "9.1", "tasks": ["VU-1"]})
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(intro), sol, chk, *extra_cells])
    nb.metadata["title"] = "A notebook"
    return nb


def write(path, nb):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(cwd), "PATH": "/usr/bin:/bin"})


def student_changes(path):
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].source = nb.cells[1].source.replace('raise NotImplementedError("Exercise 9.1: write f(x)")',
                                                    "return x * 2  # my answer")
    nbformat.write(nb, str(path))
    return path.read_bytes()


def test_first_sync_writes_the_student_edition_and_a_start_page(tmp_path):
    src = tmp_path / "notebooks"
    write(src / "01_a.ipynb", solution_notebook("x + 1"))
    done = ws.sync(tmp_path / "workspace", src, log=lambda m: None)
    assert done == {"01_a.ipynb": "added"}
    nb = nbformat.read(tmp_path / "workspace" / "01_a.ipynb", as_version=4)
    assert "return x + 1" not in nb.cells[1].source and "Exercise 9.1: write f(x)" in nb.cells[1].source
    start = (tmp_path / "workspace" / ws.START).read_text()
    assert "01_a.ipynb" in start and "0 of 1" in start
    assert ws.sync(tmp_path / "workspace", src, log=lambda m: None) == {"01_a.ipynb": "unchanged"}


def test_a_real_git_pull_never_overwrites_a_changed_notebook(tmp_path):
    upstream, clone = tmp_path / "upstream", tmp_path / "student"
    write(upstream / "notebooks" / "01_a.ipynb", solution_notebook("x + 1"))
    write(upstream / "notebooks" / "02_b.ipynb", solution_notebook("x + 2"))
    git(tmp_path, "init", "-q", str(upstream))
    git(upstream, "add", ".")
    git(upstream, "commit", "-q", "-m", "first")
    git(tmp_path, "clone", "-q", str(upstream), str(clone))
    work = clone / "workspace"
    ws.sync(work, clone / "notebooks", log=lambda m: None)
    mine = student_changes(work / "01_a.ipynb")

    # the workbook changes both notebooks and adds a third; the student pulls and runs `workbook.py lab`
    write(upstream / "notebooks" / "01_a.ipynb", solution_notebook("x + 10", intro="# A notebook, improved"))
    write(upstream / "notebooks" / "02_b.ipynb", solution_notebook("x + 20", intro="# Also improved"))
    write(upstream / "notebooks" / "03_c.ipynb", solution_notebook("x + 3"))
    git(upstream, "add", ".")
    git(upstream, "commit", "-q", "-m", "second")
    git(clone, "pull", "-q")
    messages = []
    done = ws.sync(work, clone / "notebooks", log=messages.append)

    assert done == {"01_a.ipynb": "new version beside", "02_b.ipynb": "updated", "03_c.ipynb": "added"}
    assert (work / "01_a.ipynb").read_bytes() == mine  # the student's notebook, byte for byte
    beside = [p for p in work.glob("01_a (new version *).ipynb")]
    assert len(beside) == 1 and len(messages) == 1 and beside[0].name in messages[0]
    assert "you have changed it" in messages[0] and "\n" not in messages[0]
    new = nbformat.read(beside[0], as_version=4)
    assert new == student_edition(nbformat.read(clone / "notebooks" / "01_a.ipynb", as_version=4))
    assert (work / "03_c.ipynb").exists()
    # running the command again changes nothing and says nothing
    messages.clear()
    assert set(ws.sync(work, clone / "notebooks", log=messages.append).values()) == {"unchanged"}
    assert messages == [] and len(list(work.glob("01_a (new version *).ipynb"))) == 1


def test_reset_gives_a_fresh_copy_and_keeps_the_old_one(tmp_path):
    src = tmp_path / "notebooks"
    write(src / "01_a.ipynb", solution_notebook("x + 1"))
    work = tmp_path / "workspace"
    ws.sync(work, src, log=lambda m: None)
    mine = student_changes(work / "01_a.ipynb")
    ws.reset(work, "01", src, log=lambda m: None)
    assert (work / "01_a.ipynb").read_bytes() != mine
    backups = list((work / ws.STATE / "backups").glob("01_a-*.ipynb"))
    assert len(backups) == 1 and backups[0].read_bytes() == mine
    assert ws.sync(work, src, log=lambda m: None) == {"01_a.ipynb": "unchanged"}
    with pytest.raises(ValueError, match="no single notebook matches '07'"):
        ws.reset(work, "07", src)


def test_checks_record_progress_in_the_workspace_only(tmp_path, monkeypatch):
    src = tmp_path / "notebooks"
    write(src / "01_a.ipynb", solution_notebook("x + 1"))
    work = tmp_path / "workspace"
    ws.sync(work, src, log=lambda m: None)
    monkeypatch.chdir(tmp_path)  # outside a workspace: nothing is written
    EXERCISES["1.6"](lambda x: 1 - __import__("numpy").tanh(x) ** 2)
    assert not (tmp_path / ws.STATE).exists()
    monkeypatch.chdir(work)  # a notebook's kernel runs in the notebook's folder
    EXERCISES["1.6"](lambda x: 1 - __import__("numpy").tanh(x) ** 2)
    EXERCISES["1.5"](lambda x: x)
    progress = json.loads((work / ws.STATE / "progress.json").read_text())
    assert progress["1.6"]["status"] == "passed" and progress["1.5"]["status"] == "failed"


def test_the_course_map_counts_passed_exercises(tmp_path):
    work = tmp_path / "workspace"
    ws.sync(work, ROOT / "notebooks", log=lambda m: None)
    ws.record_progress("2.1", "passed", work)
    ws.record_progress("2.2", "failed", work)
    rows = {r["file"]: r for r in ws.course_map(work).rows}
    assert rows["02_scalar_backprop.ipynb"]["passed"] == 1
    assert rows["02_scalar_backprop.ipynb"]["total"] == 5
    assert "VU-6" in rows["02_scalar_backprop.ipynb"]["tasks"]
    html = ws.course_map(work)._repr_html_()
    assert "<a href='01_derivatives.ipynb'>" in html and "1 of 5" in html


def test_the_course_map_lists_the_notebooks_not_the_start_page(tmp_path):
    work = tmp_path / "workspace"
    ws.sync(work, ROOT / "notebooks", log=lambda m: None)
    ws.sync(work, ROOT / "notebooks", log=lambda m: None)  # now 00_start.ipynb is there to be found
    assert (work / ws.START).exists()
    files = [r["file"] for r in ws.course_map(work).rows]
    assert files == [p.name for p in ws.sources(ROOT / "notebooks")]
