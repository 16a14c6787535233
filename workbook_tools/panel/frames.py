"""Drawing the panel: the live frames (PNG bytes for the Image widget), the static
figure for reports, and when the next live frame is due.

Frames are drawn with Agg on figures that pyplot never sees, so the training
thread may draw them and nothing piles up in pyplot.
"""
from __future__ import annotations

import contextlib
import io
import math
import threading
import time
from typing import NamedTuple

from .controls import describe_values
from .messages import COLORS


class Scene(NamedTuple):
    """What one picture shows."""

    history: object = None
    model: object = None
    values: dict | None = None  # the title: the values the run used
    total_epochs: int | None = None  # fixes the x axis while a run grows along it
    baseline: tuple | None = None  # (history, label) drawn in grey behind


class Throttle:
    """When the next live frame is due: after ``redraw_every`` steps, at most ``max_fps``
    times a second, and only once training has had twice the last frame's CPU time,
    so that drawing never takes more than a third of the run (None: by steps only).

    Frame costs are CPU time of the training thread, not wall time: on a busy machine
    a frame that waited for a core would otherwise stretch the gap to the next frame,
    and a short run would show no live frames at all.
    """

    PROGRESS_INTERVAL = 0.1  # the progress bar and status line: ten updates a second are smooth enough

    def __init__(self, redraw_every, max_fps):
        self.redraw_every, self.max_fps = max(1, int(redraw_every)), max_fps
        self.reset()

    def reset(self):
        """A run begins (in the thread that will train it)."""
        self.started = time.perf_counter()
        self.last_step, self.last_time, self.last_cpu, self.cost = -10**9, -math.inf, -math.inf, 0.0
        self.last_progress = -math.inf

    def frame_due(self, step):
        if step - self.last_step < self.redraw_every:
            return False
        if not self.max_fps:
            return True
        return (time.perf_counter() - self.last_time >= 1.0 / self.max_fps
                and time.thread_time() - self.last_cpu >= 2.0 * self.cost)

    @contextlib.contextmanager
    def frame(self, step):
        """Draw a frame for ``step`` inside this block: its cost sets when the next one is due."""
        cpu = time.thread_time()
        yield
        self.last_step, self.last_time, self.last_cpu = step, time.perf_counter(), time.thread_time()
        self.cost = self.last_cpu - cpu

    def progress_due(self):
        now = time.perf_counter()
        if now - self.last_progress < self.PROGRESS_INTERVAL:
            return False
        self.last_progress = now
        return True

    def time_left(self, step, total_steps):
        """Seconds the run still needs at the pace so far (None before its first step)."""
        return (time.perf_counter() - self.started) * (total_steps - step) / step if step > 0 else None


class Painter:
    """Draws scenes: curves of loss and accuracy, and the optional extra view."""

    def __init__(self, extra_view=None, extra_title=None, figsize_per_view=(4.0, 3.1), dpi=90):
        self.extra_view, self.extra_title = extra_view, extra_title
        self.figsize_per_view, self.dpi = tuple(figsize_per_view), dpi
        self.views = 3 if extra_view is not None else 2
        self._lock = threading.Lock()  # the training thread and the kernel may both draw

    def figsize(self):
        w, h = self.figsize_per_view
        return (w * self.views, h + 0.35)

    def png(self, scene: Scene) -> bytes:
        """One live frame as PNG bytes."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        with self._lock:
            # Fixed margins and light PNG compression: constrained layout and the
            # default compression would more than double the cost of every frame.
            w, h = self.figsize()
            fig = Figure(figsize=(w, h), dpi=self.dpi)
            FigureCanvasAgg(fig)
            fig.subplots_adjust(left=0.6 / w, right=1 - 0.15 / w, bottom=0.5 / h, top=1 - 0.62 / h,
                                wspace=0.62 / ((w - 0.75) / self.views - 0.62))
            self.draw(fig, scene)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=self.dpi, pil_kwargs={"compress_level": 1})
            return buf.getvalue()

    def figure(self, scene: Scene):
        """The scene as an ordinary matplotlib figure (inline in a notebook, kept in reports)."""
        from matplotlib.figure import Figure

        if threading.current_thread() is threading.main_thread():
            _load_pyplot_backend()
        # Not a pyplot figure: the inline backend renders it once when displayed,
        # it never piles up in pyplot, and building it off the main thread is safe.
        fig = Figure(figsize=self.figsize(), dpi=100, layout="constrained")
        self.draw(fig, scene)
        return fig

    def draw(self, fig, scene: Scene):
        axes = fig.subplots(1, self.views, squeeze=False)[0]
        _draw_curves(axes[:2], scene)
        if self.extra_view is not None:
            self._draw_extra(axes[2], scene.model)
        if scene.values:
            fig.suptitle(describe_values(scene.values), fontsize="medium")

    def _draw_extra(self, ax, model):
        if model is None:
            _placeholder(ax, None)
        else:
            try:
                self.extra_view(ax, model)
            except Exception as exc:  # a drawing bug must not kill the training
                ax.clear()
                ax.set_axis_off()
                ax.text(0.5, 0.5, f"extra view failed:\n{type(exc).__name__}: {exc}", wrap=True,
                        transform=ax.transAxes, ha="center", va="center", color=COLORS["error"],
                        fontsize="small")
        if self.extra_title:
            ax.set_title(self.extra_title, fontsize="medium")


def _draw_curves(axes, scene):
    from workbook_tools.plots import plot_history

    if scene.baseline is not None:
        history, label = scene.baseline
        plot_history(history, axes, label=label, color="0.65", show_stop=False, legend=False)
    if scene.history is not None:
        plot_history(scene.history, axes, total_epochs=scene.total_epochs, legend=False)
    else:
        for ax, name in zip(axes, ("loss", "accuracy")):
            _placeholder(ax, name)
    for ax, corner in zip(axes, ("upper right", "lower right")):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small", loc=corner)


def _placeholder(ax, name):
    """An empty view before the first run."""
    if name is None:
        ax.set_axis_off()
    else:
        ax.set_title(name, fontsize="medium")
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
    ax.text(0.5, 0.5, "press Train", transform=ax.transAxes, ha="center", va="center", color="0.5")


def _load_pyplot_backend():
    """Load pyplot's backend (the inline one in a kernel): it is what teaches IPython
    to display Figure objects as images."""
    import matplotlib.pyplot as plt

    plt.close(plt.figure())
