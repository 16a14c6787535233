"""How soon does a training panel answer Train, on a quiet machine and with a busy core?

The panel of notebook 07 (two moons, 200 points, 2-8-8-2 tanh, full batch, momentum
0.9, 300 epochs, validation on 1000 points every 10 steps, the live decision
boundary at resolution 120, with its budget estimate) is built and trained once,
as ``show()`` would do; then it is retrained ``--reps`` times from Python, as the
Train button does, and two delays are measured from the call to ``train()``:

* **first frame**: until the first live frame (a new PNG) is in the plot widget;
* **retrain**: until the run is over and the panel is idle again (its last frame
  and its end-of-run message included).

The same is measured again while one other process keeps a core busy
(``python3 -c 'while 1: pass'``, started here and stopped at the end): on a
two-core machine that is the case of a colleague's job or a second kernel.
Medians and maxima are printed. Outside a Jupyter kernel the widgets send nothing,
so this measures the kernel's side: a browser adds the transfer of each PNG.

Usage (from the repository root)::

    python -m benchmarks.panel_latency              # quiet, then one busy core
    python -m benchmarks.panel_latency --reps 10 --no-busy
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

import course_lib as cl  # noqa: E402
from workbook_tools.panel import (  # noqa: E402
    Dropdown, FloatSlider, IntSlider, LogSlider, Text, TrainingPanel, mlp_estimate,
)
from workbook_tools.plots import plot_decision_boundary  # noqa: E402

FIRST_FRAME_GOAL, RETRAIN_GOAL = 0.5, 1.0


def moons_panel():
    """The panel of notebook 07, on the same data."""
    X, y = cl.data.make_moons(200, noise=0.2, rng=np.random.default_rng(0))
    X_val, y_val = cl.data.make_moons(1000, noise=0.2, rng=np.random.default_rng(1))

    def run(values, callbacks):
        net = cl.mlp([2, *cl.parse_sizes(values["hidden"]), 2], rng=np.random.default_rng(values["seed"]),
                     activation=values["activation"])
        history = cl.train(net, (X, y), (X_val, y_val), optimizer=cl.Momentum(values["lr"], momentum=0.9),
                           epochs=values["epochs"], batch_size=len(X), shuffle=False, l2=values["l2"],
                           val_every=10, callbacks=callbacks)
        return history, net

    def live_boundary(ax, net):
        plot_decision_boundary(net, X, y, ax=ax, proba=True, resolution=120, point_size=10)

    return TrainingPanel(
        controls={
            "activation": Dropdown("tanh", ["tanh", "sigmoid", "relu"]),
            "hidden": Text("8-8", label="hidden sizes", sizes=True),
            "l2": FloatSlider(0.0, 0.0, 0.01, step=0.0005, label="L2 λ"),
            "lr": LogSlider(0.3, 0.01, 3.0, label="learning rate"),
            "epochs": IntSlider(300, 10, 5000, step=10),
            "seed": IntSlider(0, 0, 9),
        },
        run=run, extra_view=live_boundary, extra_title="decision boundary",
        title="Decision boundary on the two moons", key=("benchmark", time.monotonic()),
        estimate=mlp_estimate(inputs=2, outputs=2, n_train=len(X), n_val=len(X_val), batch_size=len(X),
                              val_every=10, grid=120),
    )


def retrain_once(panel, seed):
    """Seconds from train() to the first new frame, and to the end of the run."""
    first = threading.Event()
    stamp = {}

    def on_frame(change):
        if not first.is_set():
            stamp["frame"] = time.perf_counter()
            first.set()

    panel.controls["seed"].value = seed  # a different run each time, as a student would
    panel.plot.observe(on_frame, names="value")
    try:
        start = time.perf_counter()
        panel.train(blocking=False)
        if not panel.wait(timeout=60):
            raise RuntimeError("the run did not end within 60 s")
        end = time.perf_counter()
    finally:
        panel.plot.unobserve(on_frame, names="value")
    if panel.error is not None:
        raise RuntimeError(f"the run failed: {panel.message}")
    return stamp["frame"] - start, end - start


def measure(reps):
    panel = moons_panel()
    panel.train(blocking=True)  # what show() does before anyone presses Train
    times = [retrain_once(panel, seed % 10) for seed in range(1, reps + 1)]
    return [t[0] for t in times], [t[1] for t in times]


def report(name, firsts, totals):
    def fmt(xs, goal):
        ok = "ok" if max(xs) <= goal else f"over {goal} s"
        return f"median {statistics.median(xs):.3f} s, max {max(xs):.3f} s ({ok})"

    print(f"{name:>10}  first frame: {fmt(firsts, FIRST_FRAME_GOAL)}")
    print(f"{'':>10}  retrain:     {fmt(totals, RETRAIN_GOAL)}")
    sys.stdout.flush()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="timed retrains per condition (default 5)")
    parser.add_argument("--no-busy", action="store_true", help="measure the quiet machine only")
    args = parser.parse_args(argv)
    report("quiet", *measure(args.reps))
    if args.no_busy:
        return
    busy = subprocess.Popen([sys.executable, "-c", "while 1: pass"])
    try:
        time.sleep(0.5)  # let it take its core
        report("busy core", *measure(args.reps))
    finally:
        busy.kill()
        busy.wait()


if __name__ == "__main__":
    main()
