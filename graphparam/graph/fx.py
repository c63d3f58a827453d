"""torch.fx front end: symbolic tracing with registry-defined leaves, then one shape pass."""

from __future__ import annotations

import math
import sys

from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn

from graphparam.errors import OpaqueModule
from graphparam.graph import registry
from graphparam.graph.builder import ParamRef, RawOp
from graphparam.graph.channels import ORDER_ATTR, SOURCES_ATTR, UNTIED_ATTRS, ChannelSources
from graphparam.graph.frontend import CONSTANT, INPUT, OUTPUT, UNKNOWN, parameter_table
from graphparam.graph.registry import UnsupportedOperation


def _timm_notrace() -> tuple[tuple[type, ...], tuple[Any, ...]]:
    """timm's untraceable modules and functions; none unless timm is imported, since a model can only
    hold timm's layers once it is (importing timm costs 3-4 s and 200 MB, which a zoo net never needs)."""
    if "timm" not in sys.modules:
        return (), ()
    try:
        from timm.layers import get_notrace_functions, get_notrace_modules
    except ImportError:  # timm is optional for plain torch models
        return (), ()
    return tuple(get_notrace_modules()), tuple(get_notrace_functions())


class _Tracer(fx.Tracer):
    """Leaves are exactly the registry's module types plus timm's untraceable modules."""

    def __init__(self, notrace_modules: tuple[type, ...], autowrap: tuple[Any, ...]):
        super().__init__(autowrap_functions=autowrap, param_shapes_constant=True)
        self._notrace = notrace_modules

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if registry.module_rule(m) is not None:
            return True
        return isinstance(m, self._notrace) if self._notrace else False


def where(node: fx.Node) -> str:
    """Qualified module path of an fx node, for error messages."""
    stack = node.meta.get("nn_module_stack")
    if stack:
        path = list(stack.values())[-1]
        path = path[0] if isinstance(path, tuple) else path
        return f"{path} ({node.name})" if path else node.name
    return node.name


def _target_name(target: Any) -> str:
    if isinstance(target, str):
        return target
    mod = getattr(target, "__module__", None) or ""
    return f"{mod}.{getattr(target, '__qualname__', getattr(target, '__name__', repr(target)))}".lstrip(".")


def _module_attrs(mod: nn.Module) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for key in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
                "in_features", "out_features", "num_features", "normalized_shape", "num_groups",
                "num_embeddings", "embedding_dim", "num_heads", "embed_dim"):
        value = getattr(mod, key, None)
        if isinstance(value, (int, tuple, list)) and not isinstance(value, bool):
            attrs[key] = tuple(value) if isinstance(value, (tuple, list)) else int(value)
    inner = getattr(mod, "act", None)  # fused norm+activation leaves such as timm's BatchNormAct2d
    rule = registry.module_rule(inner) if isinstance(inner, nn.Module) else None
    if rule is not None and rule.kind in registry.ACTIVATION_KINDS:
        attrs["act_after"] = rule.kind
    return attrs


def node_inputs(node: fx.Node, index: dict[str, int],
                param_of: dict[str, ParamRef]) -> list[tuple[int | str, int | ParamRef]]:
    """``(argument position or keyword, source)`` for each op or parameter an fx node reads."""
    out: list[tuple[int | str, int | ParamRef]] = []

    def visit(pos: int | str, arg: Any) -> None:
        if isinstance(arg, fx.Node):
            if arg.name in param_of:
                out.append((pos, param_of[arg.name]))
            elif arg.name in index:
                out.append((pos, index[arg.name]))
        elif isinstance(arg, (tuple, list)):
            for a in arg:
                visit(pos, a)
        elif isinstance(arg, dict):
            for a in arg.values():
                visit(pos, a)

    for pos, arg in enumerate(node.args):
        visit(pos, arg)
    for key, arg in node.kwargs.items():
        visit(key, arg)
    return out


def is_tensorish(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, (tuple, list)):
        return any(is_tensorish(v) for v in value)
    return False


def shape_of(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, torch.Tensor):
        return tuple(int(s) for s in value.shape[1:])
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
        return tuple(int(s) for s in value[0].shape[1:])
    return None


def op_rule(model: nn.Module, n: fx.Node) -> tuple[registry.OpRule | None, nn.Module | None]:
    """The registry rule of an fx call (None: not in the registry, or not a call) and the module it calls."""
    if n.op == "call_module":
        mod = model.get_submodule(n.target)
        return registry.module_rule(mod), mod
    if n.op == "call_function":
        return registry.function_rule(n.target), None
    if n.op == "call_method":
        return registry.method_rule(n.target), None
    return None, None


class _ShapeRecorder(fx.Interpreter):
    """Runs the traced graph once over ``model`` and records which nodes produce tensors, their shapes and
    the channel sources of weights that read their input's channels out of order (:mod:`.channels`)."""

    def __init__(self, model: nn.Module, graph: fx.Graph):
        super().__init__(model, graph=graph)
        self.values: dict[str, tuple[bool, tuple[int, ...] | None]] = {}
        self.channels = ChannelSources()

    def run_node(self, n: fx.Node) -> Any:
        out = super().run_node(n)
        self.values[n.name] = (is_tensorish(out), shape_of(out))
        rule, module = op_rule(self.module, n)
        self.channels.step(n, rule.kind if rule else None, out, self.env, module)
        for done in self.user_to_last_uses.get(n, ()):
            self.channels.forget(done.name)
        return out


def symbolic_trace(model: nn.Module) -> fx.Graph:
    """The fx graph of ``model``'s forward; its ``get_attr`` and ``call_module`` targets are paths in ``model``.

    No ``fx.GraphModule`` is made: nothing here runs its generated Python, and generating it was 15 % of
    a training net's trace (``experiments/results/profile_step``).
    """
    registry.register_library_rows()  # before the tracer patches the library functions it wraps
    notrace_modules, autowrap = _timm_notrace()
    return _Tracer(notrace_modules, autowrap).trace(model)


REAL_SHAPE_PASS_LIMIT = 1e11
"""Parameter elements × input positions up to which shapes come from a real forward of the example:
a 32×32 input runs a training net for real in about 10 ms, eight times faster than the meta device's
Python kernels (experiments/results/profile_step.md); larger models and inputs go through meta."""


def record_shapes(model: nn.Module, graph: fx.Graph, example: torch.Tensor
                  ) -> tuple[dict[str, tuple[bool, tuple[int, ...] | None]], ChannelSources]:
    """Which nodes produce tensors, and their shapes: by a real forward of ``example`` when that is cheap,
    else on the meta device (no arithmetic, so the cost does not grow with the model's FLOPs), falling
    back to a real forward where a meta kernel is missing. Also where each channel flows
    (:class:`~graphparam.graph.channels.ChannelSources`)."""
    from torch.nn.utils.stateless import _reparametrize_module

    positions = math.prod(example.shape[2:]) if example.dim() > 2 else 1
    if sum(p.numel() for p in model.parameters()) * positions > REAL_SHAPE_PASS_LIMIT:
        meta = {k: v.to("meta") for k, v in model.state_dict(keep_vars=True).items()}
        recorder = _ShapeRecorder(model, graph)
        try:
            with torch.no_grad(), _reparametrize_module(model, meta):
                recorder.run(torch.empty(example.shape, dtype=example.dtype, device="meta"))
            return recorder.values, recorder.channels
        except Exception:
            pass
    recorder = _ShapeRecorder(model, graph)
    with torch.no_grad():  # not inference_mode: some models cache tensors on their first forward
        recorder.run(example)
    return recorder.values, recorder.channels


def opaque_modules(model: nn.Module, graph: fx.Graph) -> list[str]:
    """Leaf modules that own parameters but have no registry row (timm's untraceable blocks)."""
    return [f"{type(model.get_submodule(n.target)).__qualname__} at {n.target!r}" for n in graph.nodes
            if n.op == "call_module" and registry.module_rule(model.get_submodule(n.target)) is None
            and any(True for _ in model.get_submodule(n.target).parameters())]


def fx_ops(model: nn.Module, graph: fx.Graph, shapes: dict[str, tuple[bool, Any]], *, strict: bool,
           channels: ChannelSources | None = None) -> tuple[list[RawOp], dict[str, ParamRef]]:
    """Walk the fx graph into RawOps; parameters are referenced by their qualified names. ``channels``
    (from :func:`record_shapes`) gives ops their :data:`ORDER_ATTR` and :data:`SOURCES_ATTR` (and
    :data:`UNTIED_ATTRS` where ties move them)."""
    table = parameter_table(model)
    params, by_id = table.refs, table.by_id
    ops: list[RawOp] = []
    index: dict[str, int] = {}

    tied, untied = channels.placements() if channels is not None else (({}, {}),) * 2
    param_of: dict[str, ParamRef] = {}
    for node in graph.nodes:
        is_tensor, shape = shapes.get(node.name, (True, None))
        attrs: dict[str, Any] = {"out_shape": shape} if shape is not None else {}
        for key, table, without_ties in zip((ORDER_ATTR, SOURCES_ATTR), tied, untied):
            if node.name in table:
                attrs[key] = table[node.name]
            if table.get(node.name) != without_ties.get(node.name):
                attrs[UNTIED_ATTRS[key]] = without_ties.get(node.name, ())
        if node.op == "placeholder":
            ops.append(RawOp(node.name, INPUT, "input", attrs=attrs, is_tensor=is_tensor))
        elif node.op == "get_attr":
            value = _fetch_attr(model, node.target)
            if isinstance(value, nn.Parameter):
                name = by_id.get(id(value), node.target)
                param_of[node.name] = params.get(name, ParamRef(name, tuple(value.shape)))
                continue
            ops.append(RawOp(node.name, CONSTANT, f"attr:{node.target}", attrs=attrs,
                             is_tensor=isinstance(value, torch.Tensor)))
        elif node.op == "call_module":
            rule, mod = op_rule(model, node)
            owned = [(params[by_id[id(p)]], local) for local, p in mod.named_parameters()]
            if rule is None:
                if owned:
                    raise OpaqueModule(f"{type(mod).__qualname__} at {node.target!r}")
                if strict:
                    raise UnsupportedOperation(f"module {type(mod).__module__}.{type(mod).__qualname__}",
                                               where(node))
                rule = UNKNOWN
            attrs.update(_module_attrs(mod))
            ops.append(RawOp(node.name, rule, type(mod).__qualname__, node_inputs(node, index, param_of), owned, attrs, is_tensor))
        elif node.op in ("call_function", "call_method"):
            rule, _ = op_rule(model, node)
            if rule is None:
                if not is_tensor and not any(isinstance(a, fx.Node) and a.name in param_of
                                             for a in node.all_input_nodes):
                    rule = UNKNOWN  # python-value helper (sizes, shapes): dropped below
                elif strict:
                    kind = "function" if node.op == "call_function" else "method Tensor."
                    raise UnsupportedOperation(f"{kind}{' ' if kind == 'function' else ''}{_target_name(node.target)}",
                                               where(node))
                else:
                    rule = UNKNOWN
            if node.op == "call_function" and rule.kind == "conv":
                attrs.update(_functional_conv_attrs(node))
            ops.append(RawOp(node.name, rule, _target_name(node.target), node_inputs(node, index, param_of), [], attrs, is_tensor))
        elif node.op == "output":
            ops.append(RawOp(node.name, OUTPUT, "output", node_inputs(node, index, param_of), attrs=attrs))
        index[node.name] = len(ops) - 1
    return ops, params


def _functional_conv_attrs(node: fx.Node) -> dict[str, Any]:
    names = ("stride", "padding", "dilation", "groups")
    attrs = {}
    for i, key in enumerate(names, start=3):
        value = node.kwargs.get(key, node.args[i] if len(node.args) > i else None)
        if isinstance(value, (int, tuple, list)):
            attrs[key] = tuple(value) if isinstance(value, (tuple, list)) else int(value)
    return attrs


def _fetch_attr(model: nn.Module, target: str) -> Any:
    obj: Any = model
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj
