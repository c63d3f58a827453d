"""Drawing an ArchGraph so that a person can read it, however deep: nodes are laid out by depth from the
input, and the depth axis wraps into rows of ``row_levels`` levels that run left to right, then right to
left (so that each row continues where the previous one ended). Every node is a box labelled with its
kind (and the shape of its first parameter), coloured by kind, with a legend; a skip connection inside a
row is drawn as an arc above it."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from graphparam.graph.features import depth
from graphparam.graph.registry import KINDS

if TYPE_CHECKING:
    from graphparam.graph.ir import ArchGraph

ROW_LEVELS = 24   # depth levels per row: ResNet-50 (169 levels) becomes 8 rows
ROW_GAP = 1.2     # empty lanes between two rows (room for the arcs of skip connections)
ARC = 0.6         # height of a skip connection's arc, in lanes
COL_INCH, LANE_INCH = 0.85, 0.42


def lanes(graph: "ArchGraph") -> np.ndarray:
    """The lane (vertical slot) of every node within its depth level: the topmost lane of its inputs where
    that lane is free, so that a chain stays on one line, a branch runs beside it and a merge returns to the
    main line."""
    d = depth(graph)
    preds: list[list[int]] = [[] for _ in graph.nodes]
    for src, dst in graph.edges:
        preds[dst].append(src)
    lane = np.zeros(len(graph.nodes), dtype=np.float64)
    for level in range(int(d.max()) + 1 if len(d) else 0):
        members = np.flatnonzero(d == level)
        want = np.array([lane[preds[i]].min() if preds[i] else 0.0 for i in members])
        prev = -math.inf
        for j in np.argsort(want, kind="stable"):
            lane[members[j]] = prev = max(float(math.floor(want[j] + 0.5)), prev + 1)
    return lane


def layout(graph: "ArchGraph", row_levels: int = ROW_LEVELS) -> np.ndarray:
    """``N × 2`` positions (x: column, y: negative lanes downwards). Depth ``d`` lands in row
    ``d // row_levels``; odd rows run right to left; each row is as tall as its widest level."""
    d, lane = depth(graph), lanes(graph)
    pos = np.zeros((len(graph.nodes), 2), dtype=np.float64)
    if not len(d):
        return pos
    row, col = d // row_levels, d % row_levels
    pos[:, 0] = np.where(row % 2 == 1, row_levels - 1 - col, col) if row.max() > 0 else col
    top = 0.0
    for r in range(int(row.max()) + 1):
        members = row == r
        lo, hi = lane[members].min(), lane[members].max()
        pos[members, 1] = top - (lane[members] - lo)
        top -= (hi - lo) + 1 + ROW_GAP
    return pos


def _label(node) -> str:
    if not node.params:
        return node.kind
    return f"{node.kind}\n{'×'.join(str(s) for s in node.params[0].shape)}"


def draw(graph: "ArchGraph", path: str, *, row_levels: int = ROW_LEVELS, dpi: int = 110) -> None:
    """Save a PNG of the graph (see the module docstring). Nodes with parameters have a black border."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, Patch
    from matplotlib.path import Path as MPath

    pos = layout(graph, row_levels)
    kinds = sorted({n.kind for n in graph.nodes}, key=KINDS.index)
    cmap = plt.get_cmap("tab20")
    colour = {k: tuple(0.45 + 0.55 * c for c in cmap(i % 20)[:3]) for i, k in enumerate(kinds)}  # light: text stays legible
    columns = pos[:, 0].max() + 1 if len(pos) else 1
    lanes_tall = -pos[:, 1].min() + 1 if len(pos) else 1
    legend_rows = math.ceil(len(kinds) / max(1, int(columns * COL_INCH / 1.3)))
    width = max(6.0, columns * COL_INCH + 0.6)
    height = (lanes_tall + ARC) * LANE_INCH + 0.5 + 0.25 * legend_rows
    dpi = min(dpi, int(30000 / max(width, height)))      # matplotlib's limit is 2**16 pixels a side
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0.3 / width, 0.1 / height, 1 - 0.6 / width, 1 - (0.6 + 0.25 * legend_rows) / height))
    ax.set_xlim(-0.6, columns - 0.4)
    ax.set_ylim(-lanes_tall + 0.4, ARC + 0.5)
    ax.axis("off")
    d = depth(graph)
    row = d // row_levels
    for src, dst in graph.edges:
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        if row[src] == row[dst] and abs(x1 - x0) > 1:       # a skip connection: an arc above the row
            h = ARC + 0.15 * min(abs(x1 - x0), 6) / 6
            line = MPath([(x0, y0), (x0, y0 + h), (x1, y1 + h), (x1, y1)],
                         [MPath.MOVETO, MPath.CURVE4, MPath.CURVE4, MPath.CURVE4])
            arrow = FancyArrowPatch(path=line, arrowstyle="-|>", mutation_scale=7, color="0.55", lw=0.7,
                                    shrinkA=0, shrinkB=9, zorder=1)
        else:
            arrow = FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=7, color="0.45",
                                    lw=0.7, shrinkA=14, shrinkB=14, zorder=1)
        ax.add_patch(arrow)
    for i, node in enumerate(graph.nodes):
        ax.text(pos[i, 0], pos[i, 1], _label(node), ha="center", va="center", fontsize=6.5, zorder=3,
                linespacing=1.0,
                bbox=dict(boxstyle="round,pad=0.25", fc=colour[node.kind], ec="k" if node.params else "0.6",
                          lw=0.9 if node.params else 0.5))
    fig.suptitle(f"{graph.name}: {len(graph.nodes)} nodes, {graph.num_params:,} parameters "
                 f"(depth {int(d.max()) + 1 if len(d) else 0}; rows of {row_levels} levels, odd rows right to "
                 f"left; black border: owns parameters, with its first tensor's shape)", fontsize=9,
                 y=1 - 0.12 / height)
    handles = [Patch(fc=colour[k], ec="0.4", label=k) for k in kinds]
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 1 - 0.3 / height), frameon=False,
               ncol=math.ceil(len(kinds) / legend_rows), fontsize=7.5, handlelength=1.2, columnspacing=1.0)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
