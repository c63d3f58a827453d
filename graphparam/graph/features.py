"""Structural features of an ArchGraph: capped shortest-path distances, degrees, depth, reverse depth,
and the activation that follows an operation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Collection, Sequence

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from graphparam.graph.registry import ACTIVATION_KINDS, NORM_KINDS

if TYPE_CHECKING:
    from graphparam.graph.ir import ArchGraph, Node

UNREACHABLE = -1
#: kinds an activation is looked up through: it still acts on the op's output, up to a norm or a view
ACT_PASS_THROUGH = frozenset(NORM_KINDS) | {"dropout", "identity", "reshape", "pad"}


def _adjacency(graph: "ArchGraph") -> csr_matrix:
    n = len(graph.nodes)
    ei = graph.edge_index()
    return csr_matrix((np.ones(ei.shape[1], dtype=np.float32), (ei[0], ei[1])), shape=(n, n))


def shortest_paths(graph: "ArchGraph", max_distance: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """``(forward, backward)`` int16 N×N distances along and against the edges.

    ``forward[i, j]`` is the number of edges on the shortest path from i to j, capped at
    ``max_distance``; pairs with no path are ``UNREACHABLE`` (-1). ``backward`` is its transpose:
    the distance from j back to i. The diagonal is 0.
    """
    n = len(graph.nodes)
    if n == 0:
        empty = np.zeros((0, 0), dtype=np.int16)
        return empty, empty
    dist = shortest_path(_adjacency(graph), method="D", directed=True, unweighted=True)
    forward = np.where(np.isinf(dist), UNREACHABLE, np.minimum(dist, max_distance)).astype(np.int16)
    return forward, forward.T.copy()


def degrees(graph: "ArchGraph") -> tuple[np.ndarray, np.ndarray]:
    """In- and out-degree of every node."""
    ei = graph.edge_index()
    n = len(graph.nodes)
    return (np.bincount(ei[1], minlength=n).astype(np.int64),
            np.bincount(ei[0], minlength=n).astype(np.int64))


def depth(graph: "ArchGraph") -> np.ndarray:
    """Longest path (in edges) from any source to each node; nodes are topologically ordered."""
    d = np.zeros(len(graph.nodes), dtype=np.int64)
    for src, dst in sorted(graph.edges, key=lambda e: e[1]):
        d[dst] = max(d[dst], d[src] + 1)
    return d


def reverse_depth(graph: "ArchGraph") -> np.ndarray:
    """Longest path (in edges) from each node to any sink."""
    rd = np.zeros(len(graph.nodes), dtype=np.int64)
    for src, dst in sorted(graph.edges, key=lambda e: -e[0]):
        rd[src] = max(rd[src], rd[dst] + 1)
    return rd


def activation_after(graph: "ArchGraph | Sequence[Node]", index: int, succ: Sequence[Sequence[int]] | None = None,
                     depth: int = 4, through: Collection[str] = ACT_PASS_THROUGH) -> str | None:
    """The first activation reached from node ``index`` within ``depth`` edges, looking through the
    kinds in ``through`` (and their fused activations, e.g. timm's BatchNormAct2d); else the node's
    own ``act_after`` attribute. ``graph`` may be a node list (with ``succ``), as while building."""
    nodes = graph if isinstance(graph, Sequence) else graph.nodes
    succ = succ if succ is not None else graph.successors()
    frontier = [index]
    for _ in range(depth):
        nxt = []
        for i in frontier:
            for j in succ[i]:
                kind = nodes[j].kind
                if kind in ACTIVATION_KINDS:
                    return kind
                if kind in through:
                    fused = nodes[j].attrs.get("act_after")
                    if fused in ACTIVATION_KINDS:
                        return fused
                    nxt.append(j)
        frontier = nxt
        if not frontier:
            break
    return nodes[index].attrs.get("act_after")
