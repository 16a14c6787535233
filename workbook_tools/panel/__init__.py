"""A live training panel: controls, Train and Stop, curves that redraw while training.

Every notebook builds its "tweak the sliders and retrain" panel with
:class:`TrainingPanel`. You describe the controls and write one function that
trains with a dict of values; the panel does the widgets, the live plot, the
progress bar, Stop, error messages and a static figure for exported reports::

    import numpy as np
    import course_lib as cl
    from workbook_tools.panel import TrainingPanel, LogSlider, IntSlider, Text, Dropdown, Toggle
    from workbook_tools.plots import plot_decision_boundary

    def run(values, callbacks):
        # values: a plain dict, e.g. {"lr": 0.1, "epochs": 20, "hidden": "8-8", ...}
        rng = np.random.default_rng(0)
        sizes = [2, *cl.parse_sizes(values["hidden"]), 3]  # bad text -> ValueError -> message
        net = cl.mlp(sizes, rng=rng, activation=values["activation"])
        history = cl.train(net, (X, y), (X_val, y_val), lr=values["lr"], epochs=values["epochs"],
                           batch_size=16, shuffle=values["shuffle"], rng=rng,
                           callbacks=callbacks)          # <- pass these on: live curves and Stop
        return history, net                              # or just the history

    panel = TrainingPanel(
        controls={
            "lr": LogSlider(0.1, 1e-3, 1.0, label="learning rate"),
            "epochs": IntSlider(20, 1, 100),
            "hidden": Text("8-8", label="hidden sizes"),
            "activation": Dropdown("tanh", ["tanh", "sigmoid", "relu"]),
            "shuffle": Toggle(True),
        },
        run=run,
        extra_view=lambda ax, model: plot_decision_boundary(model, X, y, ax=ax),
    )
    panel.show()      # the panel, one training run with the defaults, and a static figure

What the student gets: moving a control does nothing by itself (training can be
long); **Train** trains with the current values in a background thread, so the
kernel stays free to receive **Stop**; the loss and accuracy curves (train and
validation) and the optional extra view redraw every ``redraw_every`` steps (at
most ``max_fps`` times a second) into one image, updated in place: no flicker, no
pile of figures. **Stop** ends the run after the current step and keeps the
curves and the weights learned so far. An exception from ``run`` (an empty layer
text, a bad value) is shown as a red message instead of a traceback; a run whose
loss becomes NaN/inf stops and says it diverged. **Pin as baseline** keeps the
current curves in grey so the next run is drawn against them
(:meth:`TrainingPanel.set_baseline` does the same from code).

Headless (nbval, export to PDF): :meth:`TrainingPanel.show` always trains once,
synchronously, with the current values, and then displays
:meth:`TrainingPanel.static_figure` -- an ordinary inline matplotlib figure --
below the panel, so CI runs the real training path and exported reports contain
the plot even though widgets do not survive export. After retraining in the live
notebook, ``panel.static_figure()`` as the last line of a cell draws the current
run for the report.

From Python (tests, or a cell): ``panel.controls["lr"].value = 0.5`` sets a
control, ``panel.train(blocking=True)`` trains now and returns the History,
``panel.train()`` starts a background run, ``panel.stop()`` and ``panel.wait()``
stop it and wait for it. ``panel.history``, ``panel.model`` and
``panel.trained_values`` describe the last run; ``panel.values`` the controls now.
"""
from __future__ import annotations

import html
import io
import math
import re
import threading
import time

import numpy as np

from course_lib.training import Callback, History

__all__ = ["TrainingPanel", "LogSlider", "FloatSlider", "IntSlider", "Dropdown", "Toggle", "Text",
           "describe_values"]


# --------------------------------------------------------------------------- controls
class Control:
    """Description of one control; :meth:`widget` builds the ipywidget."""

    def __init__(self, value, *, label=None):
        self.value, self.label = value, label

    def widget(self, name):  # pragma: no cover - abstract
        raise NotImplementedError

    def _common(self, name):
        return dict(description=self.label or name, style={"description_width": "initial"},
                    layout={"width": "auto"})


def _check_range(kind, value, lo, hi):
    if not (lo < hi):
        raise ValueError(f"{kind}: min must be below max, got {lo} and {hi}")
    if not (lo <= value <= hi):
        raise ValueError(f"{kind}: default {value} is outside [{lo}, {hi}]")


class LogSlider(Control):
    """A slider over ``[min, max]`` on a log scale (learning rates, L2 strengths)."""

    def __init__(self, value, min, max, *, steps_per_decade=10, label=None):
        if not (min > 0):
            raise ValueError(f"LogSlider: min must be positive, got {min}")
        _check_range("LogSlider", value, min, max)
        super().__init__(float(value), label=label)
        self.min, self.max, self.steps_per_decade = float(min), float(max), int(steps_per_decade)

    def widget(self, name):
        import ipywidgets as w

        return w.FloatLogSlider(value=self.value, base=10, min=math.log10(self.min), max=math.log10(self.max),
                                step=1.0 / self.steps_per_decade, readout_format=".3g",
                                continuous_update=False, **self._common(name))


class FloatSlider(Control):
    """A slider over ``[min, max]`` in steps of ``step`` (default: a hundredth of the range)."""

    def __init__(self, value, min, max, step=None, *, label=None):
        _check_range("FloatSlider", value, min, max)
        super().__init__(float(value), label=label)
        self.min, self.max = float(min), float(max)
        self.step = float(step) if step is not None else (self.max - self.min) / 100

    def widget(self, name):
        import ipywidgets as w

        return w.FloatSlider(value=self.value, min=self.min, max=self.max, step=self.step,
                             readout_format=".3g", continuous_update=False, **self._common(name))


class IntSlider(Control):
    """An integer slider (epochs, batch size, units)."""

    def __init__(self, value, min, max, step=1, *, label=None):
        _check_range("IntSlider", value, min, max)
        super().__init__(int(value), label=label)
        self.min, self.max, self.step = int(min), int(max), int(step)

    def widget(self, name):
        import ipywidgets as w

        return w.IntSlider(value=self.value, min=self.min, max=self.max, step=self.step,
                           continuous_update=False, **self._common(name))


class Dropdown(Control):
    """A choice among ``options`` (a list of values, or of ``(label, value)`` pairs)."""

    def __init__(self, value, options, *, label=None):
        options = list(options)
        values = [o[1] if isinstance(o, tuple) else o for o in options]
        if value not in values:
            raise ValueError(f"Dropdown: default {value!r} is not one of {values}")
        super().__init__(value, label=label)
        self.options = options

    def widget(self, name):
        import ipywidgets as w

        return w.Dropdown(value=self.value, options=self.options, **self._common(name))


class Toggle(Control):
    """An on/off checkbox."""

    def __init__(self, value=False, *, label=None):
        super().__init__(bool(value), label=label)

    def widget(self, name):
        import ipywidgets as w

        return w.Checkbox(value=self.value, indent=False, **self._common(name))


class Text(Control):
    """A text box, e.g. layer sizes ``"10-6-4-3-3"``; ``run`` parses it (and may reject it)."""

    def __init__(self, value="", *, label=None, placeholder=""):
        super().__init__(str(value), label=label)
        self.placeholder = placeholder

    def widget(self, name):
        import ipywidgets as w

        return w.Text(value=self.value, placeholder=self.placeholder, continuous_update=True,
                      **self._common(name))


def _make_widget(name, spec):
    import ipywidgets as w

    if isinstance(spec, Control):
        return spec.widget(name)
    if isinstance(spec, w.ValueWidget):
        if hasattr(spec, "description") and not spec.description:
            spec.description = name
        return spec
    raise TypeError(f"control {name!r}: expected LogSlider, IntSlider, FloatSlider, Dropdown, Toggle, Text"
                    f" or an ipywidgets value widget, got {type(spec).__name__}")


def _fmt(v):
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.3g}"
    if isinstance(v, (list, tuple)):
        return "-".join(map(_fmt, v))
    return str(v)


def describe_values(values) -> str:
    """``"lr=0.1, epochs=20, hidden=10-6-4-3-3"``: the values a run used, for titles."""
    return ", ".join(f"{k}={_fmt(v)}" for k, v in values.items())


# --------------------------------------------------------------------------- callback
class _PanelCallback(Callback):
    """Feeds the panel from inside the trainer: progress, frames, Stop."""

    def __init__(self, panel):
        self.panel = panel
        self.trainer = None
        self.runs = 0

    def on_train_begin(self, trainer):
        self.trainer = trainer
        self.runs += 1
        self.panel._begin(trainer)

    def on_step_end(self, trainer):
        p = self.panel
        if p._stop_event.is_set() and not trainer.stopping:
            trainer.stop("requested", f"stopped by you at step {trainer.step} of {trainer.total_steps}")
        p._tick(trainer)

    def on_train_end(self, trainer):
        self.panel._tick(trainer, final=True)


# --------------------------------------------------------------------------- panel
_COLORS = {"error": "#b00020", "warning": "#a85a00", "info": "#444", "ok": "#1b6e20"}


class TrainingPanel:
    """Controls + Train/Stop + live curves (and an optional extra view) for one training function.

    Parameters
    ----------
    controls : dict name -> control (LogSlider, FloatSlider, IntSlider, Dropdown,
        Toggle, Text, or any ipywidgets value widget); the names are the keys of
        the dict ``run`` receives
    run : function ``run(values, callbacks)`` that trains with the dict of values,
        passing ``callbacks`` to :func:`course_lib.train` / ``Trainer``, and returns
        the History, or ``(history, model)``; raise ValueError/TypeError with a
        readable message for values it cannot use
    extra_view : optional function ``extra_view(ax, model)`` drawing a second live
        view (a decision boundary, weight images) next to the curves
    extra_title : title over the extra view
    title : a heading shown above the controls
    redraw_every : redraw the curves at most every this many steps ...
    max_fps : ... and at most this many times a second, leaving at least two thirds
        of the time to training (None: no time limit, draw every ``redraw_every`` steps)
    threaded : Train runs in a background thread (needed for Stop to work while
        training); False trains in the kernel thread (Stop then has no effect)
    figsize_per_view : (width, height) in inches of each panel of the plot
    dpi : resolution of the live frames
    """

    def __init__(self, controls, run, *, extra_view=None, extra_title=None, title=None, redraw_every=5,
                 max_fps=5.0, threaded=True, figsize_per_view=(4.0, 3.1), dpi=90):
        import ipywidgets as w

        if not controls:
            raise ValueError("a panel needs at least one control")
        if not callable(run):
            raise TypeError("run must be a function run(values, callbacks) -> history")
        self.controls = {name: _make_widget(name, spec) for name, spec in controls.items()}
        self.run = run
        self.extra_view, self.extra_title = extra_view, extra_title
        self.redraw_every = max(1, int(redraw_every))
        self.max_fps = max_fps
        self.threaded = bool(threaded)
        self.figsize_per_view, self.dpi = tuple(figsize_per_view), dpi

        self.history: History | None = None
        self.model = None
        self.trained_values: dict | None = None
        self.error: BaseException | None = None
        self.baseline: tuple | None = None
        self.frames = 0
        self.runs = 0
        self._thread = None
        self._stop_event = threading.Event()
        self._draw_lock = threading.RLock()
        self._live_values: dict = {}
        self._reset_timers()

        # widgets
        for name, wid in self.controls.items():
            wid.add_class("cl-panel-control")
            # a CSS class may not contain spaces: "learning rate" -> "learning-rate"
            wid.add_class("cl-panel-control-" + re.sub(r"[^A-Za-z0-9_-]", "-", name))
            wid.observe(self._on_value_change, names="value")
        self.train_button = w.Button(description="Train", icon="play", button_style="success",
                                     tooltip="Train with the values above")
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="danger", disabled=True,
                                    tooltip="Stop after the current step; keeps what was learned")
        self.baseline_button = w.Button(description="Pin as baseline", icon="thumb-tack", disabled=True,
                                        tooltip="Keep these curves in grey to compare the next run against")
        self.train_button.add_class("cl-panel-train")
        self.stop_button.add_class("cl-panel-stop")
        self.baseline_button.add_class("cl-panel-baseline")
        self.train_button.on_click(lambda _: self.train())
        self.stop_button.on_click(lambda _: self.stop())
        self.baseline_button.on_click(lambda _: self.set_baseline())
        self.progress = w.IntProgress(value=0, min=0, max=1, bar_style="info", layout={"width": "260px"})
        self.progress.add_class("cl-panel-progress")
        self.status = w.HTML("")
        self.status.add_class("cl-panel-status")
        self.message_html = w.HTML("")
        self.message_html.add_class("cl-panel-message")
        # shown at its own pixel width: stretched to the cell it would look blurred
        width_px = int(self._figsize()[0] * self.dpi)
        self.plot = w.Image(format="png", layout={"width": f"{width_px}px", "max_width": "100%", "height": "auto"})
        self.plot.add_class("cl-panel-plot")
        grid = w.GridBox(list(self.controls.values()),
                         layout={"grid_template_columns": "repeat(2, minmax(0, 1fr))", "grid_gap": "2px 24px",
                                 "width": "100%"})
        buttons = w.HBox([self.train_button, self.stop_button, self.baseline_button, self.progress, self.status],
                         layout={"align_items": "center", "flex_flow": "row wrap"})
        parts = [grid, buttons, self.message_html, self.plot]
        if title:
            parts.insert(0, w.HTML(f"<b>{html.escape(str(title))}</b>"))
        self.widget = w.VBox(parts, layout={"border": "1px solid #ddd", "padding": "6px", "width": "100%"})
        self.widget.add_class("cl-panel")
        self._message("Set the values and press Train.", "info")
        self._render(None, None, {}, None)

    # ----------------------------------------------------------------- public API
    @property
    def values(self) -> dict:
        """The controls' current values, as the dict ``run`` receives."""
        return {name: wid.value for name, wid in self.controls.items()}

    @property
    def running(self) -> bool:
        """True while a run (background or blocking) is going on."""
        return self._busy

    @property
    def message(self) -> str:
        """The text of the panel's message line (results, errors)."""
        return self._message_text

    def train(self, blocking=None):
        """Train with the current values.

        ``blocking=True`` trains in this thread and returns the History (None if
        ``run`` failed; the message says why); otherwise, with ``threaded=True``,
        starts a background run and returns at once (see :meth:`wait`).
        Does nothing while a run is going on.
        """
        if self.running:
            return None
        if blocking is None:
            blocking = not self.threaded
        values = self.values
        self._stop_event.clear()
        self._set_running(True, threaded=not blocking)
        if blocking:
            return self._execute(values)
        self._thread = threading.Thread(target=self._execute, args=(values,), name="TrainingPanel", daemon=True)
        self._thread.start()
        return None

    def stop(self):
        """Ask the running training to stop after its current step (what was learned is kept)."""
        if self._busy:
            self._stop_event.set()
            self.stop_button.disabled = True
            self._message("Stopping after the current step…", "warning")

    def wait(self, timeout=None) -> bool:
        """Wait for a background run to finish; True when none is running any more."""
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)
        return not (t is not None and t.is_alive())

    def show(self, train=True):
        """Display the panel; with ``train`` (default) train once now with the current
        values and display the static figure below it (for nbval and exported reports).
        Later runs from the Train button redraw that static figure in place, so a saved
        notebook shows the last run.

        Raises the exception if that first run fails: the defaults are the notebook's choice.
        """
        from IPython.display import display

        display(self)
        if not train:
            return
        self.train(blocking=True)
        if self.error is not None:
            raise self.error
        self._static_handle = display(self.static_figure(), display_id=True)

    def static_figure(self):
        """The last run (curves, baseline, extra view) as an ordinary matplotlib figure,
        titled with the values it used. Displays inline when it is a cell's last line."""
        from matplotlib.figure import Figure

        if threading.current_thread() is threading.main_thread():
            _load_pyplot_backend()
        # Not a pyplot figure: the inline backend renders it once when displayed,
        # it never piles up in pyplot, and building it off the main thread is safe.
        fig = Figure(figsize=self._figsize(), dpi=100, layout="constrained")
        self._draw(fig, self.history, self.model, self.trained_values or {}, None)
        return fig

    def set_baseline(self, history=None, label="baseline"):
        """Draw ``history`` (default: the last run) in grey behind the next runs' curves."""
        history = history if history is not None else self.history
        if history is None:
            raise ValueError("no run to pin as a baseline yet: press Train first")
        self.baseline = (history, label)
        if not self.running:
            self._render(self.history, self.model, self.trained_values or {}, None)
            self._message(f"Pinned as {label}; the next run is drawn against it.", "info")

    def clear_baseline(self):
        self.baseline = None
        if not self.running:
            self._render(self.history, self.model, self.trained_values or {}, None)

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        # What exports without widget support (LaTeX PDF, plain text) print instead
        # of the panel: a line, not the repr of a tree of widgets.
        bundle["text/plain"] = (f"[training panel: {', '.join(self.controls)} -- interactive in Jupyter;"
                                " the static figure shows the last run]")
        return bundle

    # ----------------------------------------------------------------- running
    _busy = False
    _static_handle = None

    def _update_static(self):
        """Replace the static figure that :meth:`show` displayed with the run just finished.

        The last live frame already shows that run, so its PNG is reused: drawing the
        figure again would cost about as much as training a small network.
        """
        if self._static_handle is not None and self.history is not None:
            try:
                from IPython.display import Image

                frame = Image(data=self.plot.value, format="png") if self.plot.value else self.static_figure()
                self._static_handle.update(frame)
            except Exception:  # the live panel already shows the run; never fail on this
                pass

    def _set_running(self, on, threaded=True):
        self._busy = on
        self.train_button.disabled = on
        self.stop_button.disabled = not (on and threaded)
        self.baseline_button.disabled = on or self.history is None

    def _execute(self, values):
        cb = _PanelCallback(self)
        self.error = None
        self._live_values = values
        self._message(f"Training with {describe_values(values)} …", "info")
        self.progress.bar_style = "info"
        history = model = None
        try:
            # A diverging run overflows before its loss turns NaN; the trainer stops it
            # and the panel says so, so numpy's warnings would only add noise.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                result = self.run(dict(values), [cb])
            history, model = self._unpack(result, cb)
        except Exception as exc:  # shown in the panel, kept in .error
            self.error = exc
            if cb.trainer is not None:
                history, model = cb.trainer.history, cb.trainer.model
        finally:
            try:
                self._finish(values, cb, history, model)
                if history is not None:
                    self._update_static()
            finally:
                self._set_running(False)
        return history if self.error is None else None

    @staticmethod
    def _unpack(result, cb):
        if isinstance(result, History):
            return result, (cb.trainer.model if cb.trainer is not None else None)
        if isinstance(result, (tuple, list)) and len(result) == 2:
            a, b = result
            if isinstance(a, History):
                return a, b
            if isinstance(b, History):
                return b, a
        if result is None and cb.trainer is not None:
            return cb.trainer.history, cb.trainer.model
        raise TypeError(f"run must return the History, or (history, model); it returned {type(result).__name__}")

    def _finish(self, values, cb, history, model):
        self.runs += 1
        if history is not None:
            self.history, self.model, self.trained_values = history, model, dict(values)
            self.baseline_button.disabled = False
        if self.error is not None:
            exc = self.error
            kind = "" if isinstance(exc, (ValueError, TypeError, KeyError)) else f"{type(exc).__name__}: "
            text = str(exc) or type(exc).__name__
            self.progress.bar_style = "danger"
            self._message(f"Cannot train with {describe_values(values)} — {kind}{text}", "error")
            if history is not None:
                self._render(history, model, values, None)
            return
        if cb.runs == 0:
            self._render(history, model, values, None)
            self._message("run() did not pass the panel's callbacks to the trainer, so there were no live "
                          "curves and Stop cannot work: call cl.train(..., callbacks=callbacks).", "warning")
            return
        h = history
        used = describe_values(values)
        style, kind, text = {
            "completed": ("success", "ok", f"Done: {_summary(h)} · {used}"),
            "requested": ("warning", "warning", f"Stopped by you at step {len(h.loss)}: the curves and the"
                                                f" weights so far are kept ({_summary(h)} · {used})."),
            "early_stopping": ("success", "ok", f"Early stopping: {h.message} ({_summary(h)} · {used})."),
            "diverged": ("danger", "error", f"Training diverged: {h.message}. Try a smaller learning rate"
                                            f" ({used})."),
        }.get(h.stop_reason, ("warning", "warning",
                              f"Training ended ({h.stop_reason}): {h.message} ({_summary(h)})."))
        self.progress.bar_style = style
        self._message(text, kind)

    # ----------------------------------------------------------------- live updates
    def _reset_timers(self):
        self._last_frame_step = -10**9
        self._last_frame_time = -math.inf
        self._last_progress_time = -math.inf
        self._frame_cost = 0.0

    def _begin(self, trainer):
        self._reset_timers()
        self.progress.max = max(1, trainer.total_steps)
        self.progress.value = 0
        self.status.value = _status(trainer)
        self._frame(trainer)

    def _tick(self, trainer, final=False):
        now = time.perf_counter()
        if final or now - self._last_progress_time >= 0.1:
            self._last_progress_time = now
            self.progress.value = min(trainer.step, self.progress.max)
            self.status.value = _status(trainer, final=final)
        if final:
            self._frame(trainer)
            return
        if trainer.step - self._last_frame_step < self.redraw_every:
            return
        interval = max(1.0 / self.max_fps, 2.0 * self._frame_cost) if self.max_fps else 0.0
        if now - self._last_frame_time >= interval:
            self._frame(trainer)

    def _frame(self, trainer):
        start = time.perf_counter()
        self._last_frame_step = trainer.step
        self._render(trainer.history, trainer.model, self._live_values, trainer.epochs)
        self._last_frame_time = time.perf_counter()
        self._frame_cost = self._last_frame_time - start

    # ----------------------------------------------------------------- drawing
    def _figsize(self):
        n = 3 if self.extra_view is not None else 2
        w, h = self.figsize_per_view
        return (w * n, h + 0.35)

    def _render(self, history, model, values, total_epochs):
        """Draw one live frame into the Image widget (Agg, no pyplot: safe off the main thread)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        with self._draw_lock:
            # Fixed margins and light PNG compression: constrained layout and the
            # default compression would more than double the cost of every frame.
            w, h = self._figsize()
            n = 3 if self.extra_view is not None else 2
            fig = Figure(figsize=(w, h), dpi=self.dpi)
            FigureCanvasAgg(fig)
            fig.subplots_adjust(left=0.6 / w, right=1 - 0.15 / w, bottom=0.5 / h, top=1 - 0.62 / h,
                                wspace=0.62 / ((w - 0.75) / n - 0.62))
            self._draw(fig, history, model, values, total_epochs)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=self.dpi, pil_kwargs={"compress_level": 1})
            self.plot.value = buf.getvalue()
            self.frames += 1

    def _draw(self, fig, history, model, values, total_epochs):
        from workbook_tools.plots import plot_history

        n = 3 if self.extra_view is not None else 2
        axes = fig.subplots(1, n, squeeze=False)[0]
        if self.baseline is not None:
            bh, blabel = self.baseline
            plot_history(bh, axes[:2], label=blabel, color="0.65", show_stop=False, legend=False)
        if history is not None:
            plot_history(history, axes[:2], total_epochs=total_epochs, legend=False)
        else:
            for a, name in zip(axes[:2], ("loss", "accuracy")):
                a.set_title(name, fontsize="medium")
                a.set_xlabel("epoch")
                a.grid(True, alpha=0.3)
                a.text(0.5, 0.5, "press Train", transform=a.transAxes, ha="center", va="center", color="0.5")
        for a in axes[:2]:
            if a.get_legend_handles_labels()[0]:
                a.legend(fontsize="small", loc="upper right" if a is axes[0] else "lower right")
        if self.extra_view is not None:
            ax = axes[2]
            if model is None:
                ax.set_axis_off()
                ax.text(0.5, 0.5, "press Train", transform=ax.transAxes, ha="center", va="center", color="0.5")
            else:
                try:
                    self.extra_view(ax, model)
                except Exception as exc:  # a drawing bug must not kill the training
                    ax.clear()
                    ax.set_axis_off()
                    ax.text(0.5, 0.5, f"extra view failed:\n{type(exc).__name__}: {exc}", wrap=True,
                            transform=ax.transAxes, ha="center", va="center", color=_COLORS["error"],
                            fontsize="small")
            if self.extra_title:
                ax.set_title(self.extra_title, fontsize="medium")
        if values:
            fig.suptitle(describe_values(values), fontsize="medium")

    # ----------------------------------------------------------------- messages
    def _message(self, text, kind="info"):
        self._message_text = text
        self.message_kind = kind
        self.message_html.value = (f'<div class="cl-panel-msg cl-panel-msg-{kind}" style="color:{_COLORS[kind]};'
                                   f'white-space:normal; line-height:1.4">{html.escape(text)}</div>')

    def _on_value_change(self, change):
        if not self._busy:
            self._message(f"Values changed ({describe_values(self.values)}): press Train to train with them.",
                          "info")


def _load_pyplot_backend():
    """Load pyplot's backend (the inline one in a kernel): it is what teaches IPython
    to display Figure objects as images."""
    import matplotlib.pyplot as plt

    plt.close(plt.figure())


def _plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def _recent_loss(h):
    """Mean loss of the last steps (up to 100, at most an epoch): one mini-batch's,
    let alone one instance's, loss is too noisy to report on its own."""
    k = max(1, min(len(h.loss), 100, h.steps_per_epoch or 100))
    recent = np.asarray(h.loss[-k:], dtype=float)
    return float(recent.mean()) if np.isfinite(recent).all() else float(recent[-1])


def _status(trainer, final=False):
    h = trainer.history
    loss = f" · loss {_recent_loss(h):.4f}" if h.loss else ""
    val = f" · val acc {h.val_acc[-1]:.3f}" if final and h.val_acc else ""
    epoch = min(trainer.epoch + 1, trainer.epochs)
    return f"step {trainer.step}/{trainer.total_steps} · epoch {epoch}/{trainer.epochs}{loss}{val}"


def _summary(h):
    parts = [_plural(len(h.loss), "step"), _plural(h.epochs_done, "epoch")]
    if h.loss and math.isfinite(_recent_loss(h)):
        parts.append(f"loss {_recent_loss(h):.4f}")
    if h.val_acc:
        parts.append(f"val acc {h.val_acc[-1]:.3f}")
    elif h.epoch_acc:
        parts.append(f"train acc {h.epoch_acc[-1]:.3f}")
    return ", ".join(parts)
