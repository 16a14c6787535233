"""The two set-up commands: the README gives them and CI runs the test one."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^(python3 workbook\.py \w+)", readme, re.M)
    assert commands[:2] == ["python3 workbook.py lab", "python3 workbook.py test"]
    ci = [l.strip() for l in (ROOT / ".ci" / "run").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert "python3 workbook.py test" in ci
    jobs = ["python3 workbook.py test", "python3 workbook.py test --instructor tests/instructor",
            "python3 workbook.py test --minimum-versions"]
    assert [line for line in ci if line in jobs] == jobs  # all three, in this order


JOBS = ["test", "test --instructor tests/instructor", "test --minimum-versions"]


@pytest.mark.parametrize("codes, expected", [((0, 0, 0), 0), ((1, 0, 0), 1), ((0, 1, 0), 1), ((0, 0, 1), 1),
                                             ((5, 0, 0), 1), ((0, 5, 0), 1), ((0, 0, 5), 1), ((2, 3, 4), 2)])
def test_ci_runs_every_job_and_fails_if_any_fails(tmp_path, codes, expected):
    """.ci/run against a stand-in workbook.py that exits with the given codes (5: pytest collected nothing)."""
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    (tmp_path / "workbook.py").write_text(
        "import sys\n"
        "args = ' '.join(sys.argv[1:])\n"
        "open('calls', 'a').write(args + '\\n')\n"
        f"sys.exit(dict(zip({JOBS!r}, {codes!r}))[args])\n")
    res = subprocess.run(["bash", str(tmp_path / ".ci" / "run")], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == expected, res.stderr
    assert (tmp_path / "calls").read_text().splitlines() == JOBS  # every one, in order, whatever failed
    assert ("collected no tests" in res.stderr) == (5 in codes)


def test_setup_script_explains_itself():
    proc = subprocess.run([sys.executable, str(ROOT / "workbook.py"), "frobnicate"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "workbook.py lab" in proc.stdout and "workbook.py test" in proc.stdout


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url, deadline):
    import json
    import time
    import urllib.error
    import urllib.request

    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                body = r.read().decode()
                return json.loads(body) if url.split("?")[0].endswith(("nbconvert", "kernelspecs")) else body
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_jupyterlab_as_the_workbook_starts_it(tmp_path):
    """No news pop-up or update check, and only exporters that work here in the export menu."""
    import importlib.util
    import json
    import re
    import time

    spec = importlib.util.spec_from_file_location("workbook_script", ROOT / "workbook.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    port, token = _free_port(), "workbook-test"
    jupyter = Path(sys.executable).with_name("jupyter")
    proc = subprocess.Popen([str(jupyter), "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
                             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
                             *script.LAB_SETTINGS, "--allow-root"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        exporters = _get(f"http://127.0.0.1:{port}/api/nbconvert?token={token}", deadline)
        assert "report" in exporters and "html" in exporters
        assert not {"pdf", "webpdf", "qtpdf", "qtpng"} & set(exporters)
        page = _get(f"http://127.0.0.1:{port}/lab?token={token}", deadline)
        config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S).group(1))
        assert config["news"] == {"disabled": True}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_failed_install_step_is_named_not_a_traceback(tmp_path, monkeypatch, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("workbook_script", ROOT / "workbook.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)

    tried = []

    def offline(cmd, **kw):  # every step fails, as without network
        tried.append(" ".join(map(str, cmd)))
        raise subprocess.CalledProcessError(1, cmd)

    monkeypatch.setattr(script, "run", offline)
    monkeypatch.setattr(script, "ensure_apt", lambda packages: None)  # python3-venv "installed", venv fails again
    monkeypatch.setattr(script, "VENV_MIN", tmp_path / ".venv-min")
    assert script.main(["test", "--minimum-versions"]) == 1
    err = capsys.readouterr().err
    assert tried == [f"{sys.executable} -m venv {tmp_path / '.venv-min'}"] * 2
    assert err.startswith(f"[workbook] a set-up step failed (exit 1): {tried[-1]}\n"), err
    assert "Traceback" not in err and "run the command again" in err


def test_the_launcher_gives_blas_the_cores_this_process_may_use():
    """Not os.cpu_count() (the host's, also in a container limited to fewer cores); a user's setting is kept."""
    import importlib.util
    import os

    spec = importlib.util.spec_from_file_location("workbook_script", ROOT / "workbook.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    env = script.thread_env({})
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert 1 <= int(env["OPENBLAS_NUM_THREADS"]) <= cores
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"]
    assert script.thread_env({"OPENBLAS_NUM_THREADS": "1"})["OPENBLAS_NUM_THREADS"] == "1"


def test_the_suite_runs_on_every_usable_core_unless_told_otherwise(monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("workbook_script", ROOT / "workbook.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.setattr(script, "usable_cores", lambda: 2)
    # a notebook's cells share one kernel: each file stays on one worker
    assert script.parallel(["tests/test_training.py", "-x"]) == ["-n", "2", "--dist", "loadfile"]
    assert script.parallel(["-n", "1"]) == script.parallel(["-nauto"]) == script.parallel(["-p", "no:xdist"]) == []
    monkeypatch.setattr(script, "usable_cores", lambda: 1)
    assert script.parallel([]) == []
