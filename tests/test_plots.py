"""plot_decision_boundary sends its grid through the network in chunks: the same picture, bounded memory."""
import tracemalloc

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import course_lib as cl  # noqa: E402
from workbook_tools import plots  # noqa: E402
from workbook_tools.panel import mlp_cost  # noqa: E402
from workbook_tools.plots import evaluate_in_chunks, grid_chunk_rows, plot_decision_boundary  # noqa: E402


def _data(rng, n=60):
    X = rng.standard_normal((n, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(int) + (X[:, 0] > 1)


@pytest.mark.parametrize("rows", [1, 7, 333, 1000, 5000])
def test_chunks_give_what_the_whole_grid_gives(rows):
    rng = np.random.default_rng(3)
    points = rng.uniform(-3, 3, (1000, 2))
    net = cl.mlp([2, 16, 16, 3], rng=rng, activation="tanh")
    binary = cl.mlp([2, 8, 1], rng=rng, output="sigmoid")
    assert np.array_equal(evaluate_in_chunks(net.predict, points, rows), net.predict(points))
    np.testing.assert_allclose(evaluate_in_chunks(net.predict_proba, points, rows), net.predict_proba(points),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(evaluate_in_chunks(binary.predict_proba, points, rows),
                               binary.predict_proba(points), rtol=1e-12, atol=1e-15)


class _Counting:
    """A network that records the rows of every forward pass asked of it."""

    def __init__(self, net):
        self.net, self.rows = net, []
        self.params, self.dtype = net.params, net.dtype

    def predict(self, X):
        self.rows.append(len(X))
        return self.net.predict(X)

    def predict_proba(self, X):
        self.rows.append(len(X))
        return self.net.predict_proba(X)


def _shaded(model, X, y, **kw):
    """What plot_decision_boundary hands to contourf (the grid and its values)."""
    ax, seen = Figure().subplots(), []
    original = ax.contourf
    ax.contourf = lambda *args, **kws: seen.append(args[:3]) or original(*args, **kws)
    plot_decision_boundary(model, X, y, ax=ax, **kw)
    return seen[0]


@pytest.mark.parametrize("proba", [False, True])
def test_the_chunked_picture_is_the_picture(monkeypatch, proba):
    rng = np.random.default_rng(4)
    X, y = _data(rng)
    net = cl.mlp([2, 32, 1 if proba else 3], rng=rng, output="sigmoid" if proba else "softmax")
    whole = _Counting(net)
    expected = _shaded(whole, X, y % 2 if proba else y, resolution=50, proba=proba)
    assert whole.rows == [2500]
    outputs = 1 if proba else 3
    monkeypatch.setattr(plots, "GRID_CHUNK_BYTES", 100 * (2 + 32 + outputs + 2 * 32) * 8)  # 100 points at a time
    chunked = _Counting(net)
    got = _shaded(chunked, X, y % 2 if proba else y, resolution=50, proba=proba)
    assert chunked.rows == [100] * 25
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("proba", [False, True])
def test_a_wide_network_never_holds_the_whole_grid(proba):
    """80 x 80 points through 20,000 units would be 1 GB per layer output; chunks keep it to tens of MB."""
    rng = np.random.default_rng(5)
    X, y = _data(rng)
    hidden, resolution = 20_000, 80
    net = cl.mlp([2, hidden, 1 if proba else 3], rng=rng, output="sigmoid" if proba else "softmax")
    at_once = resolution ** 2 * hidden * 8
    tracemalloc.start()
    try:
        plot_decision_boundary(net, X, y % 2 if proba else y, ax=Figure().subplots(), resolution=resolution,
                               proba=proba)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * plots.GRID_CHUNK_BYTES, f"peak {peak / 2**20:.0f} MiB"
    assert at_once > 15 * 2 * plots.GRID_CHUNK_BYTES  # the whole grid at once could not pass


def test_chunk_rows_and_the_panel_budget_agree():
    assert grid_chunk_rows([2, 8, 3], 8) == plots.GRID_CHUNK_BYTES // ((2 + 8 + 3 + 16) * 8)
    assert grid_chunk_rows([2, 10**9, 3], 8) == 1  # never zero
    assert grid_chunk_rows([2, 1000, 3], 4) == plots.GRID_CHUNK_BYTES // ((2 + 1000 + 3 + 2000) * 4)  # float32
    small = dict(mlp_cost([2, 8, 3], batch_size=16, n_train=100, grid=120).parts)
    assert small["the 120×120 decision-boundary grid"] == 120 ** 2 * (2 + 8 + 3 + 16) * 8  # all at once
    wide = dict(mlp_cost([2, 100_000, 3], batch_size=16, n_train=100, grid=120).parts)
    rows = grid_chunk_rows([2, 100_000, 3], 8)
    (name, cost), = [(k, v) for k, v in wide.items() if "decision-boundary" in k]
    assert name == f"the 120×120 decision-boundary grid, {rows:,} points at a time"
    assert cost <= plots.GRID_CHUNK_BYTES < 120 ** 2 * 100_000 * 8


@pytest.mark.parametrize("bad", [1, 0, -5, 2.5, "200", True, None, 10 ** 6])
def test_resolution_must_be_a_sensible_whole_number(bad):
    rng = np.random.default_rng(6)
    X, y = _data(rng)
    with pytest.raises(ValueError, match="resolution is the number of grid points per axis, a whole number "
                                         "from 2 to 2000; got"):
        plot_decision_boundary(lambda P: np.zeros(len(P), int), X, y, ax=Figure().subplots(), resolution=bad)


@pytest.mark.parametrize("bad", [None, [0.5, 0.4], {"loss": [1.0]}])
def test_plot_history_names_what_it_needs(bad):
    with pytest.raises(TypeError, match=r"plot_history needs a History \(what train\(\) or Trainer.fit returns\), "
                                        f"got {type(bad).__name__}"):
        plots.plot_history(bad, Figure().subplots(1, 2))
