"""ONNX front end: an ONNX model becomes the same :class:`ArchGraph` as the PyTorch model it came from.

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
and bias at 1 and 2, Gather takes the table at 0), so ownership positions for ONNX op types are
in :data:`ONNX_PARAM_ARGS`; the op *kinds* come from the registry (:func:`registry.onnx_rule`).

A few exporter decompositions are mapped back to what the torch graph has, so that both front
ends give the same graph: ``MatMul(x, Transpose(W)) + Add(b)`` is one ``linear`` owning weight and
bias; ``Transpose``/``Cast``/``Identity`` of a parameter is the parameter; ``Identity`` of data and
the ``Squeeze`` that completes a ``Slice`` into a select are no nodes; ``x * Sigmoid(x)`` is one
``silu``; a ``ReduceMean`` of
N×C×H×W to N×C×1×1 is a ``global_pool``; ``Gather`` is an ``embedding`` only when the table is a
parameter and the indices come from the data (else ``slice``).
"""

from __future__ import annotations

import ast
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from graphparam.errors import OnnxError
from graphparam.graph import registry
from graphparam.graph.builder import ParamRef, RawOp, build_graph
from graphparam.graph.ir import ArchGraph, Role
from graphparam.graph.registry import OpRule, UnsupportedOperation

__all__ = ["DEFAULT_OPSET", "ONNX_PARAM_ARGS", "OnnxError", "PARAMS_METADATA_KEY", "export_onnx", "load_onnx", "trace_onnx",
           "write_initializers"]

PARAMS_METADATA_KEY = "graphparam.parameters"
#: opset 23 has ``Attention`` and ``GroupNormalization`` (21), so SDPA and GroupNorm export as one
#: op each, as in the torch graph, instead of a dozen primitives
DEFAULT_OPSET = 23

W, B, S, T = Role.WEIGHT, Role.BIAS, Role.NORM_SCALE, Role.NORM_SHIFT

#: ONNX op type → {input position: role} for the inputs an op of that type owns. Op types not
#: listed own nothing: a parameter they read becomes a ``parameter`` node of its own.
ONNX_PARAM_ARGS: dict[str, dict[int, Role]] = {
    "Conv": {1: W, 2: B},
    "ConvTranspose": {1: W, 2: B},
    "Gemm": {1: W, 2: B},
    "MatMul": {1: W},
    "BatchNormalization": {1: S, 2: T},  # 3, 4: running mean and variance, buffers
    "LayerNormalization": {1: S, 2: T},
    "GroupNormalization": {1: S, 2: T},
    "InstanceNormalization": {1: S, 2: T},
    "RMSNormalization": {1: S},
    "Gather": {0: Role.EMBEDDING},  # an embedding only where the indices come from the data
    "PRelu": {1: W},
}
# inputs that hold buffers, never parameters (used by the heuristic for models of unknown origin)
_BUFFER_INPUTS = {"BatchNormalization": (3, 4)}
# ops that only re-view a parameter; their output stands for the parameter itself
_VIEW_OPS = {"Transpose", "Identity", "Cast"}
# input positions read only for their type or shape: data does not flow through them
_META_INPUTS: dict[str, tuple[int, ...] | None] = {"Shape": None, "Size": None, "CastLike": (1,), "EyeLike": None}
_CONTROL_FLOW = {"If", "Loop", "Scan", "SequenceMap"}
_FLOAT_TYPES = {TensorProto.FLOAT: "float32", TensorProto.FLOAT16: "float16",
                TensorProto.BFLOAT16: "bfloat16", TensorProto.DOUBLE: "float64"}
_INPUT, _OUTPUT, _UNKNOWN = OpRule("input"), OpRule("output"), OpRule("unknown")
_SLICE = OpRule("slice")
_EXTERNAL_LIMIT = 1_800_000_000  # bytes; protobuf cannot serialise 2 GiB, larger models go external


def _first_line(exc: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


# ---- loading and validation ------------------------------------------------------------------------
def load_onnx(source: str | os.PathLike | bytes | onnx.ModelProto, *,
              load_external_data: bool = True) -> onnx.ModelProto:
    """Load and structurally check an ONNX model; every failure is a one-line :class:`OnnxError`.

    A path that does not exist raises :class:`FileNotFoundError`. A ``ModelProto`` is checked and
    returned as is (not copied).
    """
    if isinstance(source, onnx.ModelProto):
        model, label = source, f"ONNX model {source.graph.name or '(unnamed)'}"
    elif isinstance(source, (bytes, bytearray)):
        label = "ONNX bytes"
        try:
            model = onnx.load_model_from_string(bytes(source))
        except Exception as exc:
            raise OnnxError(f"{label} are not a readable ONNX model ({_first_line(exc)})") from None
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = str(path)
        if not path.exists():
            raise FileNotFoundError(f"ONNX file not found: {path}")
        if path.is_dir():
            raise OnnxError(f"{path} is a directory, not an ONNX file")
        try:
            model = onnx.load(str(path), load_external_data=load_external_data)
        except Exception as exc:
            raise OnnxError(f"{path} is not a readable ONNX model: truncated, corrupt or not ONNX "
                            f"({_first_line(exc)})") from None
    else:
        raise TypeError(f"expected a path, bytes or onnx.ModelProto, got {type(source).__name__}")
    _validate(model, label)
    return model


def _validate(model: onnx.ModelProto, label: str) -> None:
    graph = model.graph
    if not model.HasField("graph") or not graph.node or not graph.output:
        raise OnnxError(f"{label} is not an ONNX model: it has no graph with nodes and outputs")
    if model.ir_version <= 0 or not model.opset_import:
        raise OnnxError(f"{label} is not an ONNX model: no IR version or opset import")
    defined = {v.name for v in graph.input} | {t.name for t in graph.initializer}
    defined |= {t.values.name for t in graph.sparse_initializer}
    for i, node in enumerate(graph.node):
        for name in node.input:
            if name and name not in defined:
                raise OnnxError(f"{label}: node {node.name or i} ({node.op_type}) reads {name!r}, which no "
                                "earlier node, input or initializer defines (truncated file or unsorted graph)")
        defined.update(o for o in node.output if o)
    for out in graph.output:
        if out.name not in defined:
            raise OnnxError(f"{label}: graph output {out.name!r} is never computed (truncated file?)")
    for t in graph.initializer:
        if t.data_location == TensorProto.EXTERNAL or t.data_type not in _FLOAT_TYPES:
            continue
        numel = int(np.prod(t.dims, dtype=np.int64)) if t.dims else 1
        itemsize = 8 if t.data_type == TensorProto.DOUBLE else 4 if t.data_type == TensorProto.FLOAT else 2
        have = (len(t.raw_data) // itemsize if t.raw_data else
                len(t.double_data) if t.data_type == TensorProto.DOUBLE else
                len(t.float_data) if t.data_type == TensorProto.FLOAT else len(t.int32_data))
        if have != numel:
            raise OnnxError(f"{label}: initializer {t.name!r} holds {have} values but its shape "
                            f"{list(t.dims)} needs {numel} (truncated file?)")


# ---- tracing ------------------------------------------------------------------------------------
def _rule(op_type: str, domain: str) -> OpRule | None:
    """Registry kind with ONNX argument positions (``OpRule.onnx_args`` where the registry has it)."""
    key = op_type if domain in ("", "ai.onnx") else f"{domain}.{op_type}"
    rule = registry.onnx_rule(key)
    if rule is None:
        return None
    args = getattr(rule, "onnx_args", None) or ONNX_PARAM_ARGS.get(op_type, {})
    return OpRule(rule.kind, dict(args), dict(rule.roles))


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
        if t.data_type in _FLOAT_TYPES and int(np.prod(t.dims, dtype=np.int64)) > 64:
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
            if t.data_type in _FLOAT_TYPES and name not in buffers and name in data_uses
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
    params = {n: ParamRef(n, tuple(int(d) for d in inits[n].dims), _FLOAT_TYPES.get(inits[n].data_type, "float32"))
              for n in _param_names(model, inits, param_names)}

    ref: dict[str, ParamRef] = dict(params)  # value → the parameter it is (or is a view of)
    transposed: set[str] = set()  # values that are a 2-D parameter transposed (torch's linear weight)
    produced: dict[str, int] = {}  # value → index of the RawOp that computes it
    ops: list[RawOp] = []
    for vi in graph.input:
        if vi.name in inits:
            continue
        produced[vi.name] = len(ops)
        ops.append(RawOp(vi.name, _INPUT, "input", attrs=_shape_attr(shapes, vi.name)))
    input_size = next((tuple(int(d) for d in shapes[vi.name][1:]) for vi in graph.input
                       if vi.name not in inits and vi.name in shapes
                       and all(d is not None for d in shapes[vi.name])), None)

    consumers: dict[str, list[int]] = {}
    for j, node in enumerate(graph.node):
        for v in node.input:
            consumers.setdefault(v, []).append(j)
    graph_outputs = {o.name for o in graph.output}
    producer = {o: j for j, node in enumerate(graph.node) for o in node.output if o}
    fused: dict[int, int] = {}  # index of an Add folded into a linear → index of that linear's MatMul
    silu = _silu_pairs(graph, consumers, graph_outputs)  # Mul index → Sigmoid index, for x * sigmoid(x)
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
        if _folds_into_producer(node, live, graph, producer, consumers, graph_outputs):
            produced[node.output[0]] = produced[live[0][1]]
            continue

        where = _where(node, j)
        rule = _rule(node.op_type, node.domain)
        if node.op_type == "Gather" and rule is not None and not (
                len(node.input) > 1 and node.input[0] in ref and node.input[1] in produced):
            rule = _SLICE  # indexing with constant indices is slicing, not an embedding lookup
        if node.op_type == "ReduceMean" and rule is not None and _is_global_pool(node, shapes):
            rule = OpRule("global_pool")  # adaptive_avg_pool2d(x, 1) exports as a mean over H, W
        if j in silu:
            rule = OpRule("silu")
        if node.op_type == "MatMul" and len(node.input) > 1 and node.input[1] in transposed:
            rule = OpRule("linear", {1: W, 2: B})
            bias = _linear_bias(node, j, graph, consumers, graph_outputs, ref)
            if bias is not None:
                add_index, bias_value = bias
                fused[add_index] = j
                live.append((2, bias_value))
        if rule is None:
            if strict:
                op = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
                raise UnsupportedOperation(f"ONNX op {op}", where)
            rule = _UNKNOWN
        inputs: list[tuple[int | str, int | ParamRef]] = [
            (pos, ref[v]) if v in ref else (pos, produced[v]) for pos, v in live]
        refs = {pos: ref[v] for pos, v in live if v in ref}
        attrs = _shape_attr(shapes, node.output[0] if node.output else "")
        attrs.update(_attrs(node, rule.kind, refs))
        target = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
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
    ops.append(RawOp("output", _OUTPUT, "output", outputs))
    arch = build_graph(ops, name=name, input_size=input_size, all_params=params)
    arch.frontend = "onnx"
    return arch


def _shape_attr(shapes: Mapping[str, tuple[int | None, ...]], value: str) -> dict[str, Any]:
    shape = _out_shape(shapes, value)
    return {"out_shape": shape} if shape is not None else {}


def _is_global_pool(node: onnx.NodeProto, shapes: Mapping[str, tuple[int | None, ...]]) -> bool:
    """A ``ReduceMean`` of an N×C×H×W… tensor to N×C×1×1…: what ``adaptive_avg_pool2d(x, 1)`` exports as."""
    src, out = shapes.get(node.input[0]), shapes.get(node.output[0])
    return (src is not None and out is not None and len(src) == len(out) >= 4 and None not in src
            and src[:2] == out[:2] and all(d == 1 for d in out[2:]))


def _folds_into_producer(node: onnx.NodeProto, live: list[tuple[int, str]], graph: onnx.GraphProto,
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


# ---- export and writing tensors ------------------------------------------------------------------
def export_onnx(model, input_size: Sequence[int], path: str | os.PathLike | None = None, *,
                opset: int | None = DEFAULT_OPSET, example=None) -> onnx.ModelProto:
    """Export ``model`` (eval mode, batch 1) so that each used parameter is one initializer of the same name.

    Uses torch's dynamo exporter with ``optimize=False``: no BatchNorm folding, no constant
    folding, no renaming; BatchNorm running statistics stay initializers of their own. Opset
    :data:`DEFAULT_OPSET` unless ``opset`` says otherwise (None: torch's default). ``example``
    replaces the random ``1 × input_size`` input (token ids for an embedding model). The exported
    parameter names are stored in the model metadata (``graphparam.parameters``), which
    :func:`trace_onnx` reads. Writes ``path`` when given and returns the model.
    """
    import torch

    if example is None:
        size = tuple(input_size)
        if not size or not all(isinstance(s, int) and s > 0 for s in size):
            raise ValueError(f"input_size must be a tuple of positive ints such as (3, 224, 224), got {input_size!r}")
        param = next(iter(model.parameters()), None)
        device = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
        example = torch.randn(1, *size, device=device, dtype=dtype)
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(model, (example,), dynamo=True, optimize=False, verbose=False,
                                        opset_version=opset)
    except Exception as exc:
        raise OnnxError(f"could not export {type(model).__name__} to ONNX ({_first_line(exc)})") from exc
    finally:
        for m, mode in modes:
            m.training = mode
    proto = program.model_proto
    init_names = {t.name for t in proto.graph.initializer}
    names = [n for n, _ in model.named_parameters()]
    exported = [n for n in names if n in init_names]
    if len(exported) < len(names):
        missing = [n for n in names if n not in init_names]
        warnings.warn(f"{type(model).__name__}: {len(missing)} parameter(s) unused in forward are not in the "
                      f"ONNX model: {', '.join(missing[:5])}", stacklevel=2)
    proto.metadata_props.add(key=PARAMS_METADATA_KEY, value=json.dumps(exported))
    if path is not None:
        _save(proto, path)
    return proto


def _save(proto: onnx.ModelProto, path: str | os.PathLike) -> None:
    size = sum(len(t.raw_data) for t in proto.graph.initializer)
    if size > _EXTERNAL_LIMIT:
        onnx.save_model(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=f"{Path(path).name}.data", size_threshold=1024)
    else:
        onnx.save_model(proto, str(path))


def _to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    detach = getattr(value, "detach", None)
    if detach is not None:  # a torch tensor
        t = detach().cpu()
        return (t.float() if str(t.dtype) == "torch.bfloat16" else t).numpy()
    return np.asarray(value)


def write_initializers(model: str | os.PathLike | bytes | onnx.ModelProto, tensors: Mapping[str, Any],
                       out_path: str | os.PathLike | None = None) -> onnx.ModelProto:
    """A copy of ``model`` whose initializers named in ``tensors`` hold the given values.

    Values (torch tensors or arrays) must have the initializer's shape; they are cast to its
    dtype. Unknown names and shape mismatches raise :class:`OnnxError`. Writes ``out_path`` when
    given and returns the new model; the source model is never changed.
    """
    source = load_onnx(model, load_external_data=True)
    proto = onnx.ModelProto()
    proto.CopyFrom(source)
    index = {t.name: t for t in proto.graph.initializer}
    unknown = [n for n in tensors if n not in index]
    if unknown:
        raise OnnxError(f"{len(unknown)} name(s) are no initializer of the model: {', '.join(unknown[:5])}")
    for name, value in tensors.items():
        init = index[name]
        array = _to_numpy(value)
        if tuple(array.shape) != tuple(init.dims):
            raise OnnxError(f"initializer {name!r} has shape {list(init.dims)}, got a tensor of shape "
                            f"{list(array.shape)}")
        target = onnx.helper.tensor_dtype_to_np_dtype(init.data_type)
        init.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(array.astype(target, copy=False)), name))
    if out_path is not None:
        _save(proto, out_path)
    return proto
