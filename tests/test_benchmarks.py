"""Smoke test of the training-speed benchmark (benchmarks/train_speed.py).

It times nothing: it checks, on a tiny synthetic problem, that the benchmark's
workers and driver run and produce sane output. The numpy side needs no
PyTorch; the comparison with PyTorch is skipped where torch is not installed.
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ is not an installed package
from benchmarks import train_speed as ts  # noqa: E402

TINY = {"data": "synthetic", "n": 200, "sizes": (20, 16, 3), "batch_size": 32, "dtype": "float64"}


@pytest.mark.parametrize("route", ["plain", "fused"])
def test_numpy_worker_trains_one_epoch(route):
    r = ts.run_worker(dict(TINY, job="numpy", route=route, trace_memory=True))
    assert r["seconds"] > 0 and r["n"] == 200
    assert np.isfinite(r["epoch_loss"]) and 0 < r["epoch_loss"] < 5
    assert r["flops"] == ts.matmul_flops((20, 16, 3), 200)
    assert r["traced_peak_mib"] >= 0
    assert "blas" in r["blas"] or "env" in r["blas"]


def test_matmul_flops_of_the_mnist_network():
    # forward 784x300 and 300x10, backward dW for both and dL/dx for the second only
    per_instance = 2 * (2 * 784 * 300 + 3 * 300 * 10)
    assert ts.matmul_flops((784, 300, 10), 60000) == 60000 * per_instance


def test_same_start_for_every_framework():
    a, b = ts.initial_params((20, 16, 3), np.float32), ts.initial_params((20, 16, 3), np.float64)
    assert [W.dtype for W, _ in a] == [np.float32] * 2
    np.testing.assert_allclose(a[0][0], b[0][0], rtol=1e-6)
    np.testing.assert_array_equal(ts.batch_order(50), np.random.default_rng(ts.SEED).permutation(50))


def test_peak_and_ladder_workers():
    peak = ts.run_worker({"job": "peak", "dtype": "float32", "peak_n": 64, "peak_reps": 2})
    assert peak["gflops"] > 0
    lad = ts.run_worker(dict(TINY, job="ladder", python_instances=3, numpy_instances=50))
    assert lad["numpy_per_instance"] > lad["python_per_instance"] > 0
    assert lad["outer_us"] > 0 and lad["matmul_rank1_us"] > 0 and lad["outer_step_us"] > 0 and lad["ger_us"] > 0


def test_driver_runs_workers_in_processes_and_reports(tmp_path):
    out = tmp_path / "r.json"
    cmd = [sys.executable, "-m", "benchmarks.train_speed", "--data", "synthetic", "--n", "128", "--sizes", "20", "16",
           "3", "--reps", "2", "--dtypes", "float32", "--no-torch", "--no-peak", "--no-ladder", "--json", str(out)]
    proc = subprocess.run(cmd, cwd=ts.ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "course_lib" in proc.stdout and "ex/s" in proc.stdout
    results = json.loads(out.read_text())
    for route in ("plain", "fused"):
        runs = results["runs"]["inherit/float32/busy0/threads0"][f"numpy-{route}"]
        assert len(runs) == 2 and all(r["seconds"] > 0 for r in runs)
        # fresh processes from the same seeds train identically
        assert runs[0]["epoch_loss"] == runs[1]["epoch_loss"]
        assert f"course_lib {route}" in proc.stdout


# The PyTorch side needs torch, a benchmark-only extra; the benchmark command itself
# prints both final losses on every run, which is its equivalence check.


def test_contention_and_one_image_at_a_time(tmp_path):
    """--busy starts (and stops) spin loops beside each epoch, --threads takes several counts, batch 1 works."""
    out = tmp_path / "c.json"
    cmd = [sys.executable, "-m", "benchmarks.train_speed", "--data", "synthetic", "--n", "64", "--sizes", "20", "16",
           "3", "--reps", "1", "--dtypes", "float32", "--batch-size", "1", "--busy", "0", "1", "--threads", "0", "1",
           "--no-torch", "--no-peak", "--no-ladder", "--json", str(out)]
    proc = subprocess.run(cmd, cwd=ts.ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())
    assert set(results["runs"]) == {f"inherit/float32/busy{b}/threads{t}" for b in (0, 1) for t in (0, 1)}
    for key, runs in results["runs"].items():
        for route in ("plain", "fused"):
            r = runs[f"numpy-{route}"][0]
            assert r["busy"] == runs["meta"]["busy"] and r["n"] == 64
            if runs["meta"]["threads"] == 1:
                assert r["threads"]["after"]["blas_threads"] in (1, None)
    # the same epoch whatever the conditions: only the speed may differ
    losses = {runs["numpy-fused"][0]["epoch_loss"] for runs in results["runs"].values()}
    assert len(losses) == 1
    assert "Under contention" in proc.stdout and "busy/quiet" in proc.stdout
    rows = ts.contention_table(results)
    assert {(r["route"], r["busy"]) for r in rows} == {("plain", 1), ("fused", 1)}
    assert all(r["slowdown"] > 0 and r["vs_one"] > 0 for r in rows)


def test_busy_spins_and_stops():
    import time

    with ts.Busy(1) as busy:
        proc = busy.procs[0]
        assert proc.poll() is None
        time.sleep(0.2)
    assert proc.poll() is not None and busy.procs == []
