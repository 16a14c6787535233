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
