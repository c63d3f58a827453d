"""Channel order: which output channel of which layer each input column of a weight reads.

A decoder that gives output channel ``r`` of a layer the meaning ``r mod t`` and reads input column ``c``
as meaning ``c mod t`` (repeated tiles) wires layers together where channels flow in order. Concatenations
of widths that are not multiples of ``t``, slices and channel shuffles break that: a consumer's column ``c``
then holds channel ``r != c`` of some producer. :class:`ChannelSources` follows, beside the one forward of
the shape pass, a tag per activation element: (producer, output channel), where a producer is the last op
with a weight matrix (or an input or a free tensor). Layout ops (the registry's ``reshape``, ``slice``,
``concat``, ``pad`` kinds) run on the tags themselves; an op with a weight matrix starts fresh tags; every
other op carries its input's tags over.

:meth:`ChannelSources.orders` then aligns producers to consumers: in execution order, the first dense
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

import torch
import torch.fx as fx

__all__ = ["ORDER_ATTR", "SOURCES_ATTR", "UNTIED_ATTRS", "ChannelSources"]

#: node attribute: the position of each output channel of the node's weight (its rows), where not ``0, 1, ...``
ORDER_ATTR = "out_channel_order"
#: node attribute: the position each input column of the node's weight reads, where not ``0, 1, ...``
SOURCES_ATTR = "in_channel_sources"
#: the same positions without ties, under these attributes, where they differ (an empty tuple: in order)
UNTIED_ATTRS = {ORDER_ATTR: "out_channel_order_untied", SOURCES_ATTR: "in_channel_sources_untied"}

#: kinds whose op moves channels around: applied to the tags themselves
LAYOUT_KINDS = frozenset({"reshape", "slice", "concat", "pad", "identity", "dropout"})
#: kinds that write new channels from a weight, by the axis that holds them
CHANNELS_FIRST = frozenset({"conv", "dwconv", "conv_transpose"})
CHANNELS_LAST = frozenset({"linear", "embedding", "attention", "rnn"})
#: of those, the ones whose weight rows are their output channels (positions can be given to them) and,
#: with one group, whose columns read their input's channels
DENSE = frozenset({"conv", "linear"})

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
        self._reads: dict[str, list[tuple[int, int]]] = {}  # dense consumer -> (producer id, channel) per column
        self._tied: dict[float, float] = {}  # union-find over tags of channels combined elementwise

    def forget(self, name: str) -> None:
        """Drop a value's tags once its last user ran."""
        self.tags.pop(name, None)

    def _fresh(self, shape: torch.Size, dim: int, owner: tuple[str, int] | None = None) -> torch.Tensor:
        """New tags ``0 .. shape[dim]-1`` along ``dim`` of a new producer, broadcast over the other axes."""
        self._producers.append(owner)
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
                pairs = [(int(v // _SPAN), int(v % _SPAN)) for v in vec.tolist()]
                if len(set(pairs)) == len(pairs):  # a channel read, not a read across positions
                    self._reads[node.name] = pairs
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

    def _root(self, tag: float) -> float:
        while (up := self._tied.get(tag, tag)) != tag:
            self._tied[tag] = self._tied.get(up, up)
            tag = up
        return tag

    def _tie(self, inputs: list[torch.Tensor], shape: torch.Size) -> None:
        """Tie the channels that an elementwise op over ``inputs`` combines (see the module docstring)."""
        for dim in dict.fromkeys((1, len(shape) - 1)):  # one axis for a 2-D value
            vectors = [_vector(t, dim) for t in inputs if t.dim() == len(shape) and t.shape[dim] == shape[dim]
                       and all(t.shape[d] in (1, shape[d]) for d in range(len(shape)))
                       and torch.equal(t, _broadcast(_vector(t, dim), dim, t.shape))]
            vectors = [v for v in vectors if len(set(v.tolist())) == len(v)]  # a gate of one value ties nothing
            if len(vectors) > 1:
                for vec in vectors[1:]:
                    for a, b in zip(vectors[0].tolist(), vec.tolist()):
                        ra, rb = self._root(a), self._root(b)
                        if ra != rb:
                            self._tied[max(ra, rb)] = min(ra, rb)
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

    def orders(self, tied: bool = True) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
        """``({producer: position of each output channel}, {consumer: position each column reads})``, by fx
        node name, only where not ``0, 1, 2, ...`` (see the module docstring); ``tied``: with ties."""
        root = self._root if tied else (lambda tag: tag)
        position: dict[float, int] = {}  # by the root of a channel's ties
        sources: dict[str, tuple[int, ...]] = {}
        for name, pairs in self._reads.items():  # execution order
            read = []
            for c, (p, r) in enumerate(pairs):
                if self._producers[p] is None:
                    read.append(r)
                else:
                    read.append(position.setdefault(root(p * _SPAN + r), c))
            if read != list(range(len(read))):
                sources[name] = tuple(read)
        orders: dict[str, tuple[int, ...]] = {}
        for p, owner in enumerate(self._producers):
            if owner is not None:
                name, channels = owner
                order = [position.get(root(p * _SPAN + r), r) for r in range(channels)]
                if order != list(range(channels)):
                    orders.setdefault(name, tuple(order))  # a weight called twice: its first call's
        return orders, sources
