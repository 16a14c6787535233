#!/usr/bin/env python3
"""Set up and run the workbook with one command each.

    python3 workbook.py lab                # your workspace (the student edition) in JupyterLab
    python3 workbook.py test               # run the whole test suite
    python3 workbook.py test --instructor  # and nbgrader on the notebooks (installs the instructor extra)
    python3 workbook.py test --minimum-versions   # the fast tests at the lowest numpy and matplotlib we declare
    python3 workbook.py lab --solutions    # the solution edition instead
    python3 workbook.py reset 02           # a fresh copy of notebook 02 (yours is kept)
    python3 workbook.py report NOTEBOOK [options]   # export a PDF report

The first run creates ``.venv/`` beside this file and installs ``course_lib`` with
its dependencies; later runs reinstall only when ``pyproject.toml`` changed.
``--minimum-versions`` does the same in ``.venv-min/``, with numpy and matplotlib
pinned to the lower bounds ``pyproject.toml`` declares.
Only the standard library is used here, so a bare ``python3`` is enough.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
WORKSPACE = ROOT / "workspace"

# `test --minimum-versions`: these packages at the lower bounds pyproject.toml declares,
# in a venv of their own, running the fast tests: the lesson's and the toolbox's unit
# tests. Left out: notebooks (nbval), the browser, PDF export and JupyterLab tests
# (Chromium, minutes), the student editions run as notebooks, the benchmarks (PyTorch).
VENV_MIN = ROOT / ".venv-min"
PINNED_AT_MINIMUM = ("numpy", "matplotlib")
NOT_FAST = ("test_browser.py", "test_report.py", "test_report_security.py", "test_setup.py", "test_editions.py",
            "test_benchmarks.py", "test_cnn_benchmark.py")
# JupyterLab as the workbook starts it: no news pop-up, no update check, and in the
# export menu only the exporters that work here (PDF via LaTeX needs TeX, WebPDF a
# browser download, the Qt ones PyQtWebEngine); the workbook's own is "Report".
LAB_SETTINGS = [
    "--LabApp.news_url=None",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--PDFExporter.enabled=False", "--WebPDFExporter.enabled=False",
    "--QtPDFExporter.enabled=False", "--QtPNGExporter.enabled=False",
]
# Debian packages the tests and the PDF export use: a browser to print and to
# drive JupyterLab, pdftoppm to check the PDFs, fonts with Greek and math glyphs.
SYSTEM_PACKAGES = {
    "chromium": "/usr/bin/chromium",
    "poppler-utils": "/usr/bin/pdftoppm",
    "fonts-dejavu-core": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
}


def say(msg: str) -> None:
    print(f"[workbook] {msg}", flush=True)


def run(cmd: list[str], **kw) -> None:
    subprocess.run(cmd, check=True, **kw)


def _sudo() -> list[str]:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        return ["sudo"]
    sys.exit("[workbook] need root (or sudo) to install Debian packages; see README.md")


def ensure_apt(packages: dict[str, str]) -> None:
    missing = [name for name, path in packages.items() if not Path(path).exists()]
    if not missing:
        return
    if not shutil.which("apt-get"):
        sys.exit(
            "[workbook] missing system packages: " + ", ".join(missing)
            + "\n  This is not a Debian/Ubuntu machine: install them with your package"
            " manager (see README.md, 'Other systems')."
        )
    say("installing Debian packages: " + " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(_sudo() + ["apt-get", "update", "-qq"], env=env)
    run(_sudo() + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)


def python_in(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / ("python.exe" if os.name == "nt" else "python")


def ensure_venv(venv: Path = VENV, pins: dict[str, str] | None = None, instructor: bool = False) -> Path:
    """Create ``venv`` with the workbook and its test extra (again only when pyproject.toml changed); its python.

    ``pins`` ({"numpy": "1.24", ...}) install those packages at exactly those versions;
    ``instructor`` adds the instructor extra (nbgrader).
    """
    python = python_in(venv)
    if not python.exists():
        say(f"creating virtual environment in {venv}")
        try:
            run([sys.executable, "-m", "venv", str(venv)])
        except subprocess.CalledProcessError:
            # Debian ships venv without ensurepip in a separate package.
            shutil.rmtree(venv, ignore_errors=True)
            ver = f"{sys.version_info.major}.{sys.version_info.minor}"
            ensure_apt({f"python{ver}-venv": "/nonexistent"})
            run([sys.executable, "-m", "venv", str(venv)])
    spec = (ROOT / "pyproject.toml").read_bytes()
    stamp = venv / f".installed-{hashlib.sha256(spec).hexdigest()[:16]}"
    with_instructor = stamp.with_name(stamp.name + "-instructor")  # the instructor extra as well
    if with_instructor.exists() or (stamp.exists() and not instructor):
        return python
    extras = "test,instructor" if instructor else "test"
    pinned = [f"{name}=={version}" for name, version in (pins or {}).items()]
    say(f"installing course_lib and its dependencies{' with ' + ', '.join(pinned) if pinned else ''} "
        f"({'with nbgrader' if instructor else 'first run only'})")
    run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    # The pins go in as constraints: they hold for every package that depends on them too.
    constraints = venv / "pins.txt"
    constraints.write_text("".join(f"{pin}\n" for pin in pinned))
    run([str(python), "-m", "pip", "install", "--quiet", "-c", str(constraints), "-e", f"{ROOT}[{extras}]"])
    for old in venv.glob(".installed-*"):
        old.unlink()
    (with_instructor if instructor else stamp).touch()
    return python


def declared_minimums(names=PINNED_AT_MINIMUM) -> dict[str, str]:
    """The lower bounds of ``names`` in pyproject.toml's dependencies, e.g. {"numpy": "1.24"}."""
    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M)
    bounds = dict(re.findall(r'"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)[",]', block.group(1) if block else ""))
    missing = [name for name in names if name not in bounds]
    if missing:
        sys.exit(f"[workbook] pyproject.toml's dependencies declare no lower bound (>=) for {', '.join(missing)}")
    return {name: bounds[name] for name in names}


def run_minimum_versions(rest: list[str], env: dict) -> int:
    """The fast tests in .venv-min, at the declared lowest versions of numpy and matplotlib."""
    pins = declared_minimums()
    python = ensure_venv(VENV_MIN, pins)
    say("fast tests with " + ", ".join(f"{name} {version}" for name, version in pins.items()))
    env = dict(env, WORKBOOK_MINIMUM_VERSIONS=",".join(f"{n}=={v}" for n, v in pins.items()))
    ignored = [f"--ignore=tests/{name}" for name in NOT_FAST]
    # matplotlib 3.7 calls pyparsing by names that today's pyparsing deprecates: noise, not ours to fix.
    quiet = [f"-Wignore::DeprecationWarning:matplotlib.{m}" for m in ("_mathtext", "_fontconfig_pattern")]
    return subprocess.call([str(python), "-m", "pytest", "tests", "--ignore-glob=*.ipynb", *ignored, *quiet,
                            *parallel(rest), *rest],
                           cwd=ROOT, env=env)


def lab(rest: list[str], env: dict) -> int:
    """JupyterLab on the student's workspace (brought up to date first), or on the solutions."""
    solutions = "--solutions" in rest
    rest = [a for a in rest if a != "--solutions"]
    if solutions:
        url = "/lab/tree/notebooks"
    else:
        if subprocess.call([str(PY), "-m", "workbook_tools.workspace", "sync", "--workspace", str(WORKSPACE)], env=env):
            return 1
        url = "/lab/tree/workspace/00_start.ipynb"
    # The whole workbook is browsable (course_lib's source next to the notebooks);
    # JupyterLab opens on the start page, or on the solution notebooks.
    args = [str(BIN / "jupyter"), "lab", f"--ServerApp.root_dir={ROOT}", f"--LabApp.default_url={url}",
            *LAB_SETTINGS, *rest]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")  # containers and cloud machines often run as root
    return subprocess.call(args, cwd=ROOT, env=env)


def usable_cores() -> int:
    """Cores this process may keep busy: its CPU affinity and any cgroup CPU quota (a container's)."""
    spec = importlib.util.spec_from_file_location("_workbook_threads", ROOT / "workbook_tools" / "threads.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # standard library only; starts nothing
    return module.usable_cores()


def thread_env(env: dict) -> dict:
    """The thread settings for JupyterLab's kernels and the tests.

    OpenBLAS (numpy's) and OpenMP libraries start one thread per core they are
    told of. ``os.cpu_count()`` is the host's count, also inside a container limited
    to fewer cores, and more threads than cores is many times slower, never
    faster: they get the cores this process may use. That is a ceiling: inside a
    notebook ``workbook_tools.threads`` lowers BLAS's count while other programs
    take cores, and raises it back when they stop (``WORKBOOK_THREADS=off``
    switches that off). Values already set are kept.
    """
    cores = str(usable_cores())
    for key in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        env.setdefault(key, cores)
    return env


def main(argv: list[str]) -> int:
    usage = __doc__.split("\n\n")[1]
    if not argv or argv[0] not in {"lab", "test", "report", "reset"}:
        print("usage:\n" + usage)
        return 2
    if argv[0] == "reset" and len(argv) != 2:
        print("usage: python3 workbook.py reset NOTEBOOK   (its number, e.g. 02, or its file name)")
        return 2
    env = thread_env(dict(os.environ))
    try:
        return command(argv[0], argv[1:], env)
    except subprocess.CalledProcessError as e:  # venv, pip or apt-get: their own messages are above
        print(f"[workbook] a set-up step failed (exit {e.returncode}): {' '.join(map(str, e.cmd))}\n"
              "[workbook] its messages above say why (no network? no disk space?); fix that and run "
              "the command again: the installation is retried, nothing half-installed is used.", file=sys.stderr)
        return 1


def command(cmd: str, rest: list[str], env: dict) -> int:
    if cmd == "test" and "--minimum-versions" in rest:
        return run_minimum_versions([a for a in rest if a != "--minimum-versions"], env)
    ensure_venv(instructor=cmd == "test" and "--instructor" in rest)  # passed on to pytest (tests/conftest.py)
    if cmd == "lab":
        return lab(rest, env)
    if cmd == "reset":
        return subprocess.call([str(PY), "-m", "workbook_tools.workspace", "reset", rest[0],
                                "--workspace", str(WORKSPACE)], env=env)
    ensure_apt(SYSTEM_PACKAGES)
    if cmd == "report":
        return subprocess.call([str(PY), "-m", "workbook_tools.report", *rest], env=env)
    # Notebooks run their reduced configuration under test; WORKBOOK_QUICK=0 runs them in full.
    env.setdefault("WORKBOOK_QUICK", "1")
    return subprocess.call([str(PY), "-m", "pytest", *parallel(rest), *rest], cwd=ROOT, env=env)


def parallel(rest: list[str]) -> list[str]:
    """pytest-xdist's options: one worker per usable core, each test file (a notebook's cells) on one worker.

    Not when the arguments choose for themselves (-n, -p no:xdist) or there is one core.
    """
    cores = usable_cores()
    chosen = any(a.startswith(("-n", "--numprocesses")) or a == "no:xdist" for a in rest)
    return [] if chosen or cores < 2 else ["-n", str(cores), "--dist", "loadfile"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
