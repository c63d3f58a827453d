"""torch.export front end: the fallback for models torch.fx cannot trace symbolically.

Export specialises on the example input's shapes, so shape-dependent Python (window sizes,
position-embedding resampling) and opaque blocks resolve to primitive aten operations.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn

from graphparam.graph import registry
from graphparam.graph.builder import ParamRef, RawOp
from graphparam.graph.frontend import CONSTANT, INPUT, OUTPUT, UNKNOWN, parameter_table
from graphparam.graph.fx import is_tensorish, node_inputs, shape_of, where
from graphparam.graph.registry import UnsupportedOperation


def export_program(model: nn.Module, example: torch.Tensor) -> torch.export.ExportedProgram:
    return torch.export.export(model, (example,), strict=False)


def export_ops(model: nn.Module, program: torch.export.ExportedProgram, *,
               strict: bool) -> tuple[list[RawOp], dict[str, ParamRef]]:
    """Walk an exported program into RawOps, mapping parameter placeholders back to model names."""
    table = parameter_table(model)
    params, alias = table.refs, table.canonical
    sig = program.graph_signature
    placeholder_param = dict(sig.inputs_to_parameters)
    ops: list[RawOp] = []
    index: dict[str, int] = {}
    param_of: dict[str, ParamRef] = {}
    user_inputs = set(sig.user_inputs)

    for node in program.graph.nodes:
        val = node.meta.get("val")
        is_tensor, shape = is_tensorish(val), shape_of(val)
        attrs: dict[str, Any] = {"out_shape": shape} if shape is not None else {}
        if node.op == "placeholder":
            if node.name in placeholder_param:
                name = alias.get(placeholder_param[node.name], placeholder_param[node.name])
                param_of[node.name] = params.get(name) or ParamRef(name, tuple(node.meta["val"].shape))
                continue
            rule = INPUT if node.name in user_inputs else CONSTANT
            if rule is CONSTANT and _read_by_norms_only(node):
                continue  # a norm layer's running statistics: fx keeps the layer whole, so no node there either
            ops.append(RawOp(node.name, rule, "input" if rule is INPUT else "buffer", attrs=attrs,
                             is_tensor=is_tensor))
        elif node.op == "get_attr":
            ops.append(RawOp(node.name, CONSTANT, f"attr:{node.target}", attrs=attrs, is_tensor=is_tensor))
        elif node.op == "call_function":
            rule = registry.aten_rule(node.target)
            if rule is None:
                if not is_tensor:
                    rule = UNKNOWN
                elif strict:
                    raise UnsupportedOperation(f"aten op {node.target}", where(node))
                else:
                    rule = UNKNOWN
            if rule.kind == "conv":
                attrs.update(_conv_attrs(node))
            inputs = node_inputs(node, index, param_of)
            ops.append(RawOp(node.name, rule, str(node.target), inputs, [], attrs, is_tensor))
        elif node.op == "output":
            ops.append(RawOp(node.name, OUTPUT, "output", node_inputs(node, index, param_of), attrs=attrs))
        else:
            continue
        index[node.name] = len(ops) - 1
    return ops, params


def _read_by_norms_only(node: fx.Node) -> bool:
    """Whether only normalization ops read ``node`` (or nothing does: ``num_batches_tracked`` in eval mode)."""
    rules = [registry.aten_rule(user.target) if user.op == "call_function" else None for user in node.users]
    return all(rule is not None and rule.kind in registry.NORM_KINDS for rule in rules)


def _conv_attrs(node: fx.Node) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    args = node.args
    packet = getattr(node.target, "overloadpacket", None)
    if packet is torch.ops.aten.convolution or packet is torch.ops.aten._convolution:
        keys = {3: "stride", 4: "padding", 5: "dilation", 8: "groups"}
    else:
        keys = {3: "stride", 4: "padding", 5: "dilation", 6: "groups"}
    for pos, key in keys.items():
        if len(args) > pos and isinstance(args[pos], (int, list, tuple)):
            value = args[pos]
            attrs[key] = tuple(value) if isinstance(value, (list, tuple)) else int(value)
    return attrs
