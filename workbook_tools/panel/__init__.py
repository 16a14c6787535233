"""A live training panel: controls, Train and Stop, curves that redraw while training.

Every notebook builds its "tweak the sliders and retrain" panel with
:class:`TrainingPanel`. You describe the controls and write one function that
trains with a dict of values; the panel does the widgets, the live plot, the
progress bar, Stop, error messages and a static figure for exported reports::

    import numpy as np
    import course_lib as cl
    from workbook_tools.panel import TrainingPanel, LogSlider, IntSlider, Text, Dropdown, Toggle, mlp_estimate
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
            "hidden": Text("8-8", label="hidden sizes", sizes=True),   # at most 4096 units, 16 layers
            "activation": Dropdown("tanh", ["tanh", "sigmoid", "relu"]),
            "shuffle": Toggle(True),
        },
        run=run,
        extra_view=lambda ax, model: plot_decision_boundary(model, X, y, ax=ax, resolution=120),
        estimate=mlp_estimate(inputs=2, outputs=3, n_train=len(X), n_val=len(X_val), batch_size=16, grid=120),
    )
    panel.show()      # the panel and one training run with the defaults (a figure of it for exports)

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

Budgets: with an ``estimate`` (:func:`mlp_estimate` for an MLP), Train first
estimates the memory and time of the run and refuses one that would need more
than half the memory available (or steps too long for Stop to be heard), saying
what was asked, what it needs and what fits; the status line shows the time the
run should take. A ``Text(..., sizes=True)`` refuses layer sizes over a hard cap.
A panel whose cell is run again stops the run of the panel it replaces.

Headless (nbval, export to PDF): :meth:`TrainingPanel.show` always trains once,
synchronously, with the current values, and puts :meth:`TrainingPanel.static_figure`
as a PNG into the panel's own output, beside the widget: CI runs the real training
path, JupyterLab shows only the live panel, and exported reports (where widgets do
not survive) show the figure. Each later run replaces it. ``panel.static_figure()``
as the last line of a cell draws the current run as an ordinary figure.

From Python (tests, or a cell): ``panel.controls["lr"].value = 0.5`` sets a
control, ``panel.train(blocking=True)`` trains now and returns the History,
``panel.train()`` starts a background run, ``panel.stop()`` and ``panel.wait()``
stop it and wait for it. ``panel.history``, ``panel.model`` and
``panel.trained_values`` describe the last run; ``panel.values`` the controls now.

The parts: ``controls`` (the control descriptions and their widgets), ``runner``
(the one run at a time: state, thread, Stop), ``frames`` (drawing, and when),
``messages`` (every text the panel shows), ``budget`` (costs and limits); this
module composes them.
"""
from __future__ import annotations

import html
import re

import numpy as np

from course_lib.training import History

from . import messages
from .budget import Budget, BudgetError, Cost, available_memory, mlp_cost, mlp_estimate
from .controls import (
    Control, Dropdown, FloatSlider, IntSlider, LogSlider, Text, Toggle, check_values, describe_values, make_widget,
)
from .frames import Painter, Scene, Throttle
from .runner import Feed, Runner, claim

__all__ = ["TrainingPanel", "LogSlider", "FloatSlider", "IntSlider", "Dropdown", "Toggle", "Text",
           "describe_values", "Cost", "Budget", "BudgetError", "mlp_cost", "mlp_estimate", "available_memory",
           "Control"]


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
    estimate : optional function ``estimate(values) -> Cost`` (see :func:`mlp_estimate`):
        a run over ``budget`` is refused before it starts, and the status line
        shows the time it should take
    budget : the :class:`Budget` (default: half the available memory, steps under 10 s)
    key : what identifies this panel when its cell runs again (default: its title and
        control names); a new panel with the key of a running one stops that run
    """

    def __init__(self, controls, run, *, extra_view=None, extra_title=None, title=None, redraw_every=5,
                 max_fps=5.0, threaded=True, figsize_per_view=(4.0, 3.1), dpi=90, estimate=None, budget=None,
                 key=None):
        if not controls:
            raise ValueError("a panel needs at least one control")
        if not callable(run):
            raise TypeError("run must be a function run(values, callbacks) -> history")
        if estimate is not None and not callable(estimate):
            raise TypeError("estimate must be a function estimate(values) -> Cost, e.g. mlp_estimate(...)")
        self._specs = dict(controls)
        self.controls = {name: make_widget(name, spec) for name, spec in controls.items()}
        self.run, self.estimate = run, estimate
        self.budget = budget if budget is not None else Budget()
        self.threaded = bool(threaded)
        self.painter = Painter(extra_view, extra_title, figsize_per_view, dpi)
        self.throttle = Throttle(redraw_every, max_fps)
        self.runner = Runner(on_idle=lambda: self._set_buttons(running=False))
        self.history: History | None = None
        self.model = None
        self.trained_values: dict | None = None
        self.error: BaseException | None = None
        self.baseline: tuple | None = None
        self.frames = 0  # live frames drawn so far
        self._static_handle = None  # what show() displayed the static figure with
        self._build_widgets(title)
        self._message("Set the values and press Train.", "info")
        self._show_frame(Scene())
        claim(key if key is not None else (title, tuple(self.controls)), self.runner)

    # ----------------------------------------------------------------- widgets
    def _build_widgets(self, title):
        import ipywidgets as w

        for name, wid in self.controls.items():
            wid.add_class("cl-panel-control")
            # a CSS class may not contain spaces: "learning rate" -> "learning-rate"
            wid.add_class("cl-panel-control-" + re.sub(r"[^A-Za-z0-9_-]", "-", name))
            wid.observe(self._on_value_change, names="value")
        self._build_buttons()
        self.progress = _with_class(w.IntProgress(value=0, min=0, max=1, bar_style="info",
                                                  layout={"width": "260px"}), "cl-panel-progress")
        self.status = _with_class(w.HTML(""), "cl-panel-status")
        self.message_html = _with_class(w.HTML(""), "cl-panel-message")
        # shown at its own pixel width: stretched to the cell it would look blurred
        width_px = int(self.painter.figsize()[0] * self.painter.dpi)
        self.plot = _with_class(w.Image(format="png", layout={"width": f"{width_px}px", "max_width": "100%",
                                                              "height": "auto"}), "cl-panel-plot")
        grid = w.GridBox(list(self.controls.values()),
                         layout={"grid_template_columns": "repeat(2, minmax(0, 1fr))", "grid_gap": "2px 24px",
                                 "width": "100%"})
        buttons = w.HBox([self.train_button, self.stop_button, self.baseline_button, self.progress, self.status],
                         layout={"align_items": "center", "flex_flow": "row wrap"})
        parts = [grid, buttons, self.message_html, self.plot]
        if title:
            parts.insert(0, w.HTML(f"<b>{html.escape(str(title))}</b>"))
        self.widget = _with_class(w.VBox(parts, layout={"border": "1px solid #ddd", "padding": "6px",
                                                        "width": "100%"}), "cl-panel")

    def _build_buttons(self):
        import ipywidgets as w

        self.train_button = _with_class(w.Button(description="Train", icon="play", button_style="success",
                                                 tooltip="Train with the values above"), "cl-panel-train")
        self.stop_button = _with_class(w.Button(description="Stop", icon="stop", button_style="danger",
                                                disabled=True, tooltip="Stop after the current step; keeps what"
                                                " was learned"), "cl-panel-stop")
        self.baseline_button = _with_class(w.Button(description="Pin as baseline", icon="thumb-tack",
                                                    disabled=True, tooltip="Keep these curves in grey to compare"
                                                    " the next run against"), "cl-panel-baseline")
        self.train_button.on_click(lambda _: self.train())
        self.stop_button.on_click(lambda _: self.stop())
        self.baseline_button.on_click(lambda _: self.set_baseline())

    def _set_buttons(self, running, stoppable=False):
        self.train_button.disabled = running
        self.stop_button.disabled = not (running and stoppable)
        self.baseline_button.disabled = running or self.history is None

    # ----------------------------------------------------------------- public API
    @property
    def values(self) -> dict:
        """The controls' current values, as the dict ``run`` receives."""
        return {name: wid.value for name, wid in self.controls.items()}

    @property
    def running(self) -> bool:
        """True while a run (background or blocking) is going on."""
        return self.runner.running

    @property
    def message(self) -> str:
        """The text of the panel's message line (results, errors)."""
        return self._message_text

    def train(self, blocking=None):
        """Train with the current values.

        ``blocking=True`` trains in this thread and returns the History (None if
        ``run`` failed or the values were refused; the message says why); otherwise,
        with ``threaded=True``, starts a background run and returns at once (see
        :meth:`wait`). Does nothing while a run is going on.
        """
        if self.running:
            return None
        blocking = not self.threaded if blocking is None else blocking
        values = self.values
        try:
            cost = self._admit(values)
        except Exception as exc:  # refused, or the estimate itself failed: said in the panel
            self._refuse(exc, values)
            return None
        self.error = None
        self.status.value = messages.starting(cost)
        self._message(f"Training with {describe_values(values)} …", "info")
        self.progress.bar_style = "info"
        # before the thread starts: its end sets the buttons back and must come last
        self._set_buttons(running=True, stoppable=not blocking)
        return self.runner.start(lambda: self._execute(values), blocking=blocking)

    def stop(self):
        """Ask the running training to stop after its current step (what was learned is kept)."""
        if self.runner.request_stop():
            self.stop_button.disabled = True
            self._message("Stopping after the current step…", "warning")

    def wait(self, timeout=None) -> bool:
        """Wait for a background run to finish; True when none is running any more."""
        return self.runner.wait(timeout)

    def show(self, train=True):
        """Display the panel; with ``train`` (default) train once now with the current values.

        The panel's output also carries the last run as a PNG beside the widget: JupyterLab
        shows the live panel, and where widgets cannot live (a PDF report, a reopened
        notebook without its kernel, nbval) the figure stands in for it, never both on
        screen. Later runs from the Train button replace that figure, so a saved notebook
        shows the last run.

        Raises the exception if that first run fails: the defaults are the notebook's choice.
        """
        from IPython.display import display

        handle = display(self, display_id=True)
        if not train:
            return
        self.train(blocking=True)
        if self.error is not None:
            raise self.error
        if handle is not None:  # None outside IPython: nothing to put the figure into
            self._static_handle = handle
            handle.update(self._with_figure(_png(self.static_figure())), raw=True)

    def static_figure(self):
        """The last run (curves, baseline, extra view) as an ordinary matplotlib figure,
        titled with the values it used. Displays inline when it is a cell's last line."""
        return self.painter.figure(Scene(self.history, self.model, self.trained_values or {}, None, self.baseline))

    def set_baseline(self, history=None, label="baseline"):
        """Draw ``history`` (default: the last run) in grey behind the next runs' curves."""
        history = history if history is not None else self.history
        if history is None:
            raise ValueError("no run to pin as a baseline yet: press Train first")
        self.baseline = (history, label)
        if not self.running:
            self._show_last_run()
            self._message(f"Pinned as {label}; the next run is drawn against it.", "info")

    def clear_baseline(self):
        self.baseline = None
        if not self.running:
            self._show_last_run()

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        # What exports without widget support (LaTeX PDF, plain text) print instead
        # of the panel: a line, not the repr of a tree of widgets.
        bundle["text/plain"] = (f"[training panel: {', '.join(self.controls)} -- interactive in Jupyter;"
                                " the static figure shows the last run]")
        return bundle

    def _with_figure(self, png: bytes) -> dict:
        import base64

        return {**self._repr_mimebundle_(), "image/png": base64.b64encode(png).decode("ascii")}

    # ----------------------------------------------------------------- before a run
    def _admit(self, values):
        """The run's Cost (None without an estimate); raises if the values must not train."""
        check_values(self._specs, self.controls, values)
        if self.estimate is None:
            return None
        cost = self.estimate(dict(values))
        if not isinstance(cost, Cost):
            raise TypeError(f"estimate must return a Cost(bytes, seconds, what), not {type(cost).__name__}")
        self.budget.check(cost)
        return cost

    def _refuse(self, exc, values):
        self.error = exc
        self.progress.bar_style = "danger"
        self._message(messages.error(exc, values), "error")

    def _on_value_change(self, change):
        if self.running:
            return
        values = self.values
        try:
            text, kind = messages.values_changed(values, cost=self._admit(values))
        except Exception as exc:  # Train will say it again, as an error
            text, kind = messages.values_changed(values, refusal=str(exc) or type(exc).__name__)
        self._message(text, kind)

    # ----------------------------------------------------------------- the run
    def _execute(self, values):
        feed = Feed(self.runner, on_begin=lambda loop: self._begin(loop, values),
                    on_step=lambda loop: self._step(loop, values), on_end=lambda loop: self._end(loop, values))
        history = model = None
        try:
            # A diverging run overflows before its loss turns NaN; the trainer stops it
            # and the panel says so, so numpy's warnings would only add noise.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                result = self.run(dict(values), [feed])
            history, model = _unpack(result, feed.loop)
        except Exception as exc:  # shown in the panel, kept in .error
            self.error = exc
            if feed.loop is not None:
                history, model = feed.loop.history, feed.loop.model
        self._finish(values, feed.loop, history, model)
        return history if self.error is None else None

    def _finish(self, values, loop, history, model):
        if history is not None:
            self.history, self.model, self.trained_values = history, model, dict(values)
        if self.error is not None:
            self.progress.bar_style = "danger"
            self._message(messages.error(self.error, values), "error")
            if history is not None:
                self._show_frame(Scene(history, model, values, None, self.baseline))
        elif loop is None:
            self._show_frame(Scene(history, model, values, None, self.baseline))
            self._message(messages.NO_CALLBACKS, "warning")
        else:
            self.progress.bar_style, kind, text = messages.ending(history, values)
            self._message(text, kind)
        if history is not None:
            self._update_static()

    # ----------------------------------------------------------------- live updates (training thread)
    def _begin(self, loop, values):
        self.throttle.reset()
        self.progress.max = max(1, loop.total_steps)
        self.progress.value = 0
        self._live_frame(loop, values)

    def _step(self, loop, values):
        if self.throttle.progress_due():
            self._progress(loop)
        if self.throttle.frame_due(loop.step):
            self._live_frame(loop, values)

    def _end(self, loop, values):
        self._progress(loop, final=True)
        self._live_frame(loop, values)

    def _progress(self, loop, final=False):
        self.progress.value = min(loop.step, self.progress.max)
        left = self.throttle.time_left(loop.step, loop.total_steps)
        self.status.value = messages.status(loop, final=final, left=left)

    def _live_frame(self, loop, values):
        with self.throttle.frame(loop.step):
            self._show_frame(Scene(loop.history, loop.model, values, loop.epochs, self.baseline))

    # ----------------------------------------------------------------- drawing and messages
    def _show_frame(self, scene):
        self.plot.value = self.painter.png(scene)
        self.frames += 1

    def _show_last_run(self):
        self._show_frame(Scene(self.history, self.model, self.trained_values or {}, None, self.baseline))

    def _update_static(self):
        """Replace the figure beside the panel (see :meth:`show`) with the run just finished.

        The last live frame already shows that run, so its PNG is reused: drawing the
        figure again would cost about as much as training a small network.
        """
        if self._static_handle is None or self.history is None:
            return
        try:
            png = self.plot.value or _png(self.static_figure())
            self._static_handle.update(self._with_figure(png), raw=True)
        except Exception:  # the live panel already shows the run; never fail on this
            pass

    def _message(self, text, kind="info"):
        self._message_text, self.message_kind = text, kind
        self.message_html.value = messages.message_html(text, kind)


def _png(fig) -> bytes:
    from IPython.core.pylabtools import print_figure

    return print_figure(fig, "png", bbox_inches="tight")  # as the inline backend draws it


def _with_class(widget, css_class):
    widget.add_class(css_class)
    return widget


def _unpack(result, loop):
    """(history, model) from what ``run`` returned; ``loop`` is the run's loop if it used the callbacks."""
    if isinstance(result, History):
        return result, (loop.model if loop is not None else None)
    if isinstance(result, (tuple, list)) and len(result) == 2:
        a, b = result
        if isinstance(a, History):
            return a, b
        if isinstance(b, History):
            return b, a
    if result is None and loop is not None:
        return loop.history, loop.model
    raise TypeError(f"run must return the History, or (history, model); it returned {type(result).__name__}")
