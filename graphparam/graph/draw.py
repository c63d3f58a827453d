"""Drawing an ArchGraph: a layered left-to-right layout by depth, coloured by operation kind."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from graphparam.graph.features import depth
from graphparam.graph.registry import KINDS

if TYPE_CHECKING:
    from graphparam.graph.ir import ArchGraph


def layout(graph: "ArchGraph") -> np.ndarray:
    """``N × 2`` positions: x is the depth from the input, y spreads the nodes of one depth."""
    d = depth(graph)
    pos = np.zeros((len(graph.nodes), 2), dtype=np.float32)
    for level in np.unique(d):
        members = np.flatnonzero(d == level)
        pos[members, 0] = level
        pos[members, 1] = np.arange(len(members)) - (len(members) - 1) / 2
    return pos


def draw(graph: "ArchGraph", path: str, *, max_labels: int = 120, dpi: int = 120) -> None:
    """Save a PNG of the graph; parameterised nodes are larger, labels are shown for small graphs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pos = layout(graph)
    kinds = sorted({n.kind for n in graph.nodes}, key=KINDS.index)
    cmap = plt.get_cmap("tab20")
    colour = {k: cmap(i % 20) for i, k in enumerate(kinds)}
    width = min(60.0, 4 + 0.25 * (pos[:, 0].max() + 1 if len(pos) else 1))
    height = min(30.0, 3 + 0.4 * (np.abs(pos[:, 1]).max() * 2 + 1 if len(pos) else 1))
    fig, ax = plt.subplots(figsize=(width, height))
    for src, dst in graph.edges:
        ax.plot(pos[[src, dst], 0], pos[[src, dst], 1], color="0.75", lw=0.6, zorder=1)
    for kind in kinds:
        idx = [i for i, n in enumerate(graph.nodes) if n.kind == kind]
        sizes = [60 if graph.nodes[i].params else 20 for i in idx]
        ax.scatter(pos[idx, 0], pos[idx, 1], s=sizes, color=colour[kind], label=kind, zorder=2,
                   edgecolors="k", linewidths=0.3)
    if len(graph.nodes) <= max_labels:
        for i, node in enumerate(graph.nodes):
            ax.annotate(node.kind, pos[i], fontsize=6, xytext=(2, 3), textcoords="offset points")
    ax.set_title(f"{graph.name}: {len(graph.nodes)} nodes, {graph.num_params:,} parameters")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
