"""The two set-up commands: the README gives them and CI runs the test one."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^(python3 workbook\.py \w+)", readme, re.M)
    assert commands[:2] == ["python3 workbook.py lab", "python3 workbook.py test"]
    ci = [l.strip() for l in (ROOT / ".ci" / "run").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert "python3 workbook.py test" in ci


def test_setup_script_explains_itself():
    proc = subprocess.run([sys.executable, str(ROOT / "workbook.py"), "frobnicate"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "workbook.py lab" in proc.stdout and "workbook.py test" in proc.stdout
