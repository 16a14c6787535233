"""Static plots the notebooks and the live panel share.

Every function draws into an Axes you pass (``ax=``) or into a new figure, and
returns what it drew on, so the same call works in a notebook cell, in a report
and inside :class:`workbook_tools.panel.TrainingPanel`'s live frames::

    import matplotlib.pyplot as plt
    from workbook_tools.plots import plot_history, plot_decision_boundary, show_weight_images

    axes = plot_history(history)                          # loss | accuracy, train vs val
    plot_history(baseline, ax=axes, color="0.6", label="baseline")   # overlay a second run

    fig, ax = plt.subplots()
    plot_decision_boundary(net, X, y, ax=ax)              # 2-D inputs: regions + points

    show_weight_images(net.layers[0])                     # first layer as 28x28 images

Curves are plotted against epochs (fractional: step / steps per epoch), so runs
with different batch sizes compare on the same axis; pass ``x="step"`` for steps.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["plot_history", "plot_decision_boundary", "show_weight_images", "smooth_curve", "grid_chunk_rows",
           "evaluate_in_chunks"]

TRAIN_COLOR = "tab:blue"
VAL_COLOR = "tab:orange"
_METRIC_LABELS = {"loss": "loss", "acc": "accuracy"}
# The activations of one chunk of a decision-boundary grid may take this much memory: a
# wide network sees the grid a few hundred points at a time instead of all at once
# (120 x 120 points through a layer of 100,000 units would be 11.5 GB in one go).
GRID_CHUNK_BYTES = 32 << 20
# Points at a time for a model whose layer sizes are unknown (a plain function).
GRID_CHUNK_DEFAULT = 4096
MAX_RESOLUTION = 2000


def _new_axes(n: int, width: float = 4.2, height: float = 3.2):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, n, figsize=(width * n, height), layout="constrained", squeeze=False)
    return list(axes[0])


def _axes_list(ax, n: int):
    """``ax`` as a list of n Axes: None makes a figure, one Axes is used for n == 1."""
    if ax is None:
        return _new_axes(n)
    if hasattr(ax, "plot"):
        ax = [ax]
    ax = list(np.ravel(np.asarray(ax, dtype=object)))
    if len(ax) != n:
        raise ValueError(f"need {n} Axes (one per metric), got {len(ax)}")
    return ax


def smooth_curve(values, window: int) -> np.ndarray:
    """Trailing moving average; the first points average what exists so far.

    Non-finite values (a diverged loss) stay NaN and do not leak into later points.
    """
    v = np.asarray(values, dtype=float)
    window = max(1, int(window))
    if window == 1 or v.size == 0:
        return v.copy()
    bad = ~np.isfinite(v)
    clean = np.where(bad, 0.0, v)
    csum = np.concatenate([[0.0], np.cumsum(clean)])
    count = np.concatenate([[0], np.cumsum(~bad)])
    idx = np.arange(1, v.size + 1)
    lo = np.maximum(0, idx - window)
    n = count[idx] - count[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (csum[idx] - csum[lo]) / n
    out[bad] = np.nan
    return out


def plot_history(history, ax=None, *, metrics=("loss", "acc"), label=None, color=None, smooth=True,
                 x="epoch", total_epochs=None, show_stop=True, legend=True):
    """Loss and accuracy curves of a run: training (per step) and validation.

    Parameters
    ----------
    history : course_lib.History
    ax : None (new figure), one Axes (one metric), or a sequence of Axes (one per metric)
    metrics : "loss", "acc", or both (the default, side by side)
    label : prefix for the legend, e.g. "baseline" -> "baseline train", "baseline val"
    color : one colour for both curves of this run (validation dashed), for overlays;
        default: training blue, validation orange
    smooth : draw the per-step training curve faintly with a moving average on top
        (mini-batch losses are noisy); False draws the raw steps only
    x : "epoch" (fractional epochs) or "step"
    total_epochs : fix the x range to [0, total_epochs] (the live panel uses this so
        the curves grow across a fixed axis)
    show_stop : mark an early stop, a divergence or a stop by the user with a dotted line

    Returns the list of Axes, in the order of ``metrics``.
    """
    if not hasattr(history, "steps_per_epoch"):
        raise TypeError("plot_history needs a History (what train() or Trainer.fit returns), "
                        f"got {type(history).__name__}")
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    for m in metrics:
        if m not in _METRIC_LABELS:
            raise ValueError(f"unknown metric {m!r}; choose 'loss' or 'acc'")
    if x not in ("epoch", "step"):
        raise ValueError(f"x must be 'epoch' or 'step', got {x!r}")
    axes = _axes_list(ax, len(metrics))
    spe = max(int(history.steps_per_epoch or 0), 1)
    scale = spe if x == "epoch" else 1
    steps = np.asarray(history.step, dtype=float)
    xs = steps / scale
    vxs = np.asarray(history.val_step, dtype=float) / scale
    prefix = f"{label} " if label else ""
    tcolor = color or TRAIN_COLOR
    vcolor = color or VAL_COLOR
    # about a fifth of an epoch, wider on long runs (a few hundred points survive),
    # but never so wide that the start of a run is flat
    window = int(min(max(1, spe // 5, len(steps) // 300), 1000, max(1, len(steps) // 10)))

    for metric, a in zip(metrics, axes):
        train = np.asarray(getattr(history, metric), dtype=float)
        train = np.where(np.isfinite(train), train, np.nan)
        val = np.asarray(getattr(history, "val_" + metric), dtype=float)
        val = np.where(np.isfinite(val), val, np.nan)
        if train.size:
            if smooth and window > 1:
                # with one instance per step the accuracy is 0 or 1: its raw line
                # would be a solid band hiding everything, so show the mean only
                if not np.isin(train[np.isfinite(train)], (0.0, 1.0)).all():
                    a.plot(xs, train, color=tcolor, alpha=0.2, lw=0.8)
                a.plot(xs, smooth_curve(train, window), color=tcolor, lw=1.8, label=f"{prefix}train")
            else:
                a.plot(xs, train, color=tcolor, lw=1.5, label=f"{prefix}train")
        if val.size:
            marker = "o" if val.size <= 40 else None  # markers only while they stay readable
            a.plot(vxs, val, color=vcolor, lw=1.8, ls="--", marker=marker, ms=3.5, label=f"{prefix}val")
        a.set_xlabel(x)
        a.set_title(_METRIC_LABELS[metric], fontsize="medium")
        a.grid(True, alpha=0.3)
        # limits from everything on the axes: a baseline drawn first must not fix
        # the range and push this run's curves off the chart
        a.relim()
        a.autoscale(enable=True, axis="y")
        a.autoscale_view(scalex=False)
        if metric == "loss" and train.size:
            _limit_loss_axis(a, train, val)
        if metric == "acc":
            lo, hi = a.get_ylim()
            a.set_ylim(max(lo, -0.02), min(max(hi, 0.0), 1.02))
        if total_epochs is not None:
            a.set_xlim(0, total_epochs * (spe if x == "step" else 1))
        if show_stop and history.stop_reason != "completed" and steps.size:
            where = {"early_stopping": "early stop", "diverged": "diverged",
                     "requested": "stopped", "interrupted": "interrupted"}.get(history.stop_reason)
            if where:
                a.axvline(steps[-1] / scale, color=tcolor if color else "0.3", ls=":", lw=1.2)
                if metric == metrics[0]:
                    a.annotate(where, (steps[-1] / scale, 1.0), xycoords=("data", "axes fraction"),
                               xytext=(-3, -3), textcoords="offset points", ha="right", va="top",
                               fontsize="small", color="0.3")
            if history.stop_reason == "early_stopping" and history.best_step is not None:
                a.axvline(history.best_step / scale, color=vcolor, ls=":", lw=1.0, alpha=0.8)
        if not train.size and not val.size and not a.lines:
            a.text(0.5, 0.5, "no training yet", transform=a.transAxes, ha="center", va="center", color="0.5")
        if legend and a.get_legend_handles_labels()[0]:
            # a fixed place: loc="best" is slow on long curves (and jumps around in live frames)
            a.legend(fontsize="small", loc="upper right" if metric == "loss" else "lower right")
    return axes


def _limit_loss_axis(a, train, val):
    """Start the loss axis at 0 and keep a blow-up from flattening the rest."""
    finite = train[np.isfinite(train)]
    if not finite.size:
        return
    head = finite[: max(1, min(20, finite.size // 10 or 1))]
    cap = 3.0 * float(np.max(head))
    allv = np.concatenate([finite, val[np.isfinite(val)]])
    top = float(np.max(allv))
    lo, hi = a.get_ylim()
    if top > cap > 0:
        a.set_ylim(0, cap)
    else:
        a.set_ylim(min(0.0, lo), hi)


def _predictor(model):
    if hasattr(model, "predict"):
        return model.predict
    if callable(model):
        return model
    raise TypeError("model must have a predict(X) method or be a function X -> labels")


def grid_chunk_rows(sizes, itemsize: int = 8, budget: int | None = None) -> int:
    """How many grid points to send through a network with layer ``sizes`` (inputs first) at once.

    A forward pass keeps every layer's output and makes temporaries of the widest
    layer (counted twice, as :mod:`workbook_tools.panel.budget` does); their bytes
    per point times the rows must stay within ``budget`` (default
    :data:`GRID_CHUNK_BYTES`). At least one row.
    """
    budget = GRID_CHUNK_BYTES if budget is None else budget
    sizes = [int(n) for n in sizes]
    per_point = (sum(sizes) + 2 * max(sizes[1:] or sizes)) * int(itemsize)
    return max(1, int(budget) // per_point)


def _chunk_rows_for(model) -> int:
    """:func:`grid_chunk_rows` for a course_lib network; a fixed number for anything else."""
    params = getattr(model, "params", None)
    weights = [w for w in params.values() if np.ndim(w) == 2] if isinstance(params, dict) else []
    if not weights:
        return GRID_CHUNK_DEFAULT
    sizes = [np.shape(weights[0])[0]] + [np.shape(w)[1] for w in weights]
    return grid_chunk_rows(sizes, np.dtype(weights[0].dtype).itemsize)


def evaluate_in_chunks(fn, points: np.ndarray, rows: int) -> np.ndarray:
    """``fn(points)``, computed ``rows`` points at a time and joined (so memory follows ``rows``)."""
    if rows >= len(points):
        return np.asarray(fn(points))
    return np.concatenate([np.asarray(fn(points[s:s + rows])) for s in range(0, len(points), rows)])


def _check_resolution(resolution) -> int:
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) \
            or not 2 <= resolution <= MAX_RESOLUTION:
        raise ValueError(f"resolution is the number of grid points per axis, a whole number from 2 to "
                         f"{MAX_RESOLUTION}; got {resolution!r} (200 is plenty for a figure)")
    return int(resolution)


def plot_decision_boundary(model, X, y=None, ax=None, *, resolution=200, padding=0.1, alpha=0.3,
                           cmap="tab10", proba=False, point_size=18, title=None):
    """Predicted class regions of a 2-D classifier as filled contours, with the points.

    Parameters
    ----------
    model : a network (anything with ``predict(X)``, or a function X -> labels)
    X : (n, 2) inputs; y : (n,) integer labels for colouring the points (optional)
    ax : Axes to draw on (default: a new figure)
    resolution : grid points per axis (2 to 2000); the grid goes through the
        model in chunks (:func:`grid_chunk_rows`), so a wide network needs no
        memory for all of it at once
    padding : margin around the data, as a fraction of its range
    proba : for two classes, shade the probability of class 1 (blue to red)
        with the 0.5 line, instead of flat regions
    Returns the Axes.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision boundaries need 2-D inputs (n, 2), got shape {X.shape}")
    resolution = _check_resolution(resolution)
    if ax is None:
        ax = _new_axes(1, width=4.6, height=4.0)[0]
    lo, hi, gx, gy, grid = _decision_grid(model, X, resolution, padding)
    y_arr = None if y is None else np.asarray(y).astype(int)
    if proba:
        point_colors = _shade_probability(ax, model, gx, gy, grid, y_arr)
    else:
        point_colors = _shade_regions(ax, model, gx, gy, grid, y_arr, cmap, alpha)
    if point_colors is None:
        ax.scatter(X[:, 0], X[:, 1], s=point_size, c="k", alpha=0.6)
    else:
        ax.scatter(X[:, 0], X[:, 1], s=point_size, c=point_colors, edgecolors="k", linewidths=0.5)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    # both axes are input features on the same scale: a circle should look round
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title, fontsize="medium")
    return ax


def _decision_grid(model, X, resolution, padding):
    """(lo, hi, gx, gy, points): the grid over the data and its margin, points in the model's dtype."""
    lo, hi = X.min(axis=0), X.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - padding * span, hi + padding * span
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    dtype = getattr(model, "dtype", None)
    if dtype is not None:
        grid = grid.astype(dtype, copy=False)
    return lo, hi, gx, gy, grid


def _shade_probability(ax, model, gx, gy, grid, y_arr):
    """The probability of class 1 from blue to red, with its 0.5 line; returns the points' colours."""
    if not hasattr(model, "predict_proba"):
        raise TypeError("proba=True needs a model with predict_proba(X)")
    P = np.asarray(evaluate_in_chunks(model.predict_proba, grid, _chunk_rows_for(model)), dtype=float)
    if P.ndim == 2:
        if P.shape[1] != 2:
            raise ValueError(f"proba=True shades two classes; this model has {P.shape[1]}")
        P = P[:, 1]
    P = P.reshape(gx.shape)
    ax.contourf(gx, gy, P, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6, vmin=0, vmax=1)
    ax.contour(gx, gy, P, levels=[0.5], colors="k", linewidths=1.2)
    return None if y_arr is None else np.where(y_arr == 1, "tab:red", "tab:blue")


def _shade_regions(ax, model, gx, gy, grid, y_arr, cmap, alpha):
    """One flat colour per predicted class, with the lines between them; returns the points' colours."""
    import matplotlib as mpl

    cm = mpl.colormaps[cmap] if isinstance(cmap, str) else cmap
    Z = evaluate_in_chunks(_predictor(model), grid, _chunk_rows_for(model)).astype(int).reshape(gx.shape)
    k = int(getattr(model, "num_classes", 0) or 0)
    k = max(k, int(Z.max()) + 1, 0 if y_arr is None or not y_arr.size else int(y_arr.max()) + 1)
    colors = [cm(i % cm.N) for i in range(k)]
    levels = np.arange(k + 1) - 0.5
    ax.contourf(gx, gy, Z, levels=levels, colors=colors, alpha=alpha)
    if k > 1 and Z.min() != Z.max():
        ax.contour(gx, gy, Z, levels=levels[1:-1], colors="k", linewidths=0.8, alpha=0.7)
    return None if y_arr is None else [colors[c] for c in y_arr]


def _weight_matrix(W):
    """Accept an array, a Linear layer or a network (its first Linear layer)."""
    if hasattr(W, "layers"):
        W = next((l for l in W.layers if "W" in getattr(l, "params", {})), None)
        if W is None:
            raise ValueError("this network has no layer with weights")
    if hasattr(W, "params"):
        W = W.params["W"]
    return np.asarray(W, dtype=float)


def show_weight_images(W, ax=None, *, shape=None, ncols=None, max_images=100, cmap="RdBu_r",
                       scale="each", gap=1, title=None):
    """Each hidden unit's incoming weights as an image, tiled into one mosaic.

    Parameters
    ----------
    W : weights ``(n_in, n_units)`` as course_lib stores them (one column per unit),
        a ``Linear`` layer, a network (its first layer), or images ``(n, h, w)``
    ax : Axes to draw on (default: a new figure); the mosaic uses a single Axes,
        so it also fits one panel of the live view
    shape : (h, w) of one image; default: square (784 -> 28x28)
    ncols : images per row (default: about square)
    max_images : show at most this many units
    cmap : diverging map: red positive, blue negative, white zero
    scale : "each" (every image scaled by its own largest |w|: shows patterns) or
        "shared" (one scale: shows which units have large weights)
    Returns the AxesImage.
    """
    W = _weight_matrix(W) if not (isinstance(W, np.ndarray) and W.ndim == 3) else np.asarray(W, float)
    if W.ndim == 3:
        images = W
    elif W.ndim == 2:
        n_in = W.shape[0]
        if shape is None:
            side = math.isqrt(n_in)
            if side * side != n_in:
                raise ValueError(f"{n_in} inputs are not a square image: pass shape=(h, w)")
            shape = (side, side)
        if shape[0] * shape[1] != n_in:
            raise ValueError(f"shape {tuple(shape)} has {shape[0] * shape[1]} pixels, the weights have {n_in} inputs")
        images = W.T.reshape(-1, *shape)
    else:
        raise ValueError(f"W must be (n_in, n_units) or (n, h, w), got shape {W.shape}")
    if scale not in ("each", "shared"):
        raise ValueError(f"scale must be 'each' or 'shared', got {scale!r}")
    images = images[:max_images]
    n, h, w = images.shape
    if scale == "each":
        m = np.abs(images).reshape(n, -1).max(axis=1)
        images = images / np.where(m > 0, m, 1.0)[:, None, None]
        vmax = 1.0
    else:
        vmax = float(np.abs(images).max()) or 1.0
    ncols = int(ncols or math.ceil(math.sqrt(n)))
    nrows = math.ceil(n / ncols)
    mosaic = np.full((nrows * (h + gap) - gap, ncols * (w + gap) - gap), np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        mosaic[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = img
    if ax is None:
        ax = _new_axes(1, width=min(1.0 * ncols + 0.5, 10), height=min(1.0 * nrows + 0.5, 10))[0]
    import matplotlib as mpl

    cm = (mpl.colormaps[cmap] if isinstance(cmap, str) else cmap).with_extremes(bad="0.55")
    im = ax.imshow(mosaic, cmap=cm, vmin=-vmax, vmax=vmax, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize="medium")
    return im
