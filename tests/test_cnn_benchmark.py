"""Smoke test of benchmarks/cnn_speed.py: its workers run and report; it times nothing."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ is not an installed package
from benchmarks import cnn_speed as cs  # noqa: E402


def test_numpy_worker_trains_the_small_cnn():
    out = cs.WORKERS["numpy"]({"job": "numpy", "net": "small", "n": 100, "dtype": "float32"})
    assert out["steps"] == 2 and out["seconds"] > 0 and np.isfinite(out["last_loss"])


def test_loops_against_the_fast_convolution():
    out = cs.WORKERS["loops"]({"job": "loops", "dtype": "float64", "loop_batch": 1})
    assert out["loop_s"] > out["fast_s"] > 0 and out["max_diff"] < 1e-12


def test_the_same_start_and_batches_as_pytorch(tmp_path):
    pytest.importorskip("torch")
    cfg = {"net": "small", "n": 100, "dtype": "float64", "dropout": 0.0}
    for job in ("numpy", "torch"):
        cs.WORKERS[job](dict(cfg, job=job, save_params=str(tmp_path / f"{job}.npz")))
    a, b = np.load(tmp_path / "numpy.npz"), np.load(tmp_path / "torch.npz")
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a.files) < 1e-12


def test_report_prints_ratios():
    run = {"seconds": 2.0, "steps": 100, "other_cores": 0.1, "first_loss": 2.3, "last_loss": 0.5}
    results = {"cores": 2, "threads": None, "runs": {net: {"numpy": [run], "torch": [dict(run, seconds=1.0)]}
                                                     for net in ("small", "course")},
               "loops": [{"loop_s": 1.0, "fast_s": 0.001, "max_diff": 1e-6}]}
    lines = []
    cs.report(results, out=lines.append)
    text = "\n".join(lines)
    assert "ratio 2.00" in text and "1,000 times faster" in text
