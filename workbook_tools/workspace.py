"""The student's own workspace: the student edition, kept up to date without losing work.

``python3 workbook.py lab`` calls :func:`sync` before it starts JupyterLab. The
first time it writes the student edition of every notebook into the workspace
folder; later (after ``git pull``) it adds new notebooks and updates the ones the
student has not touched. A notebook the student changed is never overwritten:
the new version is written beside it, and one line says so. :func:`reset` puts a
fresh copy back (the old one is kept under ``.workbook/backups``). The checks
record each verdict in ``.workbook/progress.json``; the start page shows them.

Run as ``python -m workbook_tools.workspace sync|reset NOTEBOOK|progress [--workspace DIR]``.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import sys
from pathlib import Path

import nbformat

from .editions import exercise_of, is_check, is_solution, student_edition
from .files import atomic_write, remove_stale_parts

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "notebooks"
STATE = ".workbook"  # inside the workspace: manifest.json, progress.json, backups/
START = "00_start.ipynb"


def fingerprint(nb) -> str:
    """What the student can change: each cell's type, source and outputs (not metadata noise)."""
    cells = []
    for cell in nb.cells:
        outputs = [{k: v for k, v in o.items() if k != "execution_count"} for o in cell.get("outputs", [])]
        cells.append([cell.cell_type, cell.source, outputs])
    return hashlib.sha256(json.dumps(cells, sort_keys=True).encode()).hexdigest()


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)


def _write_notebook(path: Path, nb) -> None:
    with atomic_write(path, "w") as f:
        nbformat.write(nb, f)


def sources(source_dir: Path = SOLUTIONS) -> list[Path]:
    return sorted(source_dir.glob("[0-9][0-9]_*.ipynb"))


def sync(workspace: Path, source_dir: Path = SOLUTIONS, log=print) -> dict:
    """Bring the workspace up to date with the solution notebooks; returns what happened to each."""
    workspace = Path(workspace)
    state = workspace / STATE
    state.mkdir(parents=True, exist_ok=True)
    for folder in (workspace, state):
        remove_stale_parts(folder)
    manifest = _read_json(state / "manifest.json")
    done = {}
    for src in sources(source_dir):
        new = student_edition(nbformat.read(src, as_version=4))
        done[src.name] = _sync_one(workspace / src.name, new, manifest, log)
    _write_json(state / "manifest.json", manifest)
    write_start_page(workspace)
    return done


def _sync_one(target: Path, new, manifest: dict, log) -> str:
    new_print, written = fingerprint(new), manifest.get(target.name)
    if not target.exists():
        _write_notebook(target, new)
        manifest[target.name] = new_print
        return "added"
    current = fingerprint(nbformat.read(target, as_version=4))
    if new_print in (current, written):
        return "unchanged"  # up to date, or the new version was already placed beside it
    if current == written:  # the student has not touched it: update in place
        _write_notebook(target, new)
        manifest[target.name] = new_print
        return "updated"
    beside = target.with_name(f"{target.stem} (new version {_dt.date.today().isoformat()}).ipynb")
    _write_notebook(beside, new)
    manifest[target.name] = new_print
    log(f"{target.name}: you have changed it, so it stays as it is; the new version is {beside.name} beside it.")
    return "new version beside"


def reset(workspace: Path, name: str, source_dir: Path = SOLUTIONS, log=print) -> Path:
    """A fresh copy of one notebook (``"02"`` or its file name); the old one goes to ``.workbook/backups``."""
    matches = [p for p in sources(source_dir) if p.name == name or p.name.startswith(f"{name}_") or p.stem == name]
    if len(matches) != 1:
        names = ", ".join(p.name for p in sources(source_dir))
        raise ValueError(f"no single notebook matches {name!r}; give its number (e.g. 02) or one of: {names}")
    src = matches[0]
    target = Path(workspace) / src.name
    if target.exists():
        backups = Path(workspace) / STATE / "backups"
        backups.mkdir(parents=True, exist_ok=True)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        backup = backups / f"{src.stem}-{stamp}.ipynb"
        with atomic_write(backup, "wb") as f:
            f.write(target.read_bytes())
        log(f"{src.name}: your version is kept as {backup.relative_to(workspace)}")
    new = student_edition(nbformat.read(src, as_version=4))
    _write_notebook(target, new)
    manifest_path = Path(workspace) / STATE / "manifest.json"
    manifest = _read_json(manifest_path)
    manifest[src.name] = fingerprint(new)
    _write_json(manifest_path, manifest)
    log(f"{src.name}: a fresh copy is in place")
    return target


# --- progress and the start page ----------------------------------------------------------

def find_workspace(start: Path | None = None) -> Path | None:
    """The workspace that holds the current folder (a notebook's kernel runs in its folder), if any."""
    here = Path.cwd() if start is None else Path(start)
    for folder in (here, *list(here.parents)[:2]):
        if (folder / STATE / "manifest.json").is_file():
            return folder
    return None


def record_progress(exercise: str, status: str, workspace: Path | None = None) -> None:
    """Remember the latest verdict of an exercise (only inside a workspace; never fails a check)."""
    workspace = workspace or find_workspace()
    if workspace is None:
        return
    path = workspace / STATE / "progress.json"
    try:
        progress = _read_json(path)
        progress[exercise] = {"status": status, "time": _dt.datetime.now().isoformat(timespec="seconds")}
        _write_json(path, progress)
    except OSError:
        pass  # a read-only workspace must not break the exercise


def course_map(workspace: Path | None = None):
    """The course map with the student's progress, as HTML (the start page displays it)."""
    from .startpage import render_course_map

    folder = workspace or find_workspace() or Path.cwd()
    return render_course_map(folder, _read_json(Path(folder) / STATE / "progress.json"))


def write_start_page(workspace: Path) -> Path:
    from .startpage import start_notebook

    nb = start_notebook(course_map(workspace))
    target = Path(workspace) / START
    _write_notebook(target, nb)
    return target


def notebook_exercises(nb) -> list[dict]:
    """The checked exercises of a notebook, ``[{"exercise": "2.2", "tasks": [...]}, ...]`` in order,
    and the tasks of its answer-only exercises (they count for coverage, not for progress)."""
    checked = [{"exercise": c.metadata["workbook"]["check"], "tasks": c.metadata["workbook"]["tasks"]}
               for c in nb.cells if is_check(c)]
    return checked


def notebook_tasks(nb) -> list[str]:
    """Every course task the notebook's exercises cover, answers included."""
    return sorted({t for c in nb.cells if is_check(c) or is_solution(c) for t in exercise_of(c).get("tasks", [])})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m workbook_tools.workspace", description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["sync", "reset", "progress"])
    ap.add_argument("notebook", nargs="?", help="with reset: the notebook's number (e.g. 02) or file name")
    ap.add_argument("--workspace", type=Path, default=ROOT / "workspace")
    args = ap.parse_args(argv)
    try:
        if args.command == "sync":
            sync(args.workspace)
        elif args.command == "reset":
            if not args.notebook:
                ap.error("reset needs the notebook: e.g. `reset 02`")
            reset(args.workspace, args.notebook)
        else:
            print(json.dumps(_read_json(args.workspace / STATE / "progress.json"), indent=1))
    except (ValueError, OSError) as exc:
        print(f"workspace: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
