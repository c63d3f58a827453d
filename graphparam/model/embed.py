"""Node embedding: operation kind, shapes of owned tensors, roles, attributes and structure.

Sizes (channels, kernel sizes, token counts, ...) are encoded continuously by
:func:`log_size_encoding`: ``log2(size)`` and its sines/cosines at a few fixed frequencies. The
encoding is defined for every positive size, so a width never seen in training (4096, 11×11
kernels, a 1000-class head) still gets a sensible, smoothly interpolated feature; no buckets.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from graphparam.graph.features import degrees, depth, reverse_depth
from graphparam.graph.ir import ArchGraph, Role
from graphparam.graph.registry import KIND_INDEX, KINDS

ROLES = tuple(Role)
ROLE_INDEX = {r: i for i, r in enumerate(ROLES)}
LOG_FREQS = np.array([0.3, 0.7, 1.6, 3.1], dtype=np.float64)   # radians per octave
DEPTH_FREQS = np.array([1 / 2, 1 / 8, 1 / 32, 1 / 128], dtype=np.float64)
NO_ACT = len(KINDS)  # act_after index for "no activation follows"
_SIZE_QUANTITIES = 10
LOG_DIM = 1 + 2 * len(LOG_FREQS)
NODE_FEATURES = _SIZE_QUANTITIES * LOG_DIM + len(ROLES) + 6 + 2 + 2 * len(DEPTH_FREQS) + 2


def log_size_encoding(size: np.ndarray) -> np.ndarray:
    """``[log2(s)/10, sin(w log2 s), cos(w log2 s)]`` per size; sizes < 1 (unknown) encode as zeros."""
    size = np.asarray(size, dtype=np.float64)
    x = np.log2(np.maximum(size, 1.0))
    ang = x[..., None] * LOG_FREQS
    enc = np.concatenate([x[..., None] / 10.0, np.sin(ang), np.cos(ang)], axis=-1)
    return np.where((size >= 1)[..., None], enc, 0.0)


def _prod(value, default: int = 1) -> int:
    if value is None:
        return default
    if isinstance(value, (tuple, list)):
        return int(math.prod(int(v) for v in value)) if value else default
    return int(value)


def node_features(graph: ArchGraph, rules: dict[tuple[int, int], "object"], acts: list[str | None]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(kind index, activation-after index, float features, depth)`` for every node.

    ``rules[(node, k)]`` is the :class:`~graphparam.model.normalize.SlotRule` of the node's k-th slot
    (its decoded layout gives out/in sizes and kernel); ``acts`` the activation after each node.
    """
    n = len(graph.nodes)
    kind = np.array([KIND_INDEX.get(node.kind, KIND_INDEX["unknown"]) for node in graph.nodes], dtype=np.int64)
    act = np.array([KIND_INDEX[a] if a in KIND_INDEX else NO_ACT for a in acts], dtype=np.int64)
    sizes = np.zeros((n, _SIZE_QUANTITIES), dtype=np.float64)
    roles = np.zeros((n, len(ROLES)), dtype=np.float64)
    flags = np.zeros((n, 6), dtype=np.float64)
    for i, node in enumerate(graph.nodes):
        a = node.attrs
        out_shape = a.get("out_shape") or ()
        if node.params:
            main = next((k for k, s in enumerate(node.params) if rules[(i, k)].mode == "matrix"), 0)
            r = rules[(i, main)]
            sizes[i, 0:4] = (r.rows, r.cols, r.kernel[0], r.kernel[1])
            sizes[i, 6] = 1 + node.numel
            for s in node.params:
                roles[i, ROLE_INDEX[s.role]] += 1
        if out_shape:
            sizes[i, 4] = int(out_shape[0])
            sizes[i, 5] = _prod(out_shape[1:])
        groups = _prod(a.get("groups"))
        sizes[i, 7] = groups
        sizes[i, 8] = _prod(a.get("stride"))
        sizes[i, 9] = _prod(a.get("dilation"))
        in_ch = a.get("in_channels")
        flags[i, 0] = float(groups > 1 and in_ch is not None and groups == _prod(in_ch))  # depthwise
        flags[i, 1] = float(any(s.role == Role.BIAS for s in node.params))
        flags[i, 2] = float(bool(a.get("unused")))
        flags[i, 3] = len(node.params) / 4.0
        flags[i, 4] = float(bool(node.shared))
        flags[i, 5] = float(a.get("act_after") is not None)
    deg_in, deg_out = degrees(graph)
    d = depth(graph).astype(np.float64)
    rd = reverse_depth(graph).astype(np.float64)  # longest path to any sink
    total = np.maximum(d + rd, 1.0)
    ang = d[:, None] * DEPTH_FREQS
    struct = np.concatenate([np.log1p(deg_in)[:, None], np.log1p(deg_out)[:, None],
                             np.sin(ang), np.cos(ang)], axis=1)
    rel = np.stack([d / total, np.log1p(total) / 8.0], axis=1)
    feats = np.concatenate([log_size_encoding(sizes).reshape(n, -1), roles, flags, struct, rel], axis=1)
    assert feats.shape[1] == NODE_FEATURES, feats.shape
    return kind, act, feats.astype(np.float32), d.astype(np.int64)


def depth_encoding(depth: torch.Tensor, dim: int) -> torch.Tensor:
    """Transformer-style sinusoidal encoding of integer depths: ``... × dim``, unit RMS per entry."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=depth.device, dtype=torch.float32) / half)
    ang = depth.to(torch.float32)[..., None] * freqs
    enc = torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1) * math.sqrt(2.0)
    return F.pad(enc, (0, dim - 2 * half))


class NodeEmbedding(nn.Module):
    """``h0 = Emb(kind) + Emb(activation after) + MLP(float features) + depth_scale * PE(depth)``.

    ``kind_rows[i]`` is the embedding row of the registry's kind ``i`` (a checkpoint's vocabulary
    decides the rows, :mod:`graphparam.model.vocab`); the activation table has one more row, last,
    for "no activation follows". The sinusoidal depth code can keep repeated blocks apart; its
    initial weight is ``depth_scale``.
    """

    def __init__(self, hidden: int, depth_scale: float = 1.0, kind_rows: torch.Tensor | None = None,
                 num_kinds: int | None = None):
        super().__init__()
        if kind_rows is None:
            kind_rows, num_kinds = torch.arange(len(KINDS)), len(KINDS)
        act_rows = torch.cat([kind_rows, torch.tensor([num_kinds])])  # NO_ACT -> the table's last row
        self.register_buffer("kind_rows", kind_rows.clone(), persistent=False)
        self.register_buffer("act_rows", act_rows, persistent=False)
        self.kind = nn.Embedding(num_kinds, hidden)
        self.act = nn.Embedding(num_kinds + 1, hidden)
        self.feats = nn.Sequential(nn.Linear(NODE_FEATURES, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        self.depth_scale = nn.Parameter(torch.tensor(float(depth_scale)))
        self.hidden = hidden
        nn.init.normal_(self.kind.weight, std=0.5)
        nn.init.normal_(self.act.weight, std=0.1)

    def forward(self, kind: torch.Tensor, act: torch.Tensor, feats: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        return (self.kind(self.kind_rows[kind]) + self.act(self.act_rows[act]) + self.feats(feats)
                + self.depth_scale * depth_encoding(depth, self.hidden))
