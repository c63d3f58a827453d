"""Shared assembly of an :class:`ArchGraph` from the operations a front end walks.

Every front end (torch.fx, torch.export, ONNX) describes operations in topological order as
:class:`RawOp` values whose inputs are other ops or parameter tensors. The builder decides
ownership in one place: a parameter goes to the first op whose rule names that input position
(a conv's weight), else it becomes a ``parameter`` node of its own whose role comes from how it
is used (a class token, a positional embedding, a layer scale).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from graphparam.graph.features import activation_after
from graphparam.graph.ir import ArchGraph, GraphError, Node, ParamSlot, Role
from graphparam.graph.registry import OpRule, default_role, free_param_role


@dataclass(frozen=True)
class ParamRef:
    """An input that is a parameter tensor of the model (or an ONNX initializer)."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    init: float | None = None  # the tensor's value where it is one constant (see free_param_role)


@dataclass
class RawOp:
    """One operation as a front end sees it, before ownership is decided.

    ``inputs`` holds ``(position, source)`` pairs; a source is the index of an earlier RawOp or a
    :class:`ParamRef`. ``owned`` lists tensors a module owns outright: ``(ParamRef, attribute)``.
    ``is_tensor`` is False for ops that compute only Python values (sizes), which are dropped.
    """

    name: str
    rule: OpRule
    target: str
    inputs: list[tuple[int | str, int | ParamRef]] = field(default_factory=list)
    owned: list[tuple[ParamRef, str]] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    is_tensor: bool = True


def _slot(ref: ParamRef, role: Role) -> ParamSlot:
    return ParamSlot(ref.name, tuple(int(s) for s in ref.shape), role, ref.dtype)


def build_graph(ops: list[RawOp], *, name: str, input_size: tuple[int, ...] | None,
                all_params: dict[str, ParamRef]) -> ArchGraph:
    """Assemble the graph and check that every parameter in ``all_params`` is owned exactly once."""
    owner: dict[str, int] = {}
    free_uses: dict[str, list[int]] = {}
    keep = [op.is_tensor or op.owned for op in ops]

    for i, op in enumerate(ops):
        if not keep[i]:
            continue
        for ref, _ in op.owned:
            owner.setdefault(ref.name, i)
        for pos, src in op.inputs:
            if isinstance(src, ParamRef):
                if pos in op.rule.param_args:
                    owner.setdefault(src.name, i)
                else:
                    free_uses.setdefault(src.name, []).append(i)

    # parameters used only by ops that do not own them become nodes of their own
    free = {pname: uses for pname, uses in free_uses.items() if pname not in owner}
    consumers: dict[int, list[tuple[int, int | str]]] = {}
    for j, op in enumerate(ops):
        for pos, src in op.inputs:
            if isinstance(src, int) and keep[j]:
                consumers.setdefault(src, []).append((j, pos))
    first_use = {uses[0]: [] for uses in free.values()}
    for pname, uses in free.items():
        first_use[uses[0]].append(pname)

    nodes: list[Node] = []
    new_index: dict[int, int] = {}
    param_node: dict[str, int] = {}
    edges: set[tuple[int, int]] = set()
    for i, op in enumerate(ops):
        if not keep[i]:
            continue
        for pname in first_use.get(i, ()):
            ref = all_params[pname]
            role = free_param_role(ref.shape, _computing_uses(ops, consumers, pname, free[pname]), ref.init)
            param_node[pname] = len(nodes)
            nodes.append(Node(pname, "parameter", "nn.Parameter", [_slot(ref, role)]))
        node = Node(op.name, op.rule.kind, op.target, attrs=dict(op.attrs))
        idx = len(nodes)
        for ref, attr in op.owned:
            if owner[ref.name] == i and not any(s.name == ref.name for s in node.params):
                node.params.append(_slot(ref, op.rule.roles.get(attr) or default_role(op.rule.kind, attr)))
            elif ref.name not in node.shared and owner[ref.name] != i:
                node.shared.append(ref.name)
        for pos, src in op.inputs:
            if isinstance(src, ParamRef):
                if src.name in param_node:
                    edges.add((param_node[src.name], idx))
                elif owner.get(src.name) == i:
                    if not any(s.name == src.name for s in node.params):
                        node.params.append(_slot(src, op.rule.param_args[pos]))
                elif src.name not in node.shared:
                    node.shared.append(src.name)
            elif src in new_index:
                edges.add((new_index[src], idx))
        new_index[i] = idx
        nodes.append(node)

    nodes, edge_list = _collapse_passthrough(nodes, sorted(edges))
    _refine(nodes, edge_list)
    unused = [ref for pname, ref in all_params.items() if pname not in owner and pname not in param_node]
    if unused:
        warnings.warn(f"{name}: {len(unused)} parameter(s) never used in forward, kept as isolated "
                      f"'parameter' nodes: {', '.join(r.name for r in unused[:5])}", stacklevel=3)
        for ref in unused:
            nodes.append(Node(ref.name, "parameter", "nn.Parameter", [_slot(ref, Role.OTHER)],
                              attrs={"unused": True}))
    graph = ArchGraph(nodes, edge_list, name=name, input_size=input_size)
    expected = sum(ref_numel(r) for r in all_params.values())
    if graph.num_params != expected:
        raise GraphError(f"{name}: traced graph owns {graph.num_params:,} of {expected:,} parameter values")
    return graph


def _computing_uses(ops: list[RawOp], consumers: dict[int, list[tuple[int, int | str]]], pname: str,
                    uses: list[int]) -> list[tuple[str, Role | None]]:
    """The ops that compute with parameter ``pname``, followed through reshapes (a layer scale is often
    ``x * gamma.view(1, -1, 1, 1)``): each op's kind and the role its rule gives the input position reached."""
    found: list[tuple[str, Role | None]] = []
    todo = [(u, pos) for u in dict.fromkeys(uses) for pos, src in ops[u].inputs
            if isinstance(src, ParamRef) and src.name == pname]
    seen: set[int] = set()
    while todo:
        u, pos = todo.pop()
        rule = ops[u].rule
        if rule.kind == "reshape" and consumers.get(u) and u not in seen:
            seen.add(u)
            todo.extend(consumers[u])
        else:
            found.append((rule.kind, rule.param_args.get(pos)))
    return found


def ref_numel(ref: ParamRef) -> int:
    n = 1
    for s in ref.shape:
        n *= int(s)
    return n


PASSTHROUGH_KINDS = ("identity", "dropout")


def _collapse_passthrough(nodes: list[Node], edges: list[tuple[int, int]]) -> tuple[list[Node], list[tuple[int, int]]]:
    """Remove parameter-free identity and dropout nodes, linking their inputs to their consumers."""
    drop = [n.kind in PASSTHROUGH_KINDS and not n.params and not n.shared for n in nodes]
    if not any(drop):
        return nodes, edges
    preds: list[list[int]] = [[] for _ in nodes]
    for src, dst in edges:
        preds[dst].append(src)

    def sources(i: int) -> list[int]:  # nearest kept ancestors (preds are resolved first: topological order)
        return resolved[i] if drop[i] else [i]

    resolved: list[list[int]] = [[] for _ in nodes]
    for i in range(len(nodes)):
        if drop[i]:
            resolved[i] = sorted({s for p in preds[i] for s in sources(p)})
    new_index, kept = {}, []
    for i, node in enumerate(nodes):
        if not drop[i]:
            new_index[i] = len(kept)
            kept.append(node)
    new_edges = {(new_index[s], new_index[dst]) for src, dst in edges if not drop[dst] for s in sources(src)}
    return kept, sorted(new_edges)


def _refine(nodes: list[Node], edges: list[tuple[int, int]]) -> None:
    """Kinds and attributes that follow from shapes and neighbours: depthwise convs, a following activation."""
    succ: list[list[int]] = [[] for _ in nodes]
    for src, dst in edges:
        succ[src].append(dst)
    for i, node in enumerate(nodes):
        if node.kind == "conv" and node.params:
            weight = node.params[0].shape
            groups = int(node.attrs.get("groups", 1) or 1)
            if groups > 1 and len(weight) >= 2 and weight[1] == 1:
                node.kind = "dwconv"
        if node.params:  # an activation right after the op (look-ups through norms come later, per GHN)
            node.attrs["act_after"] = activation_after(nodes, i, succ, depth=1, through=())
