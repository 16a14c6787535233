"""nbgrader takes the solution edition as it is, and its student version agrees with ours.

Runs nbgrader's own ``generate_assignment`` (every preprocessor of its pipeline: LockCells,
ClearSolutions, ClearOutput, CheckCellMetadata, ComputeChecksums, SaveCells into a gradebook,
ClearHiddenTests, ClearMarkScheme) on every committed notebook, in a temporary course folder,
then compares each released notebook with the student edition that ``workbook_tools.editions``
builds: the same cells, the same regions replaced by a stub (nbgrader's stub text instead of
ours), the same text everywhere else, and no line of a solution left.

Needs nbgrader (the ``instructor`` extra): ``python3 workbook.py test --instructor`` installs it
and runs these tests with the others; pytest collects this folder only with ``--instructor``.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from workbook_tools.editions import TEXT_STUB, code_stub, is_check, is_solution, leaked_lines, student_edition

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ASSIGNMENT = "workbook"
# nbgrader's default stubs (ClearSolutions.code_stub["python"] and .text_stub)
NBGRADER_CODE_STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
NBGRADER_TEXT_STUB = ["YOUR ANSWER HERE"]


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """nbgrader's student version of every notebook: ``{name: notebook}``."""
    course = tmp_path_factory.mktemp("course")
    source = course / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    for path in NOTEBOOKS:
        (source / path.name).write_bytes(path.read_bytes())
    bindir = Path(sys.executable).parent
    nbgrader = bindir / "nbgrader"
    assert nbgrader.exists(), f"{nbgrader} not found: install the instructor extra (pip install -e '.[instructor]')"
    # nbgrader runs `alembic` from PATH to set up its gradebook: the environment's own
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run([str(nbgrader), "generate_assignment", ASSIGNMENT, "--force",
                           f"--CourseDirectory.root={course}",
                           f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}"],
                          cwd=course, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "ERROR" not in proc.stderr, proc.stderr[-4000:]
    out = course / "release" / ASSIGNMENT
    assert sorted(p.name for p in out.glob("*.ipynb")) == [p.name for p in NOTEBOOKS]
    return {path.name: nbformat.read(out / path.name, as_version=4) for path in NOTEBOOKS}


def _ours_from_theirs(source: str, cell) -> tuple[str, int]:
    """nbgrader's cell source with each of its stubs (indented as the marker was) replaced by ours;
    and how many stubs there were."""
    theirs = NBGRADER_CODE_STUB if cell.cell_type == "code" else NBGRADER_TEXT_STUB
    ours = code_stub(cell) if cell.cell_type == "code" else [TEXT_STUB]
    lines, out, stubs, i = source.split("\n"), [], 0, 0
    while i < len(lines):
        indent = re.match(r"\s*", lines[i]).group(0)
        if lines[i:i + len(theirs)] == [indent + s for s in theirs]:
            out += [indent + s for s in ours]
            stubs += 1
            i += len(theirs)
        else:
            out.append(lines[i])
            i += 1
    return "\n".join(out), stubs


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_nbgraders_release_stubs_the_same_regions_as_our_student_edition(path, release):
    solution = nbformat.read(path, as_version=4)
    ours, theirs = student_edition(solution), release[path.name]
    assert [c.cell_type for c in theirs.cells] == [c.cell_type for c in ours.cells]
    stubbed = 0
    for index, (sol, mine, their) in enumerate(zip(solution.cells, ours.cells, theirs.cells)):
        where = f"{path.name}, cell {index + 1}"
        translated, stubs = _ours_from_theirs(their.source, sol)
        assert translated == mine.source, f"{where}: nbgrader's release differs from our student edition"
        assert stubs == sol.source.count("BEGIN SOLUTION"), where
        assert (mine.source != sol.source) == is_solution(sol), f"{where}: stubbed, or left, unlike its metadata"
        stubbed += stubs
        if is_solution(sol) or is_check(sol):  # outputs of exercises and checks are cleared by both
            assert not their.get("outputs") and not mine.get("outputs"), where
    assert stubbed == sum(c.source.count("BEGIN SOLUTION") for c in solution.cells)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_nbgraders_release_leaks_no_solution(path, release):
    solution = nbformat.read(path, as_version=4)
    theirs = release[path.name]
    assert leaked_lines(solution, theirs) == []
    assert not any("BEGIN SOLUTION" in c.source or "END SOLUTION" in c.source for c in theirs.cells)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_nbgrader_keeps_our_cells_metadata_for_grading(path, release):
    """Every exercise and check cell keeps its nbgrader metadata (grade ids, points) in the release,
    and nbgrader locks the check cells (read-only for the student) as their metadata asks."""
    solution = nbformat.read(path, as_version=4)
    for sol, their in zip(solution.cells, release[path.name].cells):
        if "nbgrader" not in sol.metadata:
            continue
        for key in ("grade_id", "solution", "grade", "locked"):
            assert their.metadata["nbgrader"][key] == sol.metadata["nbgrader"][key]
        if sol.metadata["nbgrader"].get("points"):
            assert their.metadata["nbgrader"]["points"] == sol.metadata["nbgrader"]["points"]
        if is_check(sol):
            assert their.metadata.get("editable") is False and their.metadata.get("deletable") is False
