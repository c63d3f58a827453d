"""ONNX exporter decompositions mapped back to the op the torch graph has, for :func:`~.onnx_trace.trace_onnx`.

The rules of :data:`REWRITES`, keyed by ONNX op type, read the state of one trace walk (:class:`Walk`):
``x * Sigmoid(x)`` is one ``silu``; a ``ReduceMean`` of N×C×H×W to N×C×1×1 is a ``global_pool``;
``Gather`` is an ``embedding`` only when the table is a parameter and the indices come from the data
(else ``slice``); ``MatMul(x, Transpose(W))`` with the ``Add(b)`` that alone reads it is one ``linear``
owning weight and bias. :func:`folds_into_producer` names the exporter artefacts that are no node at all
(``Identity`` of data, the ``Squeeze`` that completes a ``Slice`` into a select).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import onnx

from graphparam.graph.builder import ParamRef
from graphparam.graph.frontend import SLICE
from graphparam.graph.ir import Role
from graphparam.graph.registry import OpRule

__all__ = ["REWRITES", "Rewrite", "Walk", "folds_into_producer"]

W, B = Role.WEIGHT, Role.BIAS


@dataclass
class Walk:
    """What the rewrites of one :func:`trace_onnx` walk read (and, for a fused linear bias, write)."""

    graph: onnx.GraphProto
    shapes: Mapping[str, tuple[int | None, ...]]
    ref: dict[str, ParamRef]     # value → the parameter it is (or is a view of)
    transposed: set[str]         # values that are a 2-D parameter transposed (torch's linear weight)
    produced: dict[str, int]     # value → index of the RawOp that computes it
    consumers: dict[str, list[int]] = field(init=False)
    producer: dict[str, int] = field(init=False)
    graph_outputs: set[str] = field(init=False)
    fused: dict[int, int] = field(init=False, default_factory=dict)  # bias Add index → its linear's MatMul index
    silu: dict[int, int] = field(init=False)  # Mul index → Sigmoid index, for x * sigmoid(x)

    def __post_init__(self) -> None:
        self.consumers = {}
        for j, node in enumerate(self.graph.node):
            for v in node.input:
                self.consumers.setdefault(v, []).append(j)
        self.graph_outputs = {o.name for o in self.graph.output}
        self.producer = {o: j for j, node in enumerate(self.graph.node) for o in node.output if o}
        self.silu = _silu_pairs(self.graph, self.consumers, self.graph_outputs)


#: a rewrite gets the walk, the node's index, the node, its registry rule (None: unknown) and its
#: live inputs (which it may extend), and returns the rule to use
Rewrite = Callable[[Walk, int, onnx.NodeProto, "OpRule | None", list], "OpRule | None"]


def _gather_as_slice(walk: Walk, j: int, node: onnx.NodeProto, rule: OpRule | None, live: list) -> OpRule | None:
    """``Gather`` is an embedding only when a parameter table is indexed by data; else slicing."""
    if rule is not None and not (len(node.input) > 1 and node.input[0] in walk.ref
                                 and node.input[1] in walk.produced):
        return SLICE
    return rule


def _reduce_mean_as_global_pool(walk: Walk, j: int, node: onnx.NodeProto, rule: OpRule | None,
                                live: list) -> OpRule | None:
    """``adaptive_avg_pool2d(x, 1)`` exports as a mean over H, W."""
    return OpRule("global_pool") if rule is not None and _is_global_pool(node, walk.shapes) else rule


def _mul_as_silu(walk: Walk, j: int, node: onnx.NodeProto, rule: OpRule | None, live: list) -> OpRule | None:
    """``x * Sigmoid(x)`` (how SiLU exports) is one ``silu``."""
    return OpRule("silu") if j in walk.silu else rule


def _matmul_as_linear(walk: Walk, j: int, node: onnx.NodeProto, rule: OpRule | None,
                      live: list) -> OpRule | None:
    """``MatMul(x, Transpose(W))``, with the ``Add(b)`` that alone reads it, is one ``linear``."""
    if not (len(node.input) > 1 and node.input[1] in walk.transposed):
        return rule
    bias = _linear_bias(node, j, walk.graph, walk.consumers, walk.graph_outputs, walk.ref)
    if bias is not None:
        add_index, bias_value = bias
        walk.fused[add_index] = j
        live.append((2, bias_value))
    return OpRule("linear", {1: W, 2: B})


#: ONNX op type → the rewrite that maps an exporter decomposition back to the torch graph's op
REWRITES: dict[str, Rewrite] = {
    "Gather": _gather_as_slice,
    "ReduceMean": _reduce_mean_as_global_pool,
    "Mul": _mul_as_silu,
    "MatMul": _matmul_as_linear,
}


def _is_global_pool(node: onnx.NodeProto, shapes: Mapping[str, tuple[int | None, ...]]) -> bool:
    """A ``ReduceMean`` of an N×C×H×W… tensor to N×C×1×1…: what ``adaptive_avg_pool2d(x, 1)`` exports as."""
    src, out = shapes.get(node.input[0]), shapes.get(node.output[0])
    return (src is not None and out is not None and len(src) == len(out) >= 4 and None not in src
            and src[:2] == out[:2] and all(d == 1 for d in out[2:]))


def folds_into_producer(node: onnx.NodeProto, live: list[tuple[int, str]], graph: onnx.GraphProto,
                        producer: Mapping[str, int], consumers: Mapping[str, list[int]],
                        graph_outputs: set[str]) -> bool:
    """Exporter artefacts with no torch counterpart: ``Identity`` of data, and the ``Squeeze`` that
    completes a ``Slice`` into a select (``x[:, 0]``, ``unbind``)."""
    if len(live) != 1 or live[0][0] != 0 or len(node.output) != 1:
        return False
    if node.op_type == "Identity":
        return True
    src = live[0][1]
    return (node.op_type == "Squeeze" and src in producer and graph.node[producer[src]].op_type == "Slice"
            and len(consumers.get(src, ())) == 1 and src not in graph_outputs)


def _silu_pairs(graph: onnx.GraphProto, consumers: Mapping[str, list[int]],
                graph_outputs: set[str]) -> dict[int, int]:
    """``Mul(x, Sigmoid(x))`` (how SiLU exports) as Mul index → Sigmoid index, where the sigmoid
    has no other reader."""
    pairs: dict[int, int] = {}
    for j, node in enumerate(graph.node):
        if node.op_type != "Sigmoid" or node.domain not in ("", "ai.onnx") or not node.input:
            continue
        out, users = node.output[0], consumers.get(node.output[0], [])
        if len(users) != 1 or out in graph_outputs:
            continue
        mul = graph.node[users[0]]
        if mul.op_type == "Mul" and sorted(mul.input) == sorted([node.input[0], out]):
            pairs[users[0]] = j
    return pairs


def _linear_bias(node: onnx.NodeProto, j: int, graph: onnx.GraphProto, consumers: Mapping[str, list[int]],
                 graph_outputs: set[str], ref: Mapping[str, ParamRef]) -> tuple[int, str] | None:
    """The ``Add`` of a 1-D parameter that is the only reader of a linear MatMul's output, if any."""
    out = node.output[0]
    users = consumers.get(out, [])
    if len(users) != 1 or out in graph_outputs:
        return None
    add = graph.node[users[0]]
    if add.op_type != "Add" or len(add.input) != 2:
        return None
    other = add.input[1] if add.input[0] == out else add.input[0]
    weight = ref[node.input[1]]
    bias = ref.get(other)
    if bias is None or len(bias.shape) != 1 or bias.shape[0] != weight.shape[0]:
        return None
    return users[0], other
