"""pyproject.toml (pip) and environment.yml (conda) must ask for the same packages, and the
minimum-versions job must run at the lower bounds they declare."""
import importlib.util
import os
import re
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_requirements():
    text = (ROOT / "pyproject.toml").read_text()
    found = set()
    # the main list and the test extra; the benchmark-only extra (torch) is pip-only
    for block in ("dependencies", "test"):
        m = re.search(rf"^{block} = \[(.*?)^\]", text, re.S | re.M)
        assert m, f"no {block} list in pyproject.toml"
        found |= set(re.findall(r'"([^"]+)"', m.group(1)))
    return {re.sub(r"\s+", "", r) for r in found}


def _conda_requirements():
    deps, inside = set(), False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            inside = True
            continue
        if inside and re.match(r"^\S", line):
            break
        m = re.match(r"^\s+-\s+([^#\s]+)", line) if inside else None
        if m and not m.group(1).startswith("python"):
            deps.add(m.group(1))
    return deps


def test_pip_and_conda_dependency_sets_agree():
    pip, conda = _pyproject_requirements(), _conda_requirements()
    assert pip, "found no requirements in pyproject.toml"
    assert pip == conda, (
        f"only in pyproject.toml: {sorted(pip - conda)}; only in environment.yml: {sorted(conda - pip)}"
    )


def test_python_version_floor_agrees():
    assert 'requires-python = ">=3.10"' in (ROOT / "pyproject.toml").read_text()
    assert "python>=3.10" in (ROOT / "environment.yml").read_text()


def _workbook_script():
    spec = importlib.util.spec_from_file_location("workbook_script", ROOT / "workbook.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def _release(text):
    """(1, 24, 0) for "1.24" and "1.24.0": == in a pin pads with zeros."""
    parts = [int(p) for p in re.match(r"[0-9]+(?:\.[0-9]+)*", text).group(0).split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def test_the_minimum_versions_job_pins_the_declared_lower_bounds():
    pins = _workbook_script().declared_minimums()
    assert set(pins) == {"numpy", "matplotlib"}
    for name, lowest in pins.items():
        assert f"{name}>={lowest}" in _pyproject_requirements() and f"{name}>={lowest}" in _conda_requirements()
    asked = os.environ.get("WORKBOOK_MINIMUM_VERSIONS")
    if asked:  # inside that job (workbook.py test --minimum-versions): they are what is installed
        assert asked == ",".join(f"{name}=={lowest}" for name, lowest in pins.items())
        for name, lowest in pins.items():
            assert _release(version(name)) == _release(lowest), (name, version(name))
