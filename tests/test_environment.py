"""pyproject.toml (pip) and environment.yml (conda) must ask for the same packages."""
import re
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
