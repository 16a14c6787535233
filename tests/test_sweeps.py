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
