"""Channel order: which output channel of which layer each input column of a weight reads.

A decoder that gives output channel ``r`` of a layer the meaning ``r mod t`` and reads input column ``c``
as meaning ``c mod t`` (repeated tiles) wires layers together where channels flow in order. Concatenations
of widths that are not multiples of ``t``, slices and channel shuffles break that: a consumer's column ``c``
then holds channel ``r != c`` of some producer. :class:`ChannelSources` follows, beside the one forward of
the shape pass, a tag per activation element: (producer, output channel), where a producer is the last op
with a weight matrix (or an input or a free tensor). Layout ops (the registry's ``reshape``, ``slice``,
``concat``, ``pad`` kinds) run on the tags themselves; an op with a weight matrix starts fresh tags; every
other op carries its input's tags over.

:meth:`ChannelSources.placements` then aligns producers to consumers: in execution order, the first dense
consumer (a convolution with one group, a linear layer) that reads a producer's channel at column ``c``
gives that channel the position ``c`` (:data:`ORDER_ATTR` of the producer: its weight's rows are decoded
at those positions); each dense consumer reads every column at its source's position
(:data:`SOURCES_ATTR`). For plain concatenations this makes every consumer read in order, with no two
columns alike; for shuffles the first reader of each channel reads it in order. A read that takes one
channel more than once (token mixing across positions, a flattened feature map) is not a channel read and
stays in order.

Channels that an elementwise op combines (a residual sum, a gate's product) share one position: a sum of
channels with different meanings would mix them. So such channels are tied, and the first reader of any of
them places them all. Positions without ties (:data:`UNTIED_ATTRS`) are kept beside, for checkpoints made
before ties (``GHNConfig.channel_ties``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.fx as fx

__all__ = ["ORDER_ATTR", "SOURCES_ATTR", "UNTIED_ATTRS", "ChannelSources", "Placement"]

#: node attribute: the position of each output channel of the node's weight (its rows), where not ``0, 1, ...``
ORDER_ATTR = "out_channel_order"
#: node attribute: the position each input column of the node's weight reads, where not ``0, 1, ...``
SOURCES_ATTR = "in_channel_sources"
#: the same positions without ties, under these attributes, where they differ (an empty tuple: in order)
UNTIED_ATTRS = {ORDER_ATTR: "out_channel_order_untied", SOURCES_ATTR: "in_channel_sources_untied"}

#: kinds whose op moves channels around: applied to the tags themselves (not dropout, which keeps every channel
#: in place: run on tags in a graph traced in train mode, stochastic depth scaled them into other producers' ids)
LAYOUT_KINDS = frozenset({"reshape", "slice", "concat", "pad", "identity"})
#: kinds that write new channels from a weight, by the axis that holds them
CHANNELS_FIRST = frozenset({"conv", "dwconv", "conv_transpose"})
CHANNELS_LAST = frozenset({"linear", "embedding", "attention", "rnn"})
#: of those, the ones whose weight rows are their output channels (positions can be given to them) and,
#: with one group, whose columns read their input's channels
DENSE = frozenset({"conv", "linear"})

#: ``({producer: position of each output channel}, {consumer: position each column reads})``
Placement = tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]

_SPAN = 2.0 ** 24  # tag = producer id · _SPAN + channel (exact in float64)


def _vector(tags: torch.Tensor, dim: int) -> torch.Tensor:
    """The tags along ``dim``, read at index 0 of every other axis."""
    return tags.movedim(dim, -1).reshape(-1, tags.shape[dim])[0]


def _broadcast(vec: torch.Tensor, dim: int, shape: torch.Size) -> torch.Tensor:
    view = [1] * len(shape)
    view[dim] = len(vec)
    return vec.view(view).expand(shape)


def _flat(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _flat(v)]
    return []


def _map(value: Any, fn) -> Any:
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, (tuple, list)):
        return type(value)(_map(v, fn) for v in value)
    return None


def _groups(node: fx.Node, module: torch.nn.Module | None) -> int:
    if module is not None:
        return int(getattr(module, "groups", 1) or 1)
    value = node.kwargs.get("groups", node.args[6] if node.op == "call_function" and len(node.args) > 6 else 1)
    return value if isinstance(value, int) else 1


class ChannelSources:
    """Channel tags of every value of one forward over an fx graph (see the module docstring)."""

    def __init__(self) -> None:
        self.tags: dict[str, Any] = {}
        self._producers: list[tuple[str, int] | None] = []  # per id: (node name, channels) if positions apply
        self._sizes: list[int] = []  # per id: its number of channels
        self._reads: dict[str, torch.Tensor] = {}  # dense consumer -> the tag each column reads
        self._ties: list[tuple[torch.Tensor, torch.Tensor]] = []  # tags combined elementwise, channel for channel

    def forget(self, name: str) -> None:
        """Drop a value's tags once its last user ran."""
        self.tags.pop(name, None)

    def _fresh(self, shape: torch.Size, dim: int, owner: tuple[str, int] | None = None) -> torch.Tensor:
        """New tags ``0 .. shape[dim]-1`` along ``dim`` of a new producer, broadcast over the other axes."""
        self._producers.append(owner)
        self._sizes.append(shape[dim])
        vec = (len(self._producers) - 1) * _SPAN + torch.arange(shape[dim], dtype=torch.float64)
        return _broadcast(vec, dim, shape)

    def step(self, node: fx.Node, kind: str | None, out: Any, values: dict[fx.Node, Any],
             module: torch.nn.Module | None = None) -> None:
        """Tags of ``node``'s output ``out``; ``kind``: its registry kind (None: unknown), ``values``: the
        forward's values by node (the sizes a reshape reads), ``module``: the module a ``call_module`` runs."""
        if not _flat(out):
            return
        if node.op in ("placeholder", "get_attr"):
            dim = (lambda v: 1 if v.dim() >= 2 else 0) if node.op == "placeholder" else (lambda v: v.dim() - 1)
            self.tags[node.name] = _map(out, lambda v: self._fresh(v.shape, dim(v)) if v.dim() else None)
            return
        if kind in CHANNELS_FIRST or kind in CHANNELS_LAST:
            self._produce(node, kind, out, module)
            return
        if kind in LAYOUT_KINDS:
            tags = self._rerun(node, values, module)
            if tags is not None and _map(tags, lambda t: t.shape) == _map(out, lambda v: v.shape):
                self.tags[node.name] = tags
                return
        inputs = [t for a in node.all_input_nodes for t in _flat(self.tags.get(a.name))]
        self.tags[node.name] = _map(out, lambda v: self._carry(v, inputs) if v.dim() else None)
        if len(inputs) > 1 and isinstance(out, torch.Tensor) and out.dim() >= 2:
            self._tie(inputs, out.shape)

    def _produce(self, node: fx.Node, kind: str, out: Any, module: torch.nn.Module | None) -> None:
        first = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
        dim = 1 if kind in CHANNELS_FIRST else -1
        dense = kind in DENSE and isinstance(out, torch.Tensor) and out.dim() >= 2
        if dense and first is not None and _groups(node, module) == 1:
            tags = self.tags.get(first.name)
            if isinstance(tags, torch.Tensor) and tags.dim() >= 2:
                vec = _vector(tags, 1 if kind == "conv" else tags.dim() - 1)
                if len(torch.unique(vec)) == len(vec):  # a channel read, not a read across positions
                    self._reads[node.name] = vec.clone()  # not a view that holds the whole tag tensor
        owner = (node.name, out.shape[dim]) if dense else None
        self.tags[node.name] = _map(out, lambda v: self._fresh(v.shape, dim % v.dim(), owner) if v.dim() >= 2 else None)

    def _carry(self, out: torch.Tensor, inputs: list[torch.Tensor]) -> torch.Tensor:
        """Tags of an op that keeps its input's channels (activation, norm, pooling, arithmetic, reduction)."""
        for t in inputs:
            if t.shape == out.shape:
                return t
        for t in inputs:
            if t.dim() == out.dim() >= 2 and t.shape[1] == out.shape[1]:
                return _broadcast(_vector(t, 1), 1, out.shape)
        for t in inputs:
            if t.dim() >= 2 and t.shape[-1] == out.shape[-1]:
                return _broadcast(_vector(t, t.dim() - 1), out.dim() - 1, out.shape)
        return self._fresh(out.shape, 1 if out.dim() >= 2 else 0)

    def _tie(self, inputs: list[torch.Tensor], shape: torch.Size) -> None:
        """Tie the channels that an elementwise op over ``inputs`` combines (see the module docstring)."""
        for dim in dict.fromkeys((1, len(shape) - 1)):  # one axis for a 2-D value
            vectors = [_vector(t, dim) for t in inputs if t.dim() == len(shape) and t.shape[dim] == shape[dim]
                       and all(t.shape[d] in (1, shape[d]) for d in range(len(shape)))
                       and torch.equal(t, _broadcast(_vector(t, dim), dim, t.shape))]
            vectors = [v for v in vectors if len(torch.unique(v)) == len(v)]  # a gate of one value ties nothing
            if len(vectors) > 1:
                self._ties.extend((vectors[0].clone(), vec.clone()) for vec in vectors[1:])
                return

    def _rerun(self, node: fx.Node, values: dict[fx.Node, Any], module: torch.nn.Module | None) -> Any:
        """The layout op of ``node`` applied to its inputs' tags (None where it does not run on them)."""
        def tag_or_value(a: fx.Node) -> Any:
            return self.tags[a.name] if a.name in self.tags else values[a]

        try:
            args = fx.node.map_arg(node.args, tag_or_value)
            kwargs = fx.node.map_arg(node.kwargs, tag_or_value)
            with torch.no_grad():
                if node.op == "call_module":
                    return module(*args, **kwargs)
                if node.op == "call_method":
                    return getattr(args[0], node.target)(*args[1:], **kwargs)
                return node.target(*args, **kwargs)
        except Exception:  # an op that does not run on float tags on the CPU: its input's tags carry over
            return None

    def _ids(self, tags: torch.Tensor, offsets: np.ndarray) -> np.ndarray:
        """Channel ids (``offsets[producer] + channel``, one per channel of every producer) of ``tags``."""
        t = tags.numpy()
        producer = (t // _SPAN).astype(np.int64)
        return offsets[producer] + (t - producer * _SPAN).astype(np.int64)

    def _components(self, offsets: np.ndarray, total: int) -> np.ndarray:
        """Per channel id, the smallest id of the channels tied to it (itself where none)."""
        label = np.arange(total, dtype=np.int64)
        if not self._ties:
            return label
        a = np.concatenate([self._ids(x, offsets) for x, _ in self._ties])
        b = np.concatenate([self._ids(y, offsets) for _, y in self._ties])
        while True:  # min-label propagation along the ties, with pointer jumping, to a fixed point
            low = np.minimum(label[a], label[b])
            new = label.copy()
            np.minimum.at(new, a, low)
            np.minimum.at(new, b, low)
            new = new[new]
            if np.array_equal(new, label):
                return label
            label = new

    def placements(self) -> tuple[Placement, Placement]:
        """``(with ties, without)``: each ``({producer: position of each output channel}, {consumer: position
        each column reads})``, by fx node name, only where not ``0, 1, 2, ...`` (see the module docstring). The
        two share everything but the tied sets, so they are placed together."""
        sizes = np.asarray(self._sizes, dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        total = int(offsets[-1])
        owned = np.repeat(np.asarray([p is not None for p in self._producers], dtype=bool), sizes)
        channel = np.arange(total, dtype=np.int64) - np.repeat(offsets[:-1], sizes)  # each id's own channel
        # what both placements share, computed once: each read's ids, which of them are placed, what an unplaced
        # id reads, and the in-order columns; each weight's output ids
        reads = []
        for name, tags in self._reads.items():  # execution order
            i = self._ids(tags, offsets)
            reads.append((name, i, owned[i], channel[i], np.arange(len(i))))
        outputs = [(owner[0], offsets[p] + np.arange(owner[1]), np.arange(owner[1]))
                   for p, owner in enumerate(self._producers) if owner is not None]
        flat = np.concatenate([i for _, i, *_ in reads]) if reads else np.zeros(0, dtype=np.int64)
        flat_cols = np.concatenate([cols for *_, cols in reads]) if reads else flat
        placed = owned[flat]
        flat, flat_cols = flat[placed], flat_cols[placed]

        def place(label: np.ndarray) -> Placement:
            # the first read (execution order) of any channel of a tied set gives the set its position: its column
            position = np.full(total, -1, dtype=np.int64)
            sets, first = np.unique(label[flat], return_index=True)
            position[sets] = flat_cols[first]
            sources: dict[str, tuple[int, ...]] = {}
            for name, i, own, unplaced, cols in reads:
                read = np.where(own, position[label[i]], unplaced)
                if not np.array_equal(read, cols):
                    sources[name] = tuple(read.tolist())
            orders: dict[str, tuple[int, ...]] = {}
            for name, i, cols in outputs:
                at = position[label[i]]
                order = np.where(at >= 0, at, cols)
                if not np.array_equal(order, cols):
                    orders.setdefault(name, tuple(order.tolist()))  # a weight called twice: its first call's
            return orders, sources

        return place(self._components(offsets, total)), place(np.arange(total, dtype=np.int64))
