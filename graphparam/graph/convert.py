"""Conversions of an ArchGraph to networkx and PyTorch Geometric containers."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from graphparam.graph.features import degrees, depth
from graphparam.graph.registry import KIND_INDEX

if TYPE_CHECKING:
    import networkx as nx
    from torch_geometric.data import Batch, Data

    from graphparam.graph.ir import ArchGraph

MAX_DIMS = 4  # shape features per node: the first owned tensor's shape, padded to 4 dims


def _pyg_data():
    """``torch_geometric.data``, imported without the warning PyG's own import raises: PyG 2.8 calls the
    deprecated ``torch.jit.script`` on two pooling classes at import time (pyg-team/pytorch_geometric#10697;
    a FutureWarning on torch 2.14, a DeprecationWarning on 2.12). graphparam uses no TorchScript, so only
    that message is ignored, only while PyG is first imported."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=DeprecationWarning)
        import torch_geometric.data
    return torch_geometric.data


def to_networkx(graph: "ArchGraph") -> "nx.DiGraph":
    """A ``networkx.DiGraph`` with each node's kind, target, attributes and parameter slots."""
    import networkx as nx

    g = nx.DiGraph(name=graph.name)
    for i, node in enumerate(graph.nodes):
        g.add_node(i, name=node.name, kind=node.kind, target=node.target, attrs=dict(node.attrs),
                   params=[(p.name, p.shape, p.role.value) for p in node.params], shared=list(node.shared))
    g.add_edges_from(graph.edges)
    return g


def node_shape_features(graph: "ArchGraph") -> np.ndarray:
    """``N × MAX_DIMS`` float: log2(1 + size) of the first owned tensor's dimensions, 0 if none."""
    feats = np.zeros((len(graph.nodes), MAX_DIMS), dtype=np.float32)
    for i, node in enumerate(graph.nodes):
        if node.params:
            shape = node.params[0].shape[:MAX_DIMS]
            feats[i, : len(shape)] = np.log2(1.0 + np.asarray(shape, dtype=np.float32))
    return feats


def to_pyg(graph: "ArchGraph") -> "Data":
    """A ``torch_geometric.data.Data``: ``op`` kind ids, ``x`` shape/degree/depth features, ``edge_index``."""
    Data = _pyg_data().Data

    in_deg, out_deg = degrees(graph)
    structure = np.stack([np.log1p(in_deg), np.log1p(out_deg), np.log1p(depth(graph))], axis=1)
    x = np.concatenate([node_shape_features(graph), structure.astype(np.float32)], axis=1)
    return Data(
        op=torch.tensor([KIND_INDEX[n.kind] for n in graph.nodes], dtype=torch.long),
        x=torch.from_numpy(x),
        edge_index=torch.from_numpy(graph.edge_index()),
        num_nodes=len(graph.nodes),
        name=graph.name,
    )


def to_pyg_batch(graphs: Sequence["ArchGraph"]) -> "Batch":
    """Many graphs as one disjoint-union ``torch_geometric.data.Batch``."""
    return _pyg_data().Batch.from_data_list([to_pyg(g) for g in graphs])
