"""Turn a list of :class:`ArchGraph` into dense padded tensors and a flat table of slots.

Per graph, everything that does not depend on the GHN's weights (node features, the pair-bucket
matrix of shortest-path distances, the decoding layout of every slot) is computed once with
numpy and cached on the graph (``graph.cache``). :func:`collate` then pads B graphs to the
largest node count N and concatenates the slot tables:

* nodes: ``kind``, ``act``, ``depth`` (B×N int64), ``feats`` (B×N×F float32), ``node_mask`` (B×N bool);
* pairs: ``pair`` (B×N×N int16): ``fwd_bucket * M + bwd_bucket`` with ``M = max_distance + 2``
  (bucket ``M - 1`` = unreachable), or ``MASKED = M*M`` for pairs unreachable in both directions
  and for padding; the diagonal is never masked, padding rows included;
* slots: one row per parameter tensor of every graph (``slot_node`` indexes the flattened B·N
  node states; ``specs`` keeps each slot's name, shape and decoding layout), and the element
  table of the vector slots: ``e_slot``, ``e_idx`` (one row per element; integer channel indices
  below ``max_index``, the largest row/column count of the batch).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from graphparam.graph.features import activation_after
from graphparam.graph.channels import ORDER_ATTR, SOURCES_ATTR, UNTIED_ATTRS
from graphparam.graph.ir import ArchGraph, Role
from graphparam.model.embed import LOG_DIM, ROLE_INDEX, log_size_encoding, node_features
from graphparam.model.normalize import TRANSFORM_INDEX, SlotRule, slot_rule

SLOT_FEATURES = 4 * LOG_DIM + 1


@dataclass
class SlotSpec:
    """One parameter tensor to decode: where it lives and how it is laid out."""

    name: str
    shape: tuple[int, ...]
    node: int
    pos: int          # index among its node's slots
    role: int
    rule: SlotRule
    head: bool = False  # a weight of a node that writes the net's output (the classifier)
    rows: tuple[int, ...] | None = None     # tile row of each weight row, where not ``r mod tile``
    columns: tuple[int, ...] | None = None  # tile column of each weight column, where not ``c mod tile``


@dataclass
class PreparedGraph:
    kind: np.ndarray
    act: np.ndarray
    feats: np.ndarray
    depth: np.ndarray
    pair: np.ndarray
    slots: list[SlotSpec]


def masked_index(max_distance: int) -> int:
    m = max_distance + 2
    return m * m


def prepare(graph: ArchGraph, max_distance: int = 8, embed_std: float = 0.02,
            repeat_tile: int | None = None, channel_ties: bool = True) -> PreparedGraph:
    """Weight-independent tensors of one graph, cached on it. ``repeat_tile``: the tile of a decoder that gives
    channel ``c`` the meaning ``c mod tile`` (repeated tiles); weights whose channels flow out of order then
    decode their rows and columns at the positions :mod:`graphparam.graph.channels` gave them, with channels
    combined elementwise tied to one position unless ``channel_ties`` is False."""
    return graph.cached(f"ghn_prep_v4_{max_distance}_{embed_std}_{repeat_tile}_{channel_ties}",
                        lambda: _prepare(graph, max_distance, embed_std, repeat_tile, channel_ties))


def _tile_positions(positions: tuple[int, ...] | None, size: int, tile: int) -> tuple[int, ...] | None:
    """Channel positions (:mod:`graphparam.graph.channels`) of a weight's ``size`` rows or columns, mod ``tile``;
    None where they are in order."""
    if positions is None or len(positions) != size:
        return None
    mod = tuple(int(c) % tile for c in positions)
    return None if all(c == i % tile for i, c in enumerate(mod)) else mod


def _prepare(graph: ArchGraph, max_distance: int, embed_std: float, repeat_tile: int | None,
             channel_ties: bool) -> PreparedGraph:
    def positions(node, key: str) -> tuple[int, ...] | None:
        return node.attrs.get(key) if channel_ties else node.attrs.get(UNTIED_ATTRS[key], node.attrs.get(key))

    succ = graph.successors()
    acts = [activation_after(graph, i, succ) if node.params else node.attrs.get("act_after")
            for i, node in enumerate(graph.nodes)]
    rules: dict[tuple[int, int], SlotRule] = {}
    slots: list[SlotSpec] = []
    heads = output_writers(graph)
    for i, node in enumerate(graph.nodes):
        for k, slot in enumerate(node.params):
            rule = slot_rule(node, slot, acts[i], embed_std)
            rules[(i, k)] = rule
            placed = repeat_tile and slot.role == Role.WEIGHT and rule.mode == "matrix"
            slots.append(SlotSpec(slot.name, tuple(int(s) for s in slot.shape), i, k, ROLE_INDEX[slot.role], rule,
                                  head=i in heads and rule.transform == "weight",
                                  rows=_tile_positions(positions(node, ORDER_ATTR), rule.rows, repeat_tile)
                                  if placed else None,
                                  columns=_tile_positions(positions(node, SOURCES_ATTR), rule.cols, repeat_tile)
                                  if placed else None))
    kind, act, feats, dep = node_features(graph, rules, acts)
    fwd, bwd = graph.shortest_paths(max_distance)
    m = max_distance + 2
    fb = np.where(fwd < 0, m - 1, fwd).astype(np.int16)
    bb = np.where(bwd < 0, m - 1, bwd).astype(np.int16)
    pair = fb * m + bb
    pair[(fwd < 0) & (bwd < 0)] = masked_index(max_distance)
    np.fill_diagonal(pair, 0)
    return PreparedGraph(kind, act, feats, dep, pair.astype(np.int16), slots)


@dataclass
class GraphBatch:
    """Dense, padded tensors for B graphs plus the flat slot table (see the module docstring)."""

    kind: torch.Tensor
    act: torch.Tensor
    feats: torch.Tensor
    depth: torch.Tensor
    node_mask: torch.Tensor
    pair: torch.Tensor
    slot_node: torch.Tensor
    slot_role: torch.Tensor
    slot_pos: torch.Tensor
    slot_feats: torch.Tensor
    slot_transform: torch.Tensor
    slot_std: torch.Tensor
    e_slot: torch.Tensor
    e_idx: torch.Tensor
    e_size: torch.Tensor
    # python-side bookkeeping
    specs: list[SlotSpec]
    slot_graph: list[int]
    e_off: list[int]
    num_nodes: list[int]
    max_index: int

    def to(self, device: torch.device | str) -> "GraphBatch":
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.to(device, non_blocking=True) if isinstance(value, torch.Tensor) else value
        return GraphBatch(**out)

    @property
    def num_graphs(self) -> int:
        return len(self.num_nodes)


def output_writers(graph: ArchGraph) -> set[int]:
    """Nodes with parameters whose output reaches a graph output through parameter-free nodes only: the
    classifier of a classification net."""
    pred = graph.predecessors()
    frontier = [i for i, node in enumerate(graph.nodes) if node.kind == "output"]
    seen, writers = set(frontier), set()
    while frontier:
        i = frontier.pop()
        for j in pred[i]:
            if j in seen:
                continue
            seen.add(j)
            if graph.nodes[j].params:
                writers.add(j)
            else:
                frontier.append(j)
    return writers


def _rows(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For per-slot row counts: (slot id of each row, index of the row within its slot, offsets)."""
    counts = np.asarray(counts, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    slot = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    idx = np.arange(offsets[-1], dtype=np.int64) - offsets[slot]
    return slot, idx, offsets


def collate(graphs: list[ArchGraph], max_distance: int = 8, embed_std: float = 0.02,
            device: torch.device | str = "cpu", head_scale: float = 1.0, repeat_tile: int | None = None,
            channel_ties: bool = True) -> GraphBatch:
    """Pad and concatenate ``graphs`` into one :class:`GraphBatch` on ``device``; the target std of
    classifier weights is multiplied by ``head_scale`` (see ``GHNConfig.head_scale``); ``repeat_tile`` and
    ``channel_ties``: see :func:`prepare`."""
    if not graphs:
        raise ValueError("collate needs at least one graph")
    preps = [prepare(g, max_distance, embed_std, repeat_tile, channel_ties) for g in graphs]
    b = len(preps)
    n = max(1, max(len(p.kind) for p in preps))
    nf = preps[0].feats.shape[1]
    kind = np.zeros((b, n), dtype=np.int64)
    act = np.zeros((b, n), dtype=np.int64)
    dep = np.zeros((b, n), dtype=np.int64)
    feats = np.zeros((b, n, nf), dtype=np.float32)
    mask = np.zeros((b, n), dtype=bool)
    pair = np.full((b, n, n), masked_index(max_distance), dtype=np.int16)
    diag = np.arange(n)
    pair[:, diag, diag] = 0
    specs: list[SlotSpec] = []
    slot_graph: list[int] = []
    slot_node: list[int] = []
    for gi, p in enumerate(preps):
        k = len(p.kind)
        kind[gi, :k], act[gi, :k], feats[gi, :k], dep[gi, :k], mask[gi, :k] = p.kind, p.act, p.feats, p.depth, True
        pair[gi, :k, :k] = p.pair
        for s in p.slots:
            specs.append(s)
            slot_graph.append(gi)
            slot_node.append(gi * n + s.node)

    rules = [s.rule for s in specs]
    is_mat = np.array([r.mode == "matrix" for r in rules], dtype=bool)
    rows = np.array([r.rows for r in rules], dtype=np.int64)
    cols = np.array([r.cols for r in rules], dtype=np.int64)
    kh = np.array([r.kernel[0] for r in rules], dtype=np.int64)
    kw = np.array([r.kernel[1] for r in rules], dtype=np.int64)

    e_slot, e_idx, e_off = _rows(np.where(is_mat, 0, rows))
    slot_feats = np.concatenate([
        log_size_encoding(np.stack([rows, cols, kh, kw], axis=1)).reshape(len(specs), 4 * LOG_DIM),
        is_mat[:, None].astype(np.float64)], axis=1).astype(np.float32)

    t = lambda a, dt=torch.long: torch.as_tensor(a, dtype=dt)  # noqa: E731
    f32 = torch.float32
    batch = GraphBatch(
        kind=t(kind), act=t(act), feats=torch.from_numpy(feats), depth=t(dep), node_mask=torch.from_numpy(mask),
        pair=torch.from_numpy(pair),
        slot_node=t(slot_node), slot_role=t([s.role for s in specs]), slot_pos=t([min(s.pos, 7) for s in specs]),
        slot_feats=torch.from_numpy(slot_feats),
        slot_transform=t([TRANSFORM_INDEX[r.transform] for r in rules]),
        slot_std=t([r.base_std * (head_scale if s.head else 1.0) for r, s in zip(rules, specs)], f32),
        e_slot=t(e_slot), e_idx=t(e_idx), e_size=t(rows[e_slot], f32),
        specs=specs, slot_graph=slot_graph, e_off=e_off.tolist(),
        num_nodes=[len(p.kind) for p in preps],
        max_index=int(max(rows.max(initial=1), cols.max(initial=1))),
    )
    return batch.to(device) if torch.device(device).type != "cpu" else batch
