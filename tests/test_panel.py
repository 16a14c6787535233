"""The live training panel driven from Python, and the static plotting helpers."""
import threading
import time

import matplotlib

matplotlib.use("Agg")

import ipywidgets as w  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import course_lib as cl  # noqa: E402
from workbook_tools.panel import (  # noqa: E402
    Budget, BudgetError, Cost, Dropdown, FloatSlider, IntSlider, LogSlider, Text, Toggle, TrainingPanel,
    available_memory, describe_values, mlp_cost, mlp_estimate,
)
from workbook_tools.panel import runner as panel_runner  # noqa: E402
from workbook_tools.plots import plot_decision_boundary, plot_history, show_weight_images, smooth_curve  # noqa: E402
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

PNG = b"\x89PNG\r\n\x1a\n"


def blobs(rng, n, classes=3):
    angles = np.linspace(0, 2 * np.pi, classes, endpoint=False)
    centres = 3.0 * np.column_stack([np.cos(angles), np.sin(angles)])
    y = rng.integers(0, classes, n)
    return centres[y] + 0.6 * rng.standard_normal((n, 2)), y


_rng = np.random.default_rng(3)
TRAIN, VAL = blobs(_rng, 120), blobs(_rng, 60)


class Recorder:
    """A ``run`` function that records what the panel passed to it."""

    def __init__(self, delay=0.0):
        self.calls, self.nets, self.delay = [], [], delay

    def __call__(self, values, callbacks):
        self.calls.append(values)
        rng = np.random.default_rng(0)
        net = cl.mlp([2, *cl.parse_sizes(values["hidden"]), 3], rng=rng, activation=values["activation"])
        self.nets.append(net)
        self.initial = net.get_params()
        cbs = list(callbacks)
        if self.delay:
            class Slow(cl.Callback):
                def on_step_end(_, trainer):
                    time.sleep(self.delay)
            cbs.append(Slow())
        history = cl.train(net, TRAIN, VAL, lr=values["lr"], epochs=values["epochs"], batch_size=10,
                           shuffle=values["shuffle"], rng=rng, callbacks=cbs)
        return history, net


def make_panel(run=None, **options):
    options.setdefault("threaded", False)
    options.setdefault("max_fps", None)  # frames by steps only: deterministic counts
    options.setdefault("redraw_every", 10_000)  # first and last frame only, unless a test asks
    options.setdefault("dpi", 40)  # small frames keep the tests fast
    return TrainingPanel(
        controls={
            "lr": LogSlider(0.1, 1e-3, 1e6),
            "epochs": IntSlider(3, 1, 5000),
            "hidden": Text("6"),
            "activation": Dropdown("tanh", ["tanh", "sigmoid", "relu"]),
            "shuffle": Toggle(True),
        },
        run=run or Recorder(),
        **options,
    )


STEPS_PER_EPOCH = 12  # 120 instances, batches of 10


# --------------------------------------------------------------------------- controls
def test_controls_become_widgets_with_their_defaults():
    p = make_panel()
    assert p.values == {"lr": pytest.approx(0.1), "epochs": 3, "hidden": "6", "activation": "tanh",
                        "shuffle": True}
    c = p.controls
    assert isinstance(c["lr"], w.FloatLogSlider) and (c["lr"].min, c["lr"].max) == (-3, 6)
    assert isinstance(c["epochs"], w.IntSlider) and isinstance(c["hidden"], w.Text)
    assert isinstance(c["activation"], w.Dropdown) and isinstance(c["shuffle"], w.Checkbox)
    assert c["lr"].description == "lr"
    assert isinstance(FloatSlider(0.5, 0, 1, label="momentum").widget("m"), w.FloatSlider)
    assert FloatSlider(0.5, 0, 1, label="momentum").widget("m").description == "momentum"
    # an ipywidget can be passed as it is
    slider = w.IntSlider(value=4, min=1, max=9)
    assert TrainingPanel({"n": slider}, run=Recorder()).controls["n"] is slider


@pytest.mark.parametrize("make", [
    lambda: LogSlider(10.0, 1e-3, 1.0), lambda: LogSlider(0.1, 0.0, 1.0), lambda: IntSlider(0, 1, 5),
    lambda: FloatSlider(0.5, 1.0, 0.0), lambda: Dropdown("elu", ["tanh", "relu"]),
])
def test_control_descriptions_reject_impossible_defaults(make):
    with pytest.raises(ValueError):
        make()


def test_panel_rejects_unknown_controls_and_missing_run():
    with pytest.raises(TypeError, match="control 'lr'"):
        TrainingPanel({"lr": 0.1}, run=Recorder())
    with pytest.raises(TypeError):
        TrainingPanel({"lr": LogSlider(0.1, 1e-3, 1)}, run=None)
    with pytest.raises(ValueError):
        TrainingPanel({}, run=Recorder())


def test_describe_values():
    assert describe_values({"lr": 0.1, "epochs": 20, "hidden": "10-6-4-3-3", "shuffle": True}) == \
        "lr=0.1, epochs=20, hidden=10-6-4-3-3, shuffle=True"
    assert describe_values({"lr": 0.000123456, "sizes": [2, 8, 3]}) == "lr=0.000123, sizes=2-8-3"


# --------------------------------------------------------------------------- training
def test_train_button_uses_the_values_set_and_redraws_during_training():
    run = Recorder()
    p = make_panel(run, redraw_every=8)
    assert bytes(p.plot.value).startswith(PNG)  # a placeholder frame before any run
    frames_before = p.frames
    p.controls["lr"].value = 0.5
    p.controls["epochs"].value = 4
    p.controls["hidden"].value = "5-4"
    p.controls["activation"].value = "relu"
    p.controls["shuffle"].value = False
    assert run.calls == [] and p.frames == frames_before, "moving controls must not train"
    p.train_button.click()
    assert run.calls == [{"lr": pytest.approx(0.5), "epochs": 4, "hidden": "5-4", "activation": "relu",
                          "shuffle": False}]
    h = p.history
    assert isinstance(h, cl.History) and h.stop_reason == "completed"
    assert len(h.loss) == 4 * STEPS_PER_EPOCH and h.epochs_done == 4 and len(h.val_loss) == 4
    assert p.model is run.nets[-1] and p.trained_values == run.calls[-1]
    # redrawn while training ran, not only at the end: begin + every 8 steps + end
    assert p.frames - frames_before >= 2 + (4 * STEPS_PER_EPOCH) // 8 - 1
    assert bytes(p.plot.value).startswith(PNG)
    assert p.progress.max == p.progress.value == 4 * STEPS_PER_EPOCH
    assert "step 48/48" in p.status.value and "epoch 4/4" in p.status.value
    assert p.message.startswith("Done") and "lr=0.5" in p.message and p.message_kind == "ok"
    assert not p.train_button.disabled and p.stop_button.disabled

    # a second run with other values replaces the first
    p.controls["epochs"].value = 2
    assert p.message.startswith("Values changed") and "epochs=2" in p.message
    assert len(run.calls) == 1
    p.train_button.click()
    assert len(run.calls) == 2 and run.calls[-1]["epochs"] == 2
    assert len(p.history.loss) == 2 * STEPS_PER_EPOCH


def test_frames_are_throttled_by_wall_time():
    p = make_panel(redraw_every=1, max_fps=2.0)
    p.controls["epochs"].value = 5
    before = p.frames
    t0 = time.perf_counter()
    p.train(blocking=True)
    elapsed = time.perf_counter() - t0
    # 60 steps, redraw_every=1: without the time limit there would be ~60 frames
    assert p.frames - before <= 2 + elapsed * 2.0 + 1


def test_frames_are_spaced_by_the_cpu_time_they_cost_not_by_waiting():
    from workbook_tools.panel.frames import Throttle

    def compute(seconds):  # CPU time of this thread, as training or drawing uses it
        end = time.thread_time() + seconds
        while time.thread_time() < end:
            pass

    throttle = Throttle(redraw_every=1, max_fps=1000)
    throttle.reset()
    with throttle.frame(1):
        time.sleep(0.2)  # a frame that waited for a core (sleeping costs no CPU)
    compute(0.01)  # a few training steps
    assert throttle.frame_due(2), "waiting must not delay the next frame"
    with throttle.frame(2):
        compute(0.05)  # a frame that costs 50 ms of CPU
    assert not throttle.frame_due(3), "training gets twice a frame's CPU time before the next frame"
    assert not throttle.frame_due(2), "and frames come at most every redraw_every steps"


def test_blocking_train_returns_the_history():
    p = make_panel(threaded=True)
    h = p.train(blocking=True)
    assert h is p.history and len(h.loss) == 3 * STEPS_PER_EPOCH


def test_stop_while_training_in_a_thread_keeps_the_history_and_weights():
    run = Recorder(delay=0.002)
    p = make_panel(run, threaded=True, max_fps=20)
    p.controls["epochs"].value = 5000  # far too long: only Stop ends it
    p.train_button.click()
    assert p.running and not p.stop_button.disabled and p.train_button.disabled
    deadline = time.monotonic() + 30
    while p.progress.value < 30 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert p.progress.value >= 30, "training did not start"
    p.train_button.click()  # ignored while running
    p.stop_button.click()
    assert p.wait(timeout=30), "Stop did not end the run"
    h = p.history
    assert h.stop_reason == "requested"
    assert 30 <= len(h.loss) < 5000 * STEPS_PER_EPOCH
    assert "stopped by you" in h.message
    assert p.message.startswith("Stopped by you") and p.message_kind == "warning"
    assert len(run.calls) == 1
    net = p.model
    assert net is run.nets[-1]
    assert any(not np.array_equal(v, run.initial[k]) for k, v in net.get_params().items()), \
        "the weights learned before Stop must be kept"
    assert not p.train_button.disabled and p.stop_button.disabled and not p.running
    # and the panel trains again afterwards
    p.controls["epochs"].value = 1
    p.train_button.click()
    assert p.wait(timeout=30)
    assert p.history.stop_reason == "completed" and len(p.history.loss) == STEPS_PER_EPOCH


@pytest.mark.parametrize("text, expected", [("", "no layer sizes"), ("8-a", "whole numbers"),
                                            ("8-0", "at least one unit")])
def test_bad_layer_text_shows_a_message_instead_of_raising(text, expected):
    run = Recorder()
    p = make_panel(run)
    p.train_button.click()
    good = p.history
    p.controls["hidden"].value = text
    p.train_button.click()  # no exception
    assert isinstance(p.error, ValueError)
    assert expected in p.message and p.message.startswith("Cannot train") and p.message_kind == "error"
    assert "Traceback" not in p.message_html.value and "cl-panel-msg-error" in p.message_html.value
    assert p.history is good, "a failed run keeps the last good one"
    assert not p.train_button.disabled


def test_error_in_a_threaded_run_is_reported_too():
    p = make_panel(threaded=True)
    p.controls["hidden"].value = ""
    p.train()
    assert p.wait(timeout=30)
    assert p.history is None and isinstance(p.error, ValueError) and "no layer sizes" in p.message


def test_divergence_stops_the_run_and_says_so():
    p = make_panel()
    p.controls["lr"].value = 1e6
    p.controls["activation"].value = "relu"
    p.controls["epochs"].value = 50
    p.train_button.click()
    h = p.history
    assert h.stop_reason == "diverged" and len(h.loss) < 50 * STEPS_PER_EPOCH
    assert p.message.startswith("Training diverged") and "learning rate" in p.message
    assert p.message_kind == "error" and p.error is None
    assert bytes(p.plot.value).startswith(PNG)


def test_early_stopping_is_reported():
    def run(values, callbacks):
        rng = np.random.default_rng(0)
        net = cl.mlp([2, 6, 3], rng=rng, activation="tanh")
        return cl.train(net, TRAIN, VAL, lr=values["lr"], epochs=200, batch_size=10, rng=rng,
                        val_every=1, callbacks=[cl.EarlyStopping(2), *callbacks])

    p = TrainingPanel({"lr": LogSlider(0.5, 1e-3, 1.0)}, run=run, threaded=False)
    p.train_button.click()
    assert p.history.stop_reason == "early_stopping"
    assert p.message.startswith("Early stopping") and p.model is not None


def test_run_that_ignores_the_callbacks_gets_a_warning():
    def run(values, callbacks):
        rng = np.random.default_rng(0)
        net = cl.mlp([2, 4, 3], rng=rng)
        return cl.train(net, TRAIN, lr=values["lr"], epochs=1, rng=rng)

    p = TrainingPanel({"lr": LogSlider(0.1, 1e-3, 1.0)}, run=run, threaded=False)
    p.train_button.click()
    assert p.history is not None and p.message_kind == "warning" and "callbacks" in p.message


def test_run_must_return_a_history():
    p = TrainingPanel({"lr": LogSlider(0.1, 1e-3, 1.0)}, run=lambda values, callbacks: 42, threaded=False)
    p.train_button.click()
    assert isinstance(p.error, TypeError) and "History" in p.message


def test_extra_view_gets_the_model_and_its_errors_do_not_stop_training():
    seen = []

    def extra(ax, model):
        seen.append(model)
        if len(seen) == 3:
            raise RuntimeError("drawing bug")
        plot_decision_boundary(model, *TRAIN, ax=ax, resolution=30)

    run = Recorder()
    p = make_panel(run, extra_view=extra, extra_title="boundary", redraw_every=6)
    p.train_button.click()
    assert p.history.stop_reason == "completed" and p.error is None
    assert len(seen) >= 3 and all(m is run.nets[-1] for m in seen)


def test_show_trains_once_with_the_defaults_and_draws_a_static_figure(capsys):
    run = Recorder()
    p = make_panel(run, extra_view=lambda ax, model: plot_decision_boundary(model, *TRAIN, ax=ax, resolution=30))
    p.show()
    assert len(run.calls) == 1 and run.calls[0]["epochs"] == 3
    assert p.history.stop_reason == "completed"
    fig = p.static_figure()
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert fig._suptitle.get_text() == "lr=0.1, epochs=3, hidden=6, activation=tanh, shuffle=True"
    fig.savefig(__import__("io").BytesIO(), format="png")
    p.show(train=False)
    assert len(run.calls) == 1


def test_retraining_replaces_the_figure_beside_the_panel_with_the_last_frame():
    import base64

    class Handle:
        def update(self, obj, raw=False):
            self.obj, self.raw = obj, raw

    p = make_panel(Recorder())
    p._static_handle = handle = Handle()  # what show() keeps from display(..., display_id=True)
    p.controls["lr"].value = 0.3
    p.train_button.click()
    assert handle.raw and WIDGET_VIEW in handle.obj  # one output: the live panel, and the figure for exports
    assert base64.b64decode(handle.obj["image/png"]) == p.plot.value and p.plot.value[:4] == b"\x89PNG"
    assert handle.obj["text/plain"].startswith("[training panel")


def test_show_puts_the_figure_into_the_panels_own_output(monkeypatch):
    import IPython.display

    shown = []

    class Handle:
        def update(self, obj, raw=False):
            shown.append(("update", obj, raw))

    def display(obj, display_id=False, **kwargs):
        shown.append(("display", obj, display_id))
        return Handle()

    monkeypatch.setattr(IPython.display, "display", display)
    p = make_panel(Recorder())
    p.show()
    assert [s[0] for s in shown] == ["display", "update"]  # nothing displayed beside the panel
    assert shown[0][1] is p and shown[0][2] is True
    _, bundle, raw = shown[1]
    assert raw and WIDGET_VIEW in bundle and bundle["image/png"]


def test_show_raises_when_the_default_values_cannot_train():
    p = make_panel()
    p.controls["hidden"].value = ""
    with pytest.raises(ValueError, match="no layer sizes"):
        p.show()


def test_static_figure_before_any_run_and_without_extra_view():
    p = make_panel()
    fig = p.static_figure()
    assert len(fig.axes) == 2 and fig._suptitle is None


def test_baseline_is_pinned_and_drawn():
    p = make_panel()
    with pytest.raises(ValueError, match="no run"):
        p.set_baseline()
    assert p.baseline_button.disabled
    p.train_button.click()
    assert not p.baseline_button.disabled
    first = p.history
    p.baseline_button.click()
    assert p.baseline == (first, "baseline") and "Pinned" in p.message
    p.controls["lr"].value = 0.01
    p.train_button.click()
    fig = p.static_figure()
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "baseline train" in labels and "train" in labels
    p.clear_baseline()
    assert p.baseline is None


def test_panel_displays_as_its_widget():
    p = make_panel()
    bundle = p._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == p.widget.model_id
    assert bundle["text/plain"].startswith("[training panel: lr, epochs")


def test_no_pyplot_figures_pile_up():
    import matplotlib.pyplot as plt

    plt.close("all")
    p = make_panel()
    p.train_button.click()
    p.static_figure()
    p.show()
    assert plt.get_fignums() == []


def test_live_frames_are_drawn_off_the_main_thread():
    names = []

    def extra(ax, model):
        names.append(threading.current_thread().name)
        ax.plot([0, 1])

    p = make_panel(threaded=True, extra_view=extra)
    p.train()
    assert p.wait(timeout=30)
    assert "TrainingPanel" in names


# --------------------------------------------------------------------------- budgets
def _fits_number(message):
    import re

    match = re.search(r"at most about ([\d,]+) hidden units fit", message)
    assert match, message
    return int(match.group(1).replace(",", ""))


def test_budget_refuses_a_run_that_does_not_fit_and_names_what_fits():
    estimate = mlp_estimate(inputs=784, outputs=10, n_train=60_000, n_val=10_000, batch_size=32, epochs=5)
    cost = estimate({"hidden": "100000"})
    budget = Budget(memory_share=0.5, max_step_seconds=1e9)  # memory only: machine speed must not matter
    with pytest.raises(BudgetError) as err:
        budget.check(cost, available=4.6e9)
    message = str(err.value)
    assert message.startswith("784-100000-10 needs about ") and "GB" in message
    assert "parameters, gradients and optimiser state: 1.9 GB" in message  # 3 x 79.5M x 8 bytes
    assert "4.6 GB are free and a panel may use half of that" in message
    n = _fits_number(message)
    unit = 10 ** (len(str(n)) - 2)
    options = dict(batch_size=32, n_train=60_000, n_val=10_000, epochs=5)
    assert mlp_cost([784, n, 10], **options).bytes <= 2.3e9 < mlp_cost([784, n + unit, 10], **options).bytes
    # the same setting fits a machine with enough memory
    budget.check(cost, available=100 * cost.bytes)


def test_mlp_cost_counts_parameters_three_times_and_every_part():
    cost = mlp_cost([2, 8, 8, 2], batch_size=200, n_train=200, n_val=1000, epochs=300, val_every=10, grid=120)
    parts = dict(cost.parts)
    assert parts["parameters, gradients and optimiser state"] == 3 * cl.count_params([2, 8, 8, 2]) * 8
    assert set(parts) == {"parameters, gradients and optimiser state", "activations of a batch of 200",
                          "the validation in chunks of 1,000", "the 120×120 decision-boundary grid"}
    assert cost.bytes == sum(parts.values()) and cost.what == "2-8-8-2"
    assert 0 < cost.step_seconds < cost.seconds
    wider = mlp_cost([2, 80, 80, 2], batch_size=200, n_train=200, n_val=1000, epochs=300, val_every=10, grid=120)
    assert wider.bytes > cost.bytes and wider.seconds > cost.seconds
    assert mlp_cost([2, 8, 2], batch_size=200, n_train=200, epochs=600).seconds > \
        mlp_cost([2, 8, 2], batch_size=200, n_train=200, epochs=300).seconds


def test_budget_refuses_steps_too_long_for_stop():
    with pytest.raises(BudgetError, match="Stop can only act between steps"):
        Budget(max_step_seconds=5).check(Cost(bytes=1e3, seconds=600, what="784-8000-10", step_seconds=60),
                                         available=1e9)
    Budget(max_step_seconds=5).check(Cost(bytes=1e3, seconds=600, step_seconds=1), available=1e9)
    with pytest.raises(ValueError, match="memory_share"):
        Budget(memory_share=1.5)


def test_available_memory_is_a_plausible_number_of_bytes():
    free = available_memory()
    total = __import__("os").sysconf("SC_PHYS_PAGES") * __import__("os").sysconf("SC_PAGE_SIZE")
    assert 0 < free <= total


def moons_estimate():
    return mlp_estimate(inputs=2, outputs=3, n_train=len(TRAIN[0]), n_val=len(VAL[0]), batch_size=10)


def test_panel_refuses_an_over_budget_setting_before_training():
    run = Recorder()
    p = make_panel(run, estimate=moons_estimate())
    p.train_button.click()
    good = p.history
    p.controls["hidden"].value = "2000000000"  # 10^10 weights, 240 GB with their gradients: fits no machine
    assert p.message_kind == "warning" and "Train would refuse" in p.message, "warned as soon as typed"
    p.train_button.click()
    assert len(run.calls) == 1, "an over-budget run must not start"
    assert isinstance(p.error, BudgetError) and p.message_kind == "error"
    assert p.message.startswith("Cannot train with") and "2-2000000000-3 needs about" in p.message
    assert "are free" in p.message and 0 < _fits_number(p.message) < 2_000_000_000
    assert p.history is good and not p.running and not p.train_button.disabled
    with pytest.raises(BudgetError):
        p.show()  # a notebook whose defaults do not fit fails loudly


def test_panel_accepts_a_normal_setting_and_shows_the_estimate_before_the_first_frame():
    statuses = []

    class Peek(Recorder):
        def __call__(self, values, callbacks):
            statuses.append((p.status.value, p.frames))
            return super().__call__(values, callbacks)

    p = make_panel(Peek(), estimate=lambda values: Cost(bytes=1e6, seconds=4.2, what="2-6-3"))
    frames_before = p.frames
    assert p.train(blocking=True) is not None and p.error is None
    assert statuses == [("starting · about 4 s", frames_before)]
    p = make_panel(Peek(), estimate=moons_estimate())
    p.train(blocking=True)
    assert p.history.stop_reason == "completed" and p.error is None
    assert statuses[-1][0] in ("starting · under a second", "starting · about 1 s")


def test_estimate_must_return_a_cost():
    p = make_panel(estimate=lambda values: 123)
    p.train_button.click()
    assert isinstance(p.error, TypeError) and "estimate must return a Cost" in p.message
    with pytest.raises(TypeError, match="estimate"):
        make_panel(estimate="big")


def test_typed_layer_sizes_are_capped():
    text = Text("8-8", label="hidden sizes", sizes=True)
    text.check("hidden sizes", "4096-16")
    with pytest.raises(ValueError, match=r"hidden sizes: 100,000 units in one layer .* \(at most 4,096 per layer\)"):
        text.check("hidden sizes", "100000")
    with pytest.raises(ValueError, match=r"17 layers .* \(at most 16\)"):
        text.check("hidden sizes", "-".join(["2"] * 17))
    with pytest.raises(ValueError, match="whole numbers"):
        text.check("hidden sizes", "8-")
    with pytest.raises(ValueError, match="at most 10 per layer"):
        Text("20", max_units=10)
    Text("anything at all").check("free text", "x" * 1000)  # without sizes=True: the run's business
    run = Recorder()
    p = TrainingPanel({**make_panel().controls, "hidden": Text("6", label="hidden sizes", max_units=50)},
                      run=run, threaded=False, max_fps=None, dpi=40)
    p.controls["hidden"].value = "51"
    p.train_button.click()
    assert run.calls == [] and "hidden sizes: 51 units" in p.message and p.message_kind == "error"


# --------------------------------------------------------------------------- a cell run again
def test_a_new_panel_with_the_same_key_stops_the_older_panels_run():
    old = make_panel(Recorder(delay=0.002), threaded=True, max_fps=20, title="moons")
    old.controls["epochs"].value = 5000
    old.train()
    deadline = time.monotonic() + 30
    while old.progress.value < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert old.running
    other = make_panel(title="another panel")  # another key: leaves it alone
    assert old.running
    new = make_panel(title="moons")  # the same cell run again
    assert old.wait(timeout=30) and not old.running, "the older panel's run went on"
    assert old.history.stop_reason == "requested" and "newer panel" in old.history.message
    assert old.message.startswith("Stopped by a newer panel") and len(old.history.loss) < 5000 * STEPS_PER_EPOCH
    assert not new.running and not other.running
    new.train_button.click()
    assert new.history.stop_reason == "completed"


def test_the_registry_does_not_keep_runners_alive():
    import gc

    key = ("test", "registry")
    panel_runner.claim(key, panel_runner.Runner())
    gc.collect()
    assert key not in panel_runner._RUNNERS


# --------------------------------------------------------------------------- plots
def _history():
    rng = np.random.default_rng(0)
    net = cl.mlp([2, 6, 3], rng=rng)
    return cl.train(net, TRAIN, VAL, lr=0.3, epochs=4, batch_size=10, rng=rng), net


def test_plot_history_draws_train_and_val_for_loss_and_accuracy():
    h, _ = _history()
    axes = plot_history(h)
    assert len(axes) == 2
    for ax in axes:
        labels = ax.get_legend_handles_labels()[1]
        assert labels == ["train", "val"]
    x, _ = axes[0].lines[-1].get_data()  # the validation curve, in epochs
    assert np.allclose(x, [1, 2, 3, 4])
    # overlay a second run on the same axes
    plot_history(h, ax=axes, label="baseline", color="0.6")
    assert "baseline val" in axes[1].get_legend_handles_labels()[1]
    ax = Figure().subplots()
    plot_history(h, ax, metrics="loss", x="step")
    assert ax.get_xlabel() == "step"
    with pytest.raises(ValueError):
        plot_history(h, ax, metrics=("loss", "acc"))
    with pytest.raises(ValueError):
        plot_history(h, ax, metrics="f1")


def test_plot_history_copes_with_empty_and_diverged_runs():
    axes = plot_history(cl.History(), Figure().subplots(1, 2))
    assert any("no training" in t.get_text() for t in axes[0].texts)
    h = cl.History(steps_per_epoch=5, step=[1, 2, 3, 4], loss=[1.0, 0.9, 1e30, float("nan")],
                   acc=[0.3, 0.4, 0.3, 0.3], stop_reason="diverged")
    axes = plot_history(h, Figure().subplots(1, 2))
    assert axes[0].get_ylim()[1] < 10, "a blow-up must not flatten the curve"
    assert any("diverged" in t.get_text() for t in axes[0].texts)


def test_smooth_curve():
    assert np.allclose(smooth_curve([1, 2, 3, 4], 2), [1, 1.5, 2.5, 3.5])
    out = smooth_curve([1, np.nan, 3], 2)
    assert out[0] == 1 and np.isnan(out[1]) and out[2] == 3


def test_plot_decision_boundary_regions_points_and_probabilities():
    h, net = _history()
    ax = plot_decision_boundary(net, *TRAIN, resolution=40)
    assert len(ax.collections) >= 2  # filled regions and the points
    binary = cl.mlp([2, 4, 1], rng=np.random.default_rng(0), output="sigmoid")
    plot_decision_boundary(binary, TRAIN[0], TRAIN[1] % 2, ax=Figure().subplots(), proba=True, resolution=30)
    plot_decision_boundary(lambda X: (X[:, 0] > 0).astype(int), TRAIN[0], ax=Figure().subplots(), resolution=20)
    with pytest.raises(ValueError, match="2-D"):
        plot_decision_boundary(net, np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="two classes"):
        plot_decision_boundary(net, *TRAIN, ax=Figure().subplots(), proba=True, resolution=10)


def test_show_weight_images_tiles_one_image_per_unit():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((784, 10))
    im = show_weight_images(W, Figure().subplots())
    assert im.get_array().shape == (3 * 29 - 1, 4 * 29 - 1)  # 10 units -> 4 columns, 3 rows
    net = cl.mlp([784, 16, 10], rng=rng)
    im = show_weight_images(net, Figure().subplots(), ncols=8)
    assert im.get_array().shape == (2 * 29 - 1, 8 * 29 - 1)
    assert np.nanmax(np.abs(im.get_array())) == pytest.approx(1.0)  # each image scaled to [-1, 1]
    im = show_weight_images(net.layers[0], Figure().subplots(), scale="shared", max_images=4)
    assert im.get_array().shape == (2 * 29 - 1, 2 * 29 - 1)
    show_weight_images(rng.standard_normal((12, 3)), Figure().subplots(), shape=(3, 4))
    with pytest.raises(ValueError, match="square"):
        show_weight_images(rng.standard_normal((12, 3)), Figure().subplots())


def test_a_baseline_does_not_fix_the_axes_for_the_next_run():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from workbook_tools.plots import plot_history

    def history(acc, loss):
        h = cl.History(steps_per_epoch=10)
        h.step = list(range(1, 21))
        h.acc, h.loss = list(acc), list(loss)
        h.val_step, h.val_acc, h.val_loss = [10, 20], [acc[9], acc[-1]], [loss[9], loss[-1]]
        return h

    weak = history(np.linspace(0.1, 0.5, 20), np.linspace(5.0, 2.0, 20))
    strong = history(np.linspace(0.8, 0.97, 20), np.linspace(0.6, 0.1, 20))
    fig, axes = plt.subplots(1, 2)
    plot_history(weak, axes, color="0.6", label="baseline")
    plot_history(strong, axes)
    (loss_lo, _), (acc_lo, acc_hi) = axes[0].get_ylim(), axes[1].get_ylim()
    plt.close(fig)
    assert acc_hi >= 0.97 and acc_lo <= 0.1
    assert loss_lo <= 0.1


def test_control_names_with_spaces_make_valid_css_classes():
    panel = TrainingPanel({"learning rate": LogSlider(0.1, 1e-3, 1.0)}, lambda values, callbacks: None)
    classes = panel.controls["learning rate"]._dom_classes
    assert "cl-panel-control-learning-rate" in classes
    assert all(" " not in c for c in classes)
