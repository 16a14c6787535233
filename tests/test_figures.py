"""Figures kept for the report notebook, and figures readable on a dark background."""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import workbook_tools as wt  # noqa: E402
from workbook_tools.figures import keep_figure, show_kept  # noqa: E402


def _figure():
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [1, 0])
    return fig


def test_a_kept_figure_is_a_whole_png_and_shown_back(tmp_path, capsys):
    fig = _figure()
    path = keep_figure(fig, "ntnu1-2b", folder=tmp_path)
    plt.close(fig)
    assert path == tmp_path / "ntnu1-2b.png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["ntnu1-2b.png"]  # no temporary file left
    shown = []
    import IPython.display
    monkey = pytest.MonkeyPatch()
    monkey.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    try:
        show_kept("ntnu1-2b", folder=tmp_path)
        show_kept("ntnu1-3c", made_in="notebook 06, section 2", folder=tmp_path)
    finally:
        monkey.undo()
    assert shown[0].data == path.read_bytes()
    assert "No figure `ntnu1-3c` yet" in shown[1].data and "notebook 06, section 2" in shown[1].data


@pytest.mark.parametrize("name", ["../escape", "/etc/passwd", "a/b", "", ".hidden", "x" * 65, "a..b", None])
def test_a_name_is_never_a_path(tmp_path, name):
    fig = _figure()
    with pytest.raises(ValueError, match="a figure's name"):
        keep_figure(fig, name, folder=tmp_path / "figures")
    plt.close(fig)
    assert not (tmp_path / "figures").exists()
    with pytest.raises(ValueError, match="a figure's name"):
        show_kept(name, folder=tmp_path)


def test_a_failed_save_keeps_the_old_figure(tmp_path):
    fig = _figure()
    path = keep_figure(fig, "kept", folder=tmp_path)
    before = path.read_bytes()
    fig.savefig = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk full"))
    with pytest.raises(RuntimeError):
        keep_figure(fig, "kept", folder=tmp_path)
    plt.close(fig)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["kept.png"]


def test_figures_are_opaque_after_the_set_up_cell(monkeypatch):
    # the inline backend's default: a transparent background, unreadable in the dark theme
    monkeypatch.setitem(matplotlib.rcParams, "figure.facecolor", (1, 1, 1, 0))
    monkeypatch.setitem(matplotlib.rcParams, "savefig.facecolor", "auto")
    wt.quick()
    fig = _figure()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    corner = plt.imread(io.BytesIO(buffer.getvalue()))[0, 0]
    assert np.allclose(corner, [1, 1, 1, 1]), corner
