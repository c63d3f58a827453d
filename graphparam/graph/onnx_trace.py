"""ONNX front end (tracing): an ONNX model becomes the same :class:`ArchGraph` as the PyTorch model it came from.

``trace_onnx`` walks the ONNX graph into :class:`RawOp` values for the shared builder. Initializers
that are parameters become :class:`ParamRef` values named after the initializer, so for a model
written by :func:`export_onnx` the graph's parameter slots equal the PyTorch model's
``named_parameters()`` one to one. Everything else (BatchNorm running statistics, int64 shape
tensors, ``Constant`` nodes and whatever is computed only from them) is a constant and not a node,
just as the torch.fx front end never sees Python-valued size arithmetic.

Which initializers are parameters, in order of precedence: the ``param_names`` argument; the list
that :func:`export_onnx` stores in the model's metadata (``graphparam.parameters``); the
``PARAMETER``/``BUFFER`` marks that torch's dynamo exporter leaves on the graph's value infos;
else a heuristic (float initializers that the data path reads, except BatchNorm statistics).

ONNX argument positions differ from torch's for some operations (BatchNormalization takes scale
and bias at 1 and 2, Gather takes the table at 0): the registry rows carry them as ``onnx_args``
(:func:`registry.onnx_rule`, listed in :data:`ONNX_PARAM_ARGS`).

A few exporter decompositions are mapped back to what the torch graph has, so that both front
ends give the same graph: ``MatMul(x, Transpose(W)) + Add(b)`` is one ``linear`` owning weight and
bias; ``Transpose``/``Cast``/``Identity`` of a parameter is the parameter; ``Identity`` of data and
the ``Squeeze`` that completes a ``Slice`` into a select are no nodes; and the rules of
:data:`REWRITES` (in :mod:`.onnx_rewrites`): ``x * Sigmoid(x)`` is one ``silu``; a ``ReduceMean``
of N×C×H×W to N×C×1×1 is a ``global_pool``; ``Gather`` is an ``embedding`` only when the table is a
parameter and the indices come from the data (else ``slice``).
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from graphparam.errors import OnnxError, UnsupportedOperation
from graphparam.graph import registry
from graphparam.graph.builder import ParamRef, RawOp, build_graph
from graphparam.graph.frontend import INPUT, OUTPUT, UNKNOWN
from graphparam.graph.ir import ArchGraph, Role
from graphparam.graph.onnx_io import FLOAT_TYPES, PARAMS_METADATA_KEY, load_onnx
from graphparam.graph.onnx_rewrites import REWRITES, Walk, folds_into_producer

__all__ = ["ONNX_PARAM_ARGS", "REWRITES", "trace_onnx"]

#: ONNX op type → {input position: role} for the inputs an op of that type owns (the registry's
#: ``onnx_args``). Op types not listed own nothing: a parameter they read becomes a ``parameter``
#: node of its own.
ONNX_PARAM_ARGS: dict[str, dict[int | str, Role]] = registry.onnx_param_args()
# inputs that hold buffers, never parameters (used by the heuristic for models of unknown origin)
_BUFFER_INPUTS = {"BatchNormalization": (3, 4)}
# ops that only re-view a parameter; their output stands for the parameter itself
_VIEW_OPS = {"Transpose", "Identity", "Cast"}
# input positions read only for their type or shape: data does not flow through them
_META_INPUTS: dict[str, tuple[int, ...] | None] = {"Shape": None, "Size": None, "CastLike": (1,), "EyeLike": None}
_CONTROL_FLOW = {"If", "Loop", "Scan", "SequenceMap"}


def _constant_value(tensor: TensorProto) -> float | None:
    """An initializer's value where all its elements are one number (see :func:`frontend.constant_value`);
    None where its data is external (not loaded) or not floating point."""
    if tensor.data_location == TensorProto.EXTERNAL or tensor.data_type not in FLOAT_TYPES:
        return None
    values = numpy_helper.to_array(tensor).reshape(-1)
    return float(values[0]) if values.size and bool((values == values[0]).all()) else None


def _op_key(node: onnx.NodeProto) -> str:
    """The registry key of a node's op type: ``OpType``, or ``domain.OpType`` outside the default domain."""
    return node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"


def _where(node: onnx.NodeProto, i: int) -> str:
    """Module path (from the torch exporter's name scopes, where present) and node name."""
    name = node.name or f"{node.op_type}_{i}"
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            try:  # cumulative module paths, then the torch op: ['', 'blocks', 'blocks.0', 'conv2d']
                scopes = [s for s in ast.literal_eval(prop.value)[:-1] if s]
            except (ValueError, SyntaxError):
                break
            if scopes:
                return f"{scopes[-1]} ({name})"
    return name


def _without_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with large float initializers turned into typed graph inputs: shape inference
    needs their shapes, not their values, and would otherwise copy every weight twice."""
    light = onnx.ModelProto(ir_version=model.ir_version)
    light.opset_import.extend(model.opset_import)
    light.functions.extend(model.functions)
    g, src = light.graph, model.graph
    g.name = src.name
    g.node.extend(src.node)
    g.input.extend(src.input)
    g.output.extend(src.output)
    g.value_info.extend(src.value_info)
    listed = {vi.name for vi in src.input}
    for t in src.initializer:
        if t.data_type in FLOAT_TYPES and int(np.prod(t.dims, dtype=np.int64)) > 64:
            if t.name not in listed:
                g.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
        else:
            g.initializer.append(t)
    return light


def _shape_map(model: onnx.ModelProto) -> dict[str, tuple[int | None, ...]]:
    try:
        inferred = onnx.shape_inference.infer_shapes(_without_weights(model), check_type=False,
                                                     strict_mode=False)
    except Exception:  # shapes are optional: a model shape inference cannot handle still traces
        inferred = model
    shapes: dict[str, tuple[int | None, ...]] = {}
    g = inferred.graph
    for vi in (*g.input, *g.value_info, *g.output):
        tt = vi.type.tensor_type
        if tt.HasField("shape"):
            shapes[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim)
    return shapes


def _out_shape(shapes: Mapping[str, tuple[int | None, ...]], value: str) -> tuple[int, ...] | None:
    dims = shapes.get(value)
    if dims is None or any(d is None for d in dims):
        return None
    return tuple(int(d) for d in dims[1:])


def _param_names(model: onnx.ModelProto, inits: Mapping[str, TensorProto],
                 explicit: Iterable[str] | None) -> set[str]:
    if explicit is not None:
        names = set(explicit)
        missing = sorted(names - inits.keys())
        if missing:
            raise OnnxError(f"param_names lists {len(missing)} name(s) that are no initializer: "
                            f"{', '.join(missing[:5])}")
        return names
    meta = {p.key: p.value for p in model.metadata_props}
    if PARAMS_METADATA_KEY in meta:
        try:
            return {n for n in json.loads(meta[PARAMS_METADATA_KEY]) if n in inits}
        except (ValueError, TypeError):
            pass
    kinds: dict[str, str] = {}
    for vi in (*model.graph.value_info, *model.graph.input):
        for prop in vi.metadata_props:
            if prop.key == "pkg.torch.export.graph_signature.InputSpec.kind":
                kinds[vi.name] = prop.value
    if any(kind == "PARAMETER" for kind in kinds.values()):
        return {n for n, kind in kinds.items() if kind == "PARAMETER" and n in inits}
    # heuristic for models of unknown origin
    buffers = {node.input[i] for node in model.graph.node
               for i in _BUFFER_INPUTS.get(node.op_type, ()) if len(node.input) > i}
    data_uses = {name for node in model.graph.node for pos, name in enumerate(node.input)
                 if _META_INPUTS.get(node.op_type, ()) is not None and pos not in _META_INPUTS.get(node.op_type, ())}
    return {name for name, t in inits.items()
            if t.data_type in FLOAT_TYPES and name not in buffers and name in data_uses
            and not name.endswith(("running_mean", "running_var"))}


def _attrs(node: onnx.NodeProto, kind: str, refs: Mapping[int, ParamRef]) -> dict[str, Any]:
    raw = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute
           if a.type in (onnx.AttributeProto.INT, onnx.AttributeProto.INTS, onnx.AttributeProto.FLOAT)}
    attrs: dict[str, Any] = {}
    weight = refs.get(1)
    if kind in ("conv", "conv_transpose", "max_pool", "avg_pool"):
        for src, dst in (("strides", "stride"), ("dilations", "dilation"), ("kernel_shape", "kernel_size")):
            if src in raw:
                attrs[dst] = tuple(int(v) for v in raw[src])
        if "pads" in raw:
            pads = tuple(int(v) for v in raw["pads"])
            half = len(pads) // 2
            attrs["padding"] = pads[:half] if pads[:half] == pads[half:] else pads
    if kind in ("conv", "conv_transpose"):
        groups = int(raw.get("group", 1))
        attrs["groups"] = groups
        if weight is not None and len(weight.shape) >= 3:
            attrs.setdefault("kernel_size", tuple(int(s) for s in weight.shape[2:]))
            out_c, in_c = int(weight.shape[0]), int(weight.shape[1])
            if kind == "conv_transpose":
                out_c, in_c = in_c * groups, out_c
            else:
                in_c *= groups
            attrs["in_channels"], attrs["out_channels"] = in_c, out_c
    if kind == "linear" and weight is not None and len(weight.shape) == 2:
        trans_b = raw.get("transB", 0) if node.op_type == "Gemm" else 1  # fused MatMul: torch's [out, in]
        out_f, in_f = weight.shape if trans_b else weight.shape[::-1]
        attrs["in_features"], attrs["out_features"] = int(in_f), int(out_f)
    return attrs


def trace_onnx(source: str | os.PathLike | bytes | onnx.ModelProto, *, strict: bool = True,
               name: str | None = None, param_names: Iterable[str] | None = None) -> ArchGraph:
    """Trace an ONNX model (path, bytes or ``ModelProto``) into an :class:`ArchGraph`.

    Parameter slots are named after their initializers. ``param_names`` overrides which
    initializers are parameters. Unknown op types raise :class:`UnsupportedOperation` naming the
    op type and node; with ``strict=False`` they become nodes of kind ``unknown``. Files that are
    missing, truncated or not ONNX raise :class:`FileNotFoundError` / :class:`OnnxError`.
    """
    model = load_onnx(source, load_external_data=False)
    if model.functions:
        model = onnx.inliner.inline_local_functions(model)
    if name is None:
        name = Path(source).stem if isinstance(source, (str, os.PathLike)) else (model.graph.name or "onnx")
    graph = model.graph
    shapes = _shape_map(model)
    inits = {t.name: t for t in graph.initializer}
    params = {n: ParamRef(n, tuple(int(d) for d in inits[n].dims), FLOAT_TYPES.get(inits[n].data_type, "float32"),
                          _constant_value(inits[n]))
              for n in _param_names(model, inits, param_names)}

    ref: dict[str, ParamRef] = dict(params)  # see Walk
    transposed: set[str] = set()
    produced: dict[str, int] = {}
    ops: list[RawOp] = []
    for vi in graph.input:
        if vi.name in inits:
            continue
        produced[vi.name] = len(ops)
        ops.append(RawOp(vi.name, INPUT, "input", attrs=_shape_attr(shapes, vi.name)))
    input_size = next((tuple(int(d) for d in shapes[vi.name][1:]) for vi in graph.input
                       if vi.name not in inits and vi.name in shapes
                       and all(d is not None for d in shapes[vi.name])), None)

    walk = Walk(graph, shapes, ref, transposed, produced)
    consumers, producer, graph_outputs = walk.consumers, walk.producer, walk.graph_outputs
    fused, silu = walk.fused, walk.silu
    silu_sigmoids = set(silu.values())

    for j, node in enumerate(graph.node):
        meta = _META_INPUTS.get(node.op_type, ())
        live = [(pos, v) for pos, v in enumerate(node.input) if v and (v in ref or v in produced)
                and meta is not None and pos not in meta]
        if j in fused:  # bias Add of a linear: its output is the linear's
            produced[node.output[0]] = produced[graph.node[fused[j]].output[0]]
            continue
        if j in silu_sigmoids:  # computed by the Mul that follows, as one silu
            continue
        if j in silu:
            x = graph.node[silu[j]].input[0]
            live = [(0, x)] if x in ref or x in produced else []
        if not live and node.op_type not in _CONTROL_FLOW:
            continue  # constant, or computed only from constants and shapes
        if node.op_type in _VIEW_OPS and live[0][0] == 0 and live[0][1] in ref and len(live) == 1:
            ref[node.output[0]] = ref[live[0][1]]
            perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
            if node.op_type == "Transpose" and len(ref[node.output[0]].shape) == 2 and perm in (None, [1, 0]):
                transposed.add(node.output[0])
            elif live[0][1] in transposed and node.op_type != "Transpose":
                transposed.add(node.output[0])
            continue
        if folds_into_producer(node, live, graph, producer, consumers, graph_outputs):
            produced[node.output[0]] = produced[live[0][1]]
            continue

        target = _op_key(node)
        rule = registry.onnx_rule(target)
        rewrite = REWRITES.get(node.op_type)
        if rewrite is not None:
            rule = rewrite(walk, j, node, rule, live)
        if rule is None:
            if strict:
                raise UnsupportedOperation(f"ONNX op {target}", _where(node, j))
            rule = UNKNOWN
        inputs: list[tuple[int | str, int | ParamRef]] = [
            (pos, ref[v]) if v in ref else (pos, produced[v]) for pos, v in live]
        refs = {pos: ref[v] for pos, v in live if v in ref}
        attrs = _shape_attr(shapes, node.output[0] if node.output else "")
        attrs.update(_attrs(node, rule.kind, refs))
        for out in node.output:
            if out:
                produced[out] = len(ops)
        op_name = node.name or f"{node.op_type}_{j}"
        if rule.kind == "linear" and node.op_type == "MatMul" and j in fused.values():
            add = graph.node[next(k for k, v in fused.items() if v == j)]
            op_name = add.name or op_name  # the Add ends the linear: torch names the op after it
        ops.append(RawOp(op_name, rule, target, inputs, [], attrs))

    outputs = [(i, ref[o.name]) if o.name in ref else (i, produced[o.name])
               for i, o in enumerate(graph.output) if o.name in ref or o.name in produced]
    ops.append(RawOp("output", OUTPUT, "output", outputs))
    arch = build_graph(ops, name=name, input_size=input_size, all_params=params)
    arch.frontend = "onnx"
    return arch


def _shape_attr(shapes: Mapping[str, tuple[int | None, ...]], value: str) -> dict[str, Any]:
    shape = _out_shape(shapes, value)
    return {"out_shape": shape} if shape is not None else {}
