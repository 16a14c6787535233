"""workbook_tools: everything around the lesson.

``course_lib`` holds the course itself (numpy and the standard library only);
this package holds what serves the notebooks. It may import ``course_lib``;
``course_lib`` never imports it.

===================  ===========================================================
``panel``            live training panels: controls, Train/Stop, live curves
``plots``            the figures the notebooks share (``plot_history``, ...)
``diagrams``         drawings of small networks and of a network's computational graph
``monitor``          statistics and histograms of every layer during training (``tensorboard``: as event files)
``sweeps``           seeded runs over a grid of settings on every core
``mnist``            MNIST: download, verify, cache, the courses' splits
``progress``         a progress-bar callback
``fast``             plain SGD fused into the backward pass (BLAS ``gemm``/``ger``)
``blas``             the BLAS calls numpy does not expose
``threads``          BLAS's thread count, kept at the cores that are free
``files``            writing files atomically
``figures``          figures kept by a lesson for the report notebook to show
``tables``           result tables that render as tables (HTML, and text)
``checks``           the exercise checks, one module per notebook
``editions``         the student edition built from the solution notebooks
``workspace``        the student's workspace: kept up to date, progress, start page
``report``           notebook -> PDF report
===================  ===========================================================

The names below are imported on first use, so that ``import workbook_tools``
stays cheap (the PDF exporter loads it inside nbconvert). Importing it starts
the thread monitor of :mod:`workbook_tools.threads` (a daemon thread that does
nothing until numpy is loaded; ``WORKBOOK_THREADS=off`` switches it off).
"""
from __future__ import annotations

import importlib
import os

_EXPORTS = {
    "TrainingPanel": "panel", "LogSlider": "panel", "FloatSlider": "panel", "IntSlider": "panel",
    "Dropdown": "panel", "Toggle": "panel", "Text": "panel", "describe_values": "panel", "mlp_estimate": "panel",
    "plot_history": "plots", "plot_decision_boundary": "plots", "show_weight_images": "plots",
    "smooth_curve": "plots", "draw_network": "diagrams", "draw_computational_graph": "diagrams",
    "Monitor": "monitor",
    "sweep": "sweeps", "grid": "sweeps", "summarize": "sweeps", "format_table": "sweeps",
    "load_mnist": "mnist", "mnist_splits": "mnist", "ProgressBar": "progress",
    "FusedTrainer": "fast", "fused_train": "fast",
    "keep_figure": "figures", "show_kept": "figures", "check": "checks", "course_map": "workspace", "table": "tables",
}


from . import threads as _threads  # noqa: E402

_threads.start_monitor()


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'workbook_tools' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_EXPORTS])


def quick() -> bool:
    """Whether the notebooks run their reduced configuration (``WORKBOOK_QUICK=1``, set by the tests).

    Prints which configuration is running, so that every notebook states it. Every
    notebook's set-up cell calls it, so it also gives figures an opaque white
    background: the inline backend's is transparent, which leaves black labels on
    JupyterLab's dark theme unreadable.
    """
    _readable_figures()
    on = os.environ.get("WORKBOOK_QUICK") == "1"
    print("configuration:", "quick (WORKBOOK_QUICK=1)" if on else "full")
    return on


def _readable_figures() -> None:
    import matplotlib

    matplotlib.rcParams.update({"figure.facecolor": "white", "savefig.facecolor": "white",
                                "figure.edgecolor": "white", "savefig.edgecolor": "white"})
