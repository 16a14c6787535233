import os
from pathlib import Path

import numpy as np
import pytest

from workbook_tools import sweeps as ex


def noisy_score(lr, width, rng):
    """Stands in for a training run: deterministic given the Generator."""
    return {"score": lr * width + rng.standard_normal()}


def test_grid_is_every_combination():
    assert ex.grid(lr=[0.1, 0.01], width=[1, 2]) == [
        {"lr": 0.1, "width": 1}, {"lr": 0.1, "width": 2}, {"lr": 0.01, "width": 1}, {"lr": 0.01, "width": 2}]


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_sweep_rows_and_seeds_do_not_depend_on_scheduling(n_jobs):
    configs = ex.grid(lr=[0.1, 0.2], width=[10])
    rows = ex.sweep(noisy_score, configs, repeats=3, seed=5, n_jobs=n_jobs, progress=False)
    assert [(r["lr"], r["run"]) for r in rows] == [(0.1, 0), (0.1, 1), (0.1, 2), (0.2, 0), (0.2, 1), (0.2, 2)]
    seeds = np.random.SeedSequence(5).spawn(6)
    expected = [c["lr"] * 10 + np.random.default_rng(s).standard_normal()
                for c, s in zip([configs[0]] * 3 + [configs[1]] * 3, seeds)]
    np.testing.assert_allclose([r["score"] for r in rows], expected, rtol=0, atol=0)


def test_summarize_and_table():
    rows = [{"lr": 0.1, "run": i, "acc": a} for i, a in enumerate([0.9, 0.92, 0.94])] + [{"lr": 0.01, "run": 0, "acc": 0.8}]
    s = ex.summarize(rows, "lr", "acc")
    assert s[0]["lr"] == 0.1 and s[0]["acc_mean"] == pytest.approx(0.92) and s[0]["acc_std"] == pytest.approx(0.02)
    assert s[1] == {"lr": 0.01, "acc_mean": 0.8, "acc_std": 0.0, "runs": 1}
    table = ex.format_table(s, digits=3)
    assert table.splitlines()[0].split() == ["lr", "acc_mean", "acc_std", "runs"]
    assert "0.920" in table


def test_sweep_errors():
    with pytest.raises(ValueError, match="no configurations"):
        ex.sweep(noisy_score, [], progress=False)
    with pytest.raises(TypeError, match="must return a dict"):
        ex.sweep(lambda lr, rng: lr, [{"lr": 1}], n_jobs=1, progress=False)


def test_paired_sweep_shares_seeds_across_configs():
    rows = ex.sweep(noisy_score, ex.grid(lr=[0.0, 1.0], width=[1]), repeats=2, paired=True, n_jobs=1, progress=False)
    noise = {(r["lr"], r["run"]): r["score"] - r["lr"] for r in rows}
    assert noise[(0.0, 0)] == pytest.approx(noise[(1.0, 0)], abs=1e-12)
    assert noise[(0.0, 1)] == pytest.approx(noise[(1.0, 1)], abs=1e-12)
    assert noise[(0.0, 0)] != noise[(0.0, 1)]


# --- on a Dask cluster ------------------------------------------------------------

def score_and_pid(lr, width, rng):
    import os

    return {**noisy_score(lr, width, rng), "pid": os.getpid()}


def test_a_dask_cluster_gives_the_rows_of_a_local_sweep():
    distributed = pytest.importorskip("distributed")
    configs = ex.grid(lr=[0.1, 0.2, 0.3], width=[10, 20])
    local = ex.sweep(score_and_pid, configs, repeats=2, seed=3, n_jobs=2, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        workers = set(client.run(os.getpid).values())
        remote = ex.sweep(score_and_pid, configs, repeats=2, seed=3, client=client, progress=False)
        by_address = ex.sweep(score_and_pid, configs, repeats=2, seed=3, client=cluster.scheduler_address,
                              progress=False)
    assert len(workers) == 2 and os.getpid() not in workers
    for rows in (remote, by_address):
        assert {r["pid"] for r in rows} <= workers  # the runs ran on the cluster's workers
        assert [{k: v for k, v in r.items() if k != "pid"} for r in rows] == \
               [{k: v for k, v in r.items() if k != "pid"} for r in local]  # same seeds, same order, same numbers
        assert not rows.interrupted


def test_a_sweep_on_a_cluster_without_distributed_says_what_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_distributed(name, *args, **kwargs):
        if name == "distributed":
            raise ImportError("no distributed here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_distributed)
    with pytest.raises(ImportError, match=r"\[cluster\]"):
        ex.sweep(noisy_score, [{"lr": 1, "width": 1}], client="tcp://127.0.0.1:1", progress=False)


# --- Ctrl-C ----------------------------------------------------------------------------

SCRIPT = '''
import json, os, sys, time
from pathlib import Path

import course_lib as cl
from workbook_tools import sweeps

MARK = Path(sys.argv[1])


def wait_or_finish(speed, rng):
    """Quick runs finish; slow ones announce themselves and wait (they are the ones Ctrl-C stops)."""
    if speed == "slow":
        (MARK / f"started-{os.getpid()}-{time.monotonic_ns()}").touch()
        time.sleep(120)
    value = float(rng.standard_normal())
    (MARK / f"done-{value}").touch()
    return {"value": value}


def train(epochs, rng):
    """A training loop in this process: it turns Ctrl-C into an early stop and returns normally."""
    X = rng.standard_normal((500, 10))
    y = (X[:, 0] > 0).astype(int)
    net = cl.mlp([10, 32, 2], rng=rng)
    (MARK / f"training-{epochs}").touch()
    h = cl.Trainer(net, lr=0.05, epochs=epochs, batch_size=1, rng=rng).fit((X, y))
    return {"stop": h.stop_reason, "steps": len(h.loss)}


if __name__ == "__main__":
    if sys.argv[2] == "workers":
        rows = sweeps.sweep(wait_or_finish, [{"speed": "quick"}, {"speed": "slow"}], repeats=2, n_jobs=2,
                            progress=False)
    else:
        rows = sweeps.sweep(train, [{"epochs": 1}, {"epochs": 100000}, {"epochs": 2}], n_jobs=1, progress=False)
    print(json.dumps({"rows": list(rows), "interrupted": rows.interrupted, "missing": rows.missing}))
'''


def _interrupt(tmp_path, mode, ready):
    """Run SCRIPT in a subprocess, send it a real SIGINT once ``ready(files)``, return its output."""
    import json
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "sweep_script.py"
    script.write_text(SCRIPT)
    marks = tmp_path / "marks"
    marks.mkdir()
    # the toolbox under test, not whichever copy the environment installed
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(script), str(marks), mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while not ready([p.name for p in marks.iterdir()]):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the sweep never got going"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1]), err


def test_ctrl_c_returns_the_finished_runs_and_names_the_others(tmp_path):
    # two quick runs finish, then both slow ones are going on the two workers when Ctrl-C comes
    def ready(names):
        return sum(n.startswith("done-") for n in names) == 2 and sum(n.startswith("started-") for n in names) == 2

    out, err = _interrupt(tmp_path, "workers", ready)
    seeds = np.random.SeedSequence(0).spawn(4)
    assert out["rows"] == [{"speed": "quick", "run": r, "value": float(np.random.default_rng(seeds[r]).standard_normal())}
                           for r in (0, 1)]
    assert out["interrupted"] and out["missing"] == [{"speed": "slow", "run": 0}, {"speed": "slow", "run": 1}]
    assert "sweep interrupted: 2 of 4 runs finished" in err and "speed=slow run=0" in err


def test_a_run_whose_training_loop_caught_ctrl_c_is_not_a_result(tmp_path):
    # n_jobs=1: the runs go in this process, and Trainer turns Ctrl-C into an early, normal return
    out, err = _interrupt(tmp_path, "in-process", lambda names: "training-100000" in names)
    assert [r["epochs"] for r in out["rows"]] == [1]
    assert out["rows"][0]["stop"] == "completed"
    assert out["missing"] == [{"epochs": 100000, "run": 0}, {"epochs": 2, "run": 0}]
    assert "1 of 3 runs finished" in err
