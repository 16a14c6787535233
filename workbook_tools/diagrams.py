"""Drawings of small networks: nodes in columns, edges labelled with their weights."""
from __future__ import annotations

import numpy as np


def draw_network(sizes, weights=None, *, ax=None, layer_names=None, node_labels=None):
    """Draw a fully connected network such as 2-3-2.

    Parameters
    ----------
    sizes : list of int, units per layer
    weights : optional list of matrices ``(n_in, n_out)``, one per pair of layers;
        each edge is labelled with its weight
    layer_names : optional list of column titles
    node_labels : optional list (per layer) of lists of node labels
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(2.2 * len(sizes), 0.9 * max(sizes) + 1))
    xs = np.arange(len(sizes)) * 2.0
    ys = [np.linspace(-(n - 1) / 2, (n - 1) / 2, n)[::-1] for n in sizes]
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        for i in range(n_in):
            for j in range(n_out):
                (x0, y0), (x1, y1) = (xs[k], ys[k][i]), (xs[k + 1], ys[k + 1][j])
                ax.plot([x0, x1], [y0, y1], color="0.6", lw=1, zorder=1)
                if weights is not None:
                    w = np.asarray(weights[k])[i, j]
                    t = 0.28 + 0.44 * (j + 0.5) / n_out  # stagger labels along crowded edges
                    ax.text(x0 + t * (x1 - x0), y0 + t * (y1 - y0), f"{w:g}", fontsize=8,
                            ha="center", va="center", zorder=3,
                            bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none"))
    for k, n in enumerate(sizes):
        for i in range(n):
            ax.scatter(xs[k], ys[k][i], s=900, color="white", edgecolor="C0", lw=2, zorder=2)
            label = node_labels[k][i] if node_labels else ""
            ax.text(xs[k], ys[k][i], label, ha="center", va="center", fontsize=10, zorder=4)
        if layer_names:
            ax.text(xs[k], max(sizes) / 2 + 0.3, layer_names[k], ha="center", fontsize=10)
    ax.set_xlim(xs[0] - 0.6, xs[-1] + 0.6)
    ax.set_ylim(-max(sizes) / 2 - 0.2, max(sizes) / 2 + 0.7)
    ax.axis("off")
    return ax


def draw_computational_graph(model, input_shape, *, ax=None, optimizer="optimiser step"):
    """The network's computational graph: the main data path (input -> layers -> loss) in a
    column, and the bookkeeping nodes (parameters, gradients, optimiser, metrics, logging,
    checkpoints) apart on the right, as TensorBoard draws "auxiliary nodes": each is
    connected to many main nodes, and drawn inline it would hide the data path."""
    import matplotlib.pyplot as plt

    from .monitor import layer_names

    x, main = np.zeros((1, *input_shape)), [("input x", tuple(input_shape), False)]
    with model.evaluating():
        for layer, name in zip(model.layers, layer_names(model)):
            x = layer.forward(x)
            main.append((_short(layer, name), x.shape[1:], bool(layer.params)))
    main.append(("softmax cross-entropy loss", (), False))
    n = len(main)
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 0.55 * n + 1))
    box = dict(boxstyle="round,pad=0.3", fc="#e8f0fb", ec="C0")
    aux_box = dict(boxstyle="round,pad=0.3", fc="#f3f3f3", ec="0.5", ls="--")
    ys = -np.arange(n, dtype=float)
    for i, (label, shape, _) in enumerate(main):
        ax.text(0, ys[i], label + (f"   {shape}" if shape else ""), ha="center", va="center", fontsize=8.5, bbox=box)
        if i:
            ax.annotate("", (0, ys[i] + 0.28), (0, ys[i - 1] - 0.28), arrowprops=dict(arrowstyle="->", color="C0"))
    aux = {"labels y": ys[-1], "metrics: accuracy": ys[-1] - 1.1, "backward pass: gradients": ys[-2] - 0.2,
           optimizer: ys[-4], "parameters (initialiser)": ys[n // 2], "checkpoint: get_params": ys[n // 2 - 2],
           "logging: Monitor / TensorBoard": ys[3]}
    for label, y in aux.items():
        ax.text(3.4, y, label, ha="center", va="center", fontsize=8.5, bbox=aux_box)

    def link(y0, y1, **kw):
        ax.annotate("", (0.9, y1), (2.45, y0), arrowprops=dict(arrowstyle="->", color="0.55", lw=0.8, ls="--", **kw))

    link(aux["labels y"], ys[-1])
    link(aux["metrics: accuracy"], ys[-2])
    for i, (_, _, has_params) in enumerate(main):
        if has_params:
            link(aux["parameters (initialiser)"], ys[i])
        if i in range(1, n - 1):
            link(aux["logging: Monitor / TensorBoard"], ys[i], alpha=0.5)
    for a, b in (("backward pass: gradients", optimizer), (optimizer, "parameters (initialiser)"),
                 ("parameters (initialiser)", "checkpoint: get_params")):
        ax.annotate("", (3.4, aux[b] + (0.3 if aux[b] < aux[a] else -0.3)), (3.4, aux[a]),
                    arrowprops=dict(arrowstyle="->", color="0.45", lw=0.9))
    ax.annotate("", (3.4, aux["backward pass: gradients"] - 0.3), (0.9, ys[-1]),
                arrowprops=dict(arrowstyle="->", color="0.45", lw=0.9, connectionstyle="arc3,rad=0.3"))
    ax.text(0, 0.8, "main graph: the data path", ha="center", fontsize=10, color="C0", weight="bold")
    ax.text(3.4, 0.8, "auxiliary nodes: bookkeeping", ha="center", fontsize=10, color="0.35", weight="bold")
    ax.set_xlim(-2.6, 5.2)
    ax.set_ylim(ys[-1] - 1.7, 1.3)
    ax.axis("off")
    return ax


def _short(layer, name):
    """A short label for a layer in the graph: "conv1 5x5, 1->8", "pool1 max 2x2", "fc1 784->128"."""
    W = layer.params.get("W")
    if W is not None and W.ndim == 4:
        return f"{name}: conv {W.shape[2]}x{W.shape[3]}, {W.shape[1]}->{W.shape[0]}"
    if W is not None:
        return f"{name}: dense {W.shape[0]}->{W.shape[1]}"
    if name and name.startswith("pool"):
        return f"{name}: max {layer.size}x{layer.size}"
    return name or repr(layer).lower().replace("()", "")
