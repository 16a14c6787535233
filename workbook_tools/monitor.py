"""Watching a network train: statistics and histograms of what flows through it (notebook 08).

:class:`Monitor` is a training callback. Every ``every`` steps it records the
minimum, maximum, mean, standard deviation and a histogram of

* every parameter (``W1``, ``b1``, ...: weights and biases),
* every layer's net input (the output of each convolution and dense layer,
  before its activation),
* the activations after each nonlinearity and after each pooling layer,

the last two measured on a fixed probe batch (always the same images, in
evaluation mode, so that the numbers compare across steps and no dropout mask
is drawn from the training's generator). Every ``eval_every`` steps (default:
once per epoch) it records the validation and test error. This is what the Rice
course's TensorFlow code writes as summaries (every 100 steps, errors every 1,100);
:mod:`workbook_tools.tensorboard` writes the same to TensorBoard files.
"""
from __future__ import annotations

import numpy as np

from course_lib.conv import Conv2D, MaxPool2D, Maxout
from course_lib.layers import Activation, Linear
from course_lib.training import Callback, evaluate

STATS = ("min", "max", "mean", "std")


def layer_names(model) -> list:
    """A readable name for each layer whose output is worth watching (None for the others):
    ``conv1``, ``conv1.relu``, ``pool1``, ..., ``fc1``, ``fc1.relu``, ``fc2``."""
    names, counts, last = [], {"conv": 0, "fc": 0, "pool": 0}, None
    for layer in model.layers:
        name = None
        if isinstance(layer, (Conv2D, Linear)):
            kind = "conv" if isinstance(layer, Conv2D) else "fc"
            counts[kind] += 1
            name = last = f"{kind}{counts[kind]}"
        elif isinstance(layer, (Activation, Maxout)) and last:
            name = f"{last}.{layer.name if isinstance(layer, Activation) else 'maxout'}"
        elif isinstance(layer, MaxPool2D):
            counts["pool"] += 1
            name = f"pool{counts['pool']}"
        names.append(name)
    return names


def parameter_names(model) -> dict:
    """``{"W1": "conv1 weights", "b1": "conv1 biases", ...}``: what each numbered parameter is."""
    owners = [n for layer, n in zip(model.layers, layer_names(model)) if layer.params]
    return {f"{key}{i}": f"{owner} {'weights' if key == 'W' else 'biases'}"
            for i, owner in enumerate(owners, 1) for key in ("W", "b")}


def summarize(values, bins: int = 30) -> dict:
    """min, max, mean, std and a histogram ``(counts, edges)`` of an array."""
    v = np.asarray(values, dtype=np.float64).ravel()
    counts, edges = np.histogram(v, bins=bins)
    return {"min": float(v.min()), "max": float(v.max()), "mean": float(v.mean()), "std": float(v.std()),
            "hist": (counts, edges)}


class Monitor(Callback):
    """Records statistics while a :class:`course_lib.Trainer` runs (see the module docstring).

    probe: images (or rows) to measure the activations on; every: steps between records;
    val, test: ``(X, y)`` whose error is recorded every ``eval_every`` steps (default: each epoch).

    After the run: ``steps``; ``stats[name][stat]`` (one value per record, stat in min, max,
    mean, std); ``hists[name]`` (one ``(counts, edges)`` per record); ``eval_steps``,
    ``val_error``, ``test_error``; ``kinds[name]`` is "parameter", "net input" or "activation".
    """

    def __init__(self, probe, *, every: int = 100, bins: int = 30, val=None, test=None, eval_every=None):
        self.probe, self.every, self.bins = probe, int(every), int(bins)
        self.val, self.test, self.eval_every = val, test, eval_every
        self.steps, self.stats, self.hists, self.kinds = [], {}, {}, {}
        self.eval_steps, self.val_error, self.test_error = [], [], []

    def on_train_begin(self, loop):
        self.epoch_steps = loop.history.steps_per_epoch
        self.record(loop.model, 0)

    def on_step_end(self, loop):
        if loop.step % self.every == 0:
            self.record(loop.model, loop.step)
        if (self.val or self.test) and self.eval_every and loop.step % self.eval_every == 0:
            self.record_errors(loop.model, loop.step)

    def on_epoch_end(self, loop):
        if (self.val or self.test) and not self.eval_every:
            self.record_errors(loop.model, loop.step)

    def record(self, model, step: int) -> None:
        """Measure everything now, as after step ``step``."""
        self.steps.append(step)
        values = {name: (p, "parameter") for name, p in model.params.items()}
        values.update({name: (out, "activation" if "." in name or name.startswith("pool") else "net input")
                       for name, out in self.activations(model).items()})
        for name, (v, kind) in values.items():
            s = summarize(v, self.bins)
            self.kinds[name] = kind
            for stat in STATS:
                self.stats.setdefault(name, {k: [] for k in STATS})[stat].append(s[stat])
            self.hists.setdefault(name, []).append(s["hist"])
            self.write(name, v, s, step)

    def activations(self, model) -> dict:
        """Each watched layer's output on the probe batch, by :func:`layer_names`."""
        out, x = {}, self.probe
        with model.evaluating():
            for layer, name in zip(model.layers, layer_names(model)):
                x = layer.forward(x)
                if name:
                    out[name] = x
        return out

    def record_errors(self, model, step: int) -> None:
        self.eval_steps.append(step)
        for data, errors, label in ((self.val, self.val_error, "val"), (self.test, self.test_error, "test")):
            if data is not None:
                errors.append(1.0 - evaluate(model, *data)[1])
                self.write_scalar(f"error/{label}", errors[-1], step)

    # hooks for writers (TensorBoard): nothing to do here
    def write(self, name, values, summary, step): ...

    def write_scalar(self, tag, value, step): ...


# --- figures -----------------------------------------------------------------------------

def plot_stats(monitor, names=None, *, ncols: int = 4, x: str = "epoch"):
    """One small chart per quantity: the mean with ±1 std shaded, and the min and max, against time."""
    import matplotlib.pyplot as plt

    names = list(names or monitor.stats)
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.3 * nrows), squeeze=False)
    t = np.asarray(monitor.steps, float) / (max(monitor.epoch_steps, 1) if x == "epoch" else 1)
    for ax, name in zip(axes.flat, names):
        s = {k: np.asarray(v) for k, v in monitor.stats[name].items()}
        ax.fill_between(t, s["mean"] - s["std"], s["mean"] + s["std"], alpha=0.25, color="C0", lw=0)
        ax.plot(t, s["mean"], color="C0", lw=1.5, label="mean ± std")
        ax.plot(t, s["min"], color="0.5", lw=0.8, ls="--", label="min, max")
        ax.plot(t, s["max"], color="0.5", lw=0.8, ls="--")
        ax.set_title(name, fontsize="small")
        ax.tick_params(labelsize="x-small")
        ax.grid(True, alpha=0.3)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize="x-small")
    for ax in axes[-1]:
        ax.set_xlabel(x, fontsize="small")
    fig.tight_layout()
    return fig


def plot_histograms(monitor, names=None, *, ncols: int = 4, snapshots: int = 3):
    """Each quantity's histogram at the first, middle and last record, overlaid (later = darker)."""
    import matplotlib.pyplot as plt

    names = list(names or monitor.hists)
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.2 * nrows), squeeze=False)
    picks = sorted(set(np.linspace(0, len(monitor.steps) - 1, snapshots).round().astype(int)))
    for ax, name in zip(axes.flat, names):
        for rank, i in enumerate(picks):
            counts, edges = monitor.hists[name][i]
            shade = str(0.75 - 0.75 * rank / max(len(picks) - 1, 1))
            ax.stairs(counts / counts.sum(), edges, color=shade, lw=1.2, label=f"step {monitor.steps[i]}")
        ax.set_title(name, fontsize="small")
        ax.tick_params(labelsize="x-small")
        ax.set_yticks([])
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize="x-small")
    fig.tight_layout()
    return fig
