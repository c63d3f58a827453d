"""The operation registry: one table from module types, functions, methods, aten ops and ONNX op
types to canonical operation kinds.

Adding support for a new layer is one ``register(...)`` row. Front ends never match names of
autograd nodes: they look targets up here and raise :class:`UnsupportedOperation` otherwise.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

from graphparam.errors import UnsupportedOperation  # noqa: F401  (re-exported)
from graphparam.graph.ir import Role

# Canonical kinds, grouped; the encoder embeds them by their position in KINDS.
PARAM_KINDS = ("conv", "dwconv", "conv_transpose", "linear", "batch_norm", "layer_norm", "group_norm",
               "instance_norm", "rms_norm", "embedding", "attention", "rnn", "parameter")
NORM_KINDS = ("batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm")
ACTIVATION_KINDS = ("relu", "gelu", "silu", "sigmoid", "tanh", "hardswish", "hardsigmoid", "softmax",
                    "activation")
KINDS: tuple[str, ...] = (
    "input", "output", *PARAM_KINDS,
    "max_pool", "avg_pool", "global_pool",
    "add", "sub", "mul", "div", "matmul", "concat", "sdpa",
    *ACTIVATION_KINDS,
    "reshape", "slice", "reduce", "logic", "pad", "resize", "dropout", "identity", "constant", "unknown",
)
KIND_INDEX = {kind: i for i, kind in enumerate(KINDS)}


@dataclass(frozen=True)
class OpRule:
    """How a kind owns the tensors it receives: argument position (or keyword) → role."""

    kind: str
    param_args: dict[int | str, Role] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)  # module attribute name → role


_MODULES: dict[type, OpRule] = {}
_FUNCTIONS: dict[Any, OpRule] = {}
_METHODS: dict[str, OpRule] = {}
_ATEN: dict[Any, OpRule] = {}
_ONNX: dict[str, OpRule] = {}


def register(kind: str, *, modules: Iterable[type] = (), functions: Iterable[Callable] = (),
             methods: Iterable[str] = (), aten: Iterable[Any] = (), onnx: Iterable[str] = (),
             param_args: dict[int | str, Role] | None = None, roles: dict[str, Role] | None = None,
             aten_args: dict[int | str, Role] | None = None, onnx_args: dict[int, Role] | None = None) -> None:
    """Map targets of every front end to ``kind``; ``param_args``/``roles`` say which inputs are owned.

    ``aten_args`` replaces ``param_args`` for the aten ops of the row, where aten's signature puts the
    parameters elsewhere than ``torch.nn.functional`` does (``aten.batch_norm(input, weight, bias, ...)``).
    ``onnx_args`` are the owned input positions of the row's ONNX op types (``BatchNormalization``
    takes scale and bias at 1 and 2); ONNX ops own nothing without them: a parameter they read
    becomes a ``parameter`` node of its own.
    """
    if kind not in KIND_INDEX:
        raise ValueError(f"unknown kind {kind!r}; known kinds: {', '.join(KINDS)}")
    rule = OpRule(kind, dict(param_args or {}), dict(roles or {}))
    aten_rule_ = rule if aten_args is None else OpRule(kind, dict(aten_args), rule.roles)
    onnx_rule_ = OpRule(kind, dict(onnx_args or {}), rule.roles)
    for table, keys, value in ((_MODULES, modules, rule), (_FUNCTIONS, functions, rule), (_METHODS, methods, rule),
                               (_ATEN, aten, aten_rule_), (_ONNX, onnx, onnx_rule_)):
        for key in keys:
            table[key] = value


def module_rule(module: nn.Module) -> OpRule | None:
    """The rule for a module type, searching its base classes so subclasses inherit it (library modules'
    rows need :func:`register_library_rows` first: fx's tracer calls it before it traces)."""
    for cls in type(module).__mro__:
        rule = _MODULES.get(cls)
        if rule is not None:
            return rule
    return None


def function_rule(fn: Any) -> OpRule | None:
    register_library_rows()
    try:
        return _FUNCTIONS.get(fn)
    except TypeError:  # unhashable target
        return None


def method_rule(name: str) -> OpRule | None:
    return _METHODS.get(name)


def aten_rule(op: Any) -> OpRule | None:
    packet = getattr(op, "overloadpacket", None)
    if packet is None:  # Python callables in exported graphs (operator.getitem on tuple outputs)
        return function_rule(op)
    return _ATEN.get(packet)


def onnx_rule(op_type: str) -> OpRule | None:
    """The rule of an ONNX op type (``domain.OpType`` outside the default domain); its
    ``param_args`` are the row's ``onnx_args``."""
    return _ONNX.get(op_type)


def onnx_param_args() -> dict[str, dict[int | str, Role]]:
    """ONNX op type → owned input positions, for the op types that own any."""
    return {op: dict(rule.param_args) for op, rule in _ONNX.items() if rule.param_args}


def default_role(kind: str, attr: str) -> Role:
    """Role of a module's own parameter ``attr`` when its rule gives none."""
    if kind in NORM_KINDS:
        return {"weight": Role.NORM_SCALE, "bias": Role.NORM_SHIFT}.get(attr, Role.OTHER)
    if kind == "embedding":
        return Role.EMBEDDING if attr == "weight" else Role.OTHER
    if attr.startswith("weight"):  # also torch's recurrent layers: weight_ih_l0, weight_hh_l0_reverse, ...
        return Role.WEIGHT
    return Role.BIAS if attr.startswith("bias") else Role.OTHER


def free_param_role(shape: tuple[int, ...], uses: Iterable[tuple[str, Role | None]],
                    init: float | None = None) -> Role:
    """Role of a bare ``nn.Parameter`` from how it is used (not from its name).

    ``uses``: for each op that computes with it (reached through reshapes), the op's kind and the role its rule
    gives that input position, if any (``addcmul``: shift, scale). ``init``: the tensor's value where it is one
    constant, as an architecture initialises it: a multiplier is structurally a scale, and only that value says
    whether it starts at one (a residual scale, StarReLU's scale: ``norm_scale``, decoded about one) or near zero
    (a layer scale, decoded small and positive). The torch front end reads the value a trace first saw, so a
    model traced again after a prediction keeps its roles; a model whose multipliers were never constant when
    first traced (loaded with trained weights) gets layer scales.
    """
    uses = list(uses)
    kinds = {kind for kind, _ in uses}
    if "concat" in kinds or ("reshape" in kinds and len(shape) >= 2 and math.prod(shape[:-1]) == 1):
        return Role.CLS_TOKEN
    # each use by what it does with the tensor: the rule's role for that input where it has one (addcmul's
    # shift and scale), else the op's kind
    scales = any(role in (Role.NORM_SCALE, Role.LAYER_SCALE) or (role is None and kind in ("mul", "div"))
                 for kind, role in uses)
    if scales:
        return Role.NORM_SCALE if init is not None and abs(init - 1.0) < 0.5 else Role.LAYER_SCALE
    if any(role is Role.NORM_SHIFT or (role is None and kind == "add") for kind, role in uses):
        return Role.POS_EMBEDDING if len(shape) >= 2 and math.prod(shape[:-1]) > 1 else Role.BIAS
    return Role.OTHER


_aten = torch.ops.aten
W, B = Role.WEIGHT, Role.BIAS
S, T = Role.NORM_SCALE, Role.NORM_SHIFT

# ---- parameterised primitives ------------------------------------------------------------------
register("conv", modules=[nn.Conv1d, nn.Conv2d, nn.Conv3d], functions=[F.conv1d, F.conv2d, F.conv3d],
         aten=[_aten.conv1d, _aten.conv2d, _aten.conv3d, _aten.convolution, _aten._convolution],
         onnx=["Conv"], param_args={1: W, 2: B, "weight": W, "bias": B}, onnx_args={1: W, 2: B})
register("conv_transpose", modules=[nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d],
         functions=[F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d],
         aten=[_aten.conv_transpose1d, _aten.conv_transpose2d],
         onnx=["ConvTranspose"], param_args={1: W, 2: B}, onnx_args={1: W, 2: B})
register("linear", modules=[nn.Linear, nn.Bilinear], functions=[F.linear], aten=[_aten.linear],
         onnx=["Gemm"], param_args={1: W, 2: B, "weight": W, "bias": B}, onnx_args={1: W, 2: B})
register("linear", aten=[_aten.addmm, _aten.baddbmm], param_args={0: B, 2: W})  # bias + x @ weight
register("matmul", functions=[torch.matmul, operator.matmul, torch.bmm, torch.mm, torch.einsum,
                              torch.baddbmm],
         methods=["matmul", "bmm", "mm"], aten=[_aten.matmul, _aten.bmm, _aten.mm, _aten.einsum,
                                               ],
         onnx=["Einsum"], param_args={1: W})
register("matmul", onnx=["MatMul"], onnx_args={1: W})
register("batch_norm", modules=[nn.modules.batchnorm._BatchNorm], functions=[F.batch_norm],
         aten=[_aten.batch_norm, _aten._native_batch_norm_legit_no_training,
               _aten._native_batch_norm_legit, _aten.native_batch_norm,
               _aten._native_batch_norm_legit_functional],
         onnx=["BatchNormalization"], param_args={3: S, 4: T, "weight": S, "bias": T}, aten_args={1: S, 2: T},
         onnx_args={1: S, 2: T})  # ONNX inputs 3, 4: running mean and variance, buffers
register("layer_norm", modules=[nn.LayerNorm], functions=[F.layer_norm],
         aten=[_aten.layer_norm, _aten.native_layer_norm], onnx=["LayerNormalization"],
         param_args={2: S, 3: T, "weight": S, "bias": T}, onnx_args={1: S, 2: T})
register("rms_norm", modules=[getattr(nn, "RMSNorm", nn.LayerNorm)] if hasattr(nn, "RMSNorm") else [],
         functions=[F.rms_norm] if hasattr(F, "rms_norm") else [],
         aten=[_aten.rms_norm] if hasattr(_aten, "rms_norm") else [], onnx=["RMSNormalization"],
         param_args={2: S, "weight": S}, onnx_args={1: S})
register("group_norm", modules=[nn.GroupNorm], functions=[F.group_norm],
         aten=[_aten.group_norm, _aten.native_group_norm], onnx=["GroupNormalization"],
         param_args={2: S, 3: T, "weight": S, "bias": T}, onnx_args={1: S, 2: T})
register("instance_norm", modules=[nn.modules.instancenorm._InstanceNorm], functions=[F.instance_norm],
         aten=[_aten.instance_norm], onnx=["InstanceNormalization"],
         param_args={3: S, 4: T, "weight": S, "bias": T}, aten_args={1: S, 2: T}, onnx_args={1: S, 2: T})
register("embedding", modules=[nn.Embedding, nn.EmbeddingBag], functions=[F.embedding],
         aten=[_aten.embedding], onnx=["Gather"], param_args={1: Role.EMBEDDING}, aten_args={0: Role.EMBEDDING},
         onnx_args={0: Role.EMBEDDING})  # an embedding only where the indices come from the data
register("attention", modules=[nn.MultiheadAttention],
         roles={"in_proj_weight": W, "in_proj_bias": B, "out_proj.weight": W, "out_proj.bias": B,
                "q_proj_weight": W, "k_proj_weight": W, "v_proj_weight": W,
                "bias_k": B, "bias_v": B})
register("rnn", modules=[nn.LSTM, nn.GRU, nn.RNN], aten=[_aten.lstm, _aten.gru, _aten.rnn_tanh, _aten.rnn_relu],
         onnx=["LSTM", "GRU", "RNN"], param_args={1: W, 2: W, 3: B})
register("activation", modules=[nn.PReLU], functions=[F.prelu], aten=[_aten.prelu], onnx=["PRelu"],
         param_args={1: W}, roles={"weight": W}, onnx_args={1: W})

# ---- parameter-free operations ----------------------------------------------------------------
register("sdpa", functions=[F.scaled_dot_product_attention],
         aten=[_aten.scaled_dot_product_attention, _aten._scaled_dot_product_flash_attention_for_cpu,
               _aten._scaled_dot_product_efficient_attention, _aten._scaled_dot_product_flash_attention],
         onnx=["Attention"])
register("relu", modules=[nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU],
         functions=[F.relu, torch.relu, F.relu6, F.leaky_relu, F.elu, F.selu, F.celu, F.relu_, torch.relu_],
         methods=["relu", "relu_"],
         aten=[_aten.relu, _aten.relu_, _aten.hardtanh, _aten.hardtanh_, _aten.leaky_relu, _aten.elu,
               _aten.selu, _aten.leaky_relu_, _aten.celu, _aten.elu_],
         onnx=["Relu", "LeakyRelu", "Elu", "Selu", "Clip", "Celu"])
register("gelu", modules=[nn.GELU], functions=[F.gelu], aten=[_aten.gelu, _aten.gelu_], onnx=["Gelu"])
register("silu", modules=[nn.SiLU, nn.Mish], functions=[F.silu, F.mish], aten=[_aten.silu, _aten.silu_, _aten.mish, _aten.mish_],
         onnx=["Mish"])
register("sigmoid", modules=[nn.Sigmoid], functions=[torch.sigmoid, F.sigmoid], methods=["sigmoid", "sigmoid_"],
         aten=[_aten.sigmoid, _aten.sigmoid_], onnx=["Sigmoid"])
register("tanh", modules=[nn.Tanh], functions=[torch.tanh, F.tanh], methods=["tanh"], aten=[_aten.tanh],
         onnx=["Tanh"])
register("hardswish", modules=[nn.Hardswish], functions=[F.hardswish], aten=[_aten.hardswish, _aten.hardswish_],
         onnx=["HardSwish"])
register("hardsigmoid", modules=[nn.Hardsigmoid], functions=[F.hardsigmoid],
         aten=[_aten.hardsigmoid, _aten.hardsigmoid_], onnx=["HardSigmoid"])
register("softmax", modules=[nn.Softmax, nn.LogSoftmax], functions=[F.softmax, torch.softmax, F.log_softmax],
         methods=["softmax", "log_softmax"], aten=[_aten.softmax, _aten._softmax, _aten.log_softmax, _aten._log_softmax],
         onnx=["Softmax", "LogSoftmax"])
register("activation", modules=[nn.Softplus, nn.Tanhshrink, nn.Softsign, nn.GLU],
         functions=[F.softplus, F.glu, torch.exp, torch.erf, torch.sqrt, torch.rsqrt, torch.abs, torch.log,
                    torch.square, torch.sin, torch.cos, torch.clamp, torch.pow, operator.pow, F.hardtanh, torch.clip],
         methods=["exp", "sqrt", "rsqrt", "abs", "log", "pow", "clamp", "clamp_", "square", "clip",
                  "sin", "cos", "neg", "reciprocal", "sign", "erf", "tanh_"],
         aten=[_aten.softplus, _aten.exp, _aten.erf, _aten.sqrt, _aten.rsqrt, _aten.abs, _aten.log, _aten.pow,
               _aten.clamp, _aten.clamp_min, _aten.clamp_max, _aten.sin, _aten.cos, _aten.neg, _aten.reciprocal,
               _aten.glu, _aten.sign, _aten.square, _aten.clamp_],
         onnx=["Exp", "Erf", "Sqrt", "Abs", "Log", "Pow", "Softplus", "Sin", "Cos", "Neg", "Reciprocal",
               "Sign"])
register("max_pool", modules=[nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool2d],
         functions=[F.max_pool1d, F.max_pool2d, F.max_pool3d, F.adaptive_max_pool2d, torch.max_pool2d],
         aten=[_aten.max_pool2d, _aten.max_pool2d_with_indices, _aten.adaptive_max_pool2d, _aten.max_pool1d],
         onnx=["MaxPool"])
register("avg_pool", modules=[nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d],
         functions=[F.avg_pool1d, F.avg_pool2d, F.avg_pool3d],
         aten=[_aten.avg_pool2d, _aten.avg_pool1d], onnx=["AveragePool"])
register("global_pool", modules=[nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d],
         functions=[F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d],
         aten=[_aten.adaptive_avg_pool2d, _aten._adaptive_avg_pool2d, _aten.adaptive_avg_pool1d],
         onnx=["GlobalAveragePool", "GlobalMaxPool"])
register("add", functions=[operator.add, operator.iadd, torch.add], methods=["add", "add_"],
         aten=[_aten.add, _aten.add_], onnx=["Add", "Sum"])
register("sub", functions=[operator.sub, operator.isub, torch.sub, operator.neg], methods=["sub", "sub_"],
         aten=[_aten.sub, _aten.rsub], onnx=["Sub"])
register("mul", functions=[operator.mul, operator.imul, torch.mul], methods=["mul", "mul_"],
         aten=[_aten.mul, _aten.mul_], onnx=["Mul"])
register("mul", functions=[torch.addcmul], methods=["addcmul"], aten=[_aten.addcmul],
         param_args={0: Role.NORM_SHIFT, 1: Role.NORM_SCALE})  # an affine: shift + scale * x
register("div", functions=[operator.truediv, operator.floordiv, operator.itruediv, torch.div],
         methods=["div", "div_"], aten=[_aten.div, _aten.div_], onnx=["Div"])
register("concat", functions=[torch.cat, torch.stack, torch.concat, torch.concatenate],
         aten=[_aten.cat, _aten.stack, _aten.concat], onnx=["Concat", "ConcatFromSequence"])
register("reshape",
         modules=[nn.Flatten, nn.Unflatten, nn.PixelShuffle, nn.PixelUnshuffle, nn.ChannelShuffle],
         functions=[torch.flatten, torch.reshape, torch.transpose, torch.permute, torch.squeeze, torch.swapaxes,
                    torch.swapdims, torch.moveaxis,
                    torch.unsqueeze, torch.roll, torch.movedim, F.pixel_shuffle, F.pixel_unshuffle,
                    torch.channel_shuffle, F.unfold, F.fold, torch.t],
         methods=["view", "reshape", "flatten", "permute", "transpose", "contiguous", "squeeze", "unsqueeze",
                  "expand", "expand_as", "repeat", "unflatten", "roll", "movedim", "t", "view_as", "type_as",
                  "to", "float", "half", "type", "swapaxes", "swapdims", "moveaxis", "long", "int", "bool", "double", "clone", "detach", "unfold", "flip", "masked_fill",
                  "bfloat16", "reshape_as", "repeat_interleave", "tile"],
         aten=[_aten.view, _aten.reshape, _aten.permute, _aten.transpose, _aten.flatten, _aten.squeeze,
               _aten.unsqueeze, _aten.expand, _aten.clone, _aten.contiguous, _aten._unsafe_view,
               _aten.t, _aten.roll, _aten.repeat, _aten.unflatten, _aten.pixel_shuffle, _aten.pixel_unshuffle,
               _aten.alias, _aten.copy, _aten.copy_, _aten._to_copy, _aten.to, _aten.lift_fresh_copy, _aten.detach, _aten.flip,
               _aten.channel_shuffle, _aten.im2col, _aten.col2im, _aten.masked_fill, _aten.unfold,
               _aten.movedim, _aten.type_as, _aten.reshape_as, _aten.swapaxes, _aten.repeat_interleave, _aten.expand_as, _aten.view_as],
         onnx=["Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Expand", "Identity", "Cast", "CastLike",
               "Tile", "DepthToSpace", "SpaceToDepth"])
register("slice", functions=[operator.getitem, torch.split, torch.chunk, torch.unbind, torch.narrow,
                             torch.gather, torch.index_select, torch.where, torch.tensor_split],
         methods=["split", "chunk", "unbind", "narrow", "gather", "index_select", "__getitem__",
                  "tensor_split", "select"],
         aten=[_aten.slice, _aten.select, _aten.split, _aten.split_with_sizes, _aten.chunk, _aten.unbind,
               _aten.narrow, _aten.index, _aten.gather, _aten.index_select, _aten.where, _aten.tensor_split,
               _aten.slice_scatter],
         onnx=["Slice", "Split", "GatherElements", "Where", "GatherND", "SplitToSequence", "SequenceAt"])
register("reduce", functions=[torch.mean, torch.sum, torch.amax, torch.max, torch.std, torch.var,
                              torch.logsumexp, torch.norm, torch.cumsum, torch.min, torch.amin, F.normalize],
         methods=["mean", "sum", "max", "amax", "std", "var", "norm", "cumsum", "min", "amin", "logsumexp",
                  "argmax"],
         aten=[_aten.mean, _aten.sum, _aten.amax, _aten.max, _aten.std, _aten.var, _aten.logsumexp,
               _aten.norm, _aten.linalg_vector_norm, _aten.cumsum, _aten.min, _aten.amin, _aten.var_mean,
               _aten.argmax],
         onnx=["ReduceMean", "ReduceSum", "ReduceMax", "ReduceL2", "ReduceMin", "CumSum"])
register("logic", functions=[operator.eq, operator.ne, operator.gt, operator.lt, operator.ge, operator.le,
                             operator.invert, operator.and_, operator.or_, torch.eq, torch.ne, torch.gt,
                             torch.lt, torch.logical_not, torch.logical_and, torch.logical_or, torch.isinf,
                             torch.isnan, torch.bitwise_not],
         methods=["eq", "ne", "gt", "lt", "ge", "le", "logical_not", "bitwise_not", "isinf", "isnan"],
         aten=[_aten.eq, _aten.ne, _aten.gt, _aten.lt, _aten.ge, _aten.le, _aten.bitwise_not, _aten.logical_not,
               _aten.logical_and, _aten.logical_or, _aten.bitwise_and, _aten.bitwise_or, _aten.isinf, _aten.isnan],
         onnx=["Equal", "Greater", "Less", "Not", "And", "Or", "GreaterOrEqual", "LessOrEqual", "IsInf", "IsNaN"])
register("pad", modules=[nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d],
         functions=[F.pad], aten=[_aten.pad, _aten.constant_pad_nd, _aten.reflection_pad2d], onnx=["Pad"])
register("resize", modules=[nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d],
         functions=[F.interpolate, F.grid_sample],
         aten=[_aten.upsample_nearest2d, _aten.upsample_bilinear2d, _aten.upsample_bicubic2d, _aten.grid_sampler,
               _aten._upsample_bilinear2d_aa, _aten.upsample_nearest1d, _aten.upsample_linear1d,
               _aten._upsample_bicubic2d_aa],
         onnx=["Resize", "Upsample"])
register("dropout", modules=[nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout],
         functions=[F.dropout, F.dropout1d, F.dropout2d, F.dropout3d],
         aten=[_aten.dropout, _aten.native_dropout, _aten.feature_dropout], onnx=["Dropout"])
register("identity", modules=[nn.Identity], functions=[torch._assert],
         aten=[_aten._assert_tensor_metadata, _aten._assert_async, _aten.sym_size, _aten.sym_constrain_range_for_size],
         onnx=["Shape", "Size", "ConstantOfShape", "Range"])
register("constant", functions=[torch.zeros, torch.ones, torch.arange, torch.full, torch.empty,
                                torch.zeros_like, torch.ones_like, torch.tensor, torch.linspace,
                                torch.randn, torch.rand, torch.full_like, torch.meshgrid, torch.eye],
         methods=["new_zeros", "new_ones", "new_full", "new_empty", "zero_", "fill_", "new_tensor"],
         aten=[_aten.zeros, _aten.ones, _aten.arange, _aten.full, _aten.empty, _aten.zeros_like,
               _aten.ones_like, _aten.scalar_tensor, _aten.linspace, _aten.full_like, _aten.new_zeros,
               _aten.new_ones, _aten.meshgrid, _aten.eye, _aten.lift_fresh, _aten.empty_like, _aten.fill_,
               _aten.zero_],
         onnx=["Constant"])


# ---- helpers of model libraries that fx keeps as calls (timm's notrace functions, torchvision.ops) ---
# and their modules that fx should keep as leaves (timm's DropPath: traced through in train mode, its random mask
# is not an operation of the net, and models that hold one would otherwise fall back to torch.export)
_LIBRARY_ROWS = {
    "dropout": [("torchvision.ops.stochastic_depth", "stochastic_depth"), ("timm.layers.drop", "DropPath")],
    "reshape": [("timm.models.swin_transformer", "window_reverse"),
                ("timm.models.swin_transformer_v2", "window_reverse"),
                ("timm.models.swin_transformer_v2_cr", "window_reverse"),
                ("timm.models.maxxvit", "window_reverse"), ("timm.models.maxxvit", "grid_reverse"),
                ("timm.models.maxxvit", "window_reverse_nchw"), ("timm.models.maxxvit", "grid_reverse_nchw"),
                ("timm.models.nest", "deblockify"), ("timm.models.gcvit", "window_reverse"),
                ("timm.models.davit", "window_reverse"), ("timm.models.focalnet", "window_reverse"),
                ("timm.models.hiera", "reshape_pre_pool"), ("timm.models.hiera", "reshape_post_pool"),
                ("timm.models.hiera", "undo_windowing"), ("timm.models.swiftformer", "window_reverse"),
                ("timm.models.swin_transformer_v2", "window_partition"),
                ("timm.models.swin_transformer", "window_partition")],
    "resize": [("timm.layers.pos_embed", "resample_abs_pos_embed"), ("timm.models.crossvit", "scale_image"),
               ("timm.layers.pos_embed", "resample_abs_pos_embed_nhwc")],
    "add": [("timm.layers.attention", "maybe_add_mask")],
}
_LIBRARIES = frozenset(module.split(".")[0] for places in _LIBRARY_ROWS.values() for module, _ in places)
_library_rows_done: set[str] = set()


def register_library_rows() -> None:
    """Rows for model libraries' helpers, added on first use once their library is imported (a model can
    only call a library's helper after importing it), so that tracing a plain torch model never imports
    timm or torchvision (seconds and hundreds of MB). Not while fx traces: it swaps the functions it wraps
    (``torch.fx.wrap``, e.g. torchvision's ``stochastic_depth``) for its own in their modules until it is done."""
    import importlib
    import sys

    ready = {lib for lib in _LIBRARIES - _library_rows_done if lib in sys.modules}
    if not ready:
        return
    _library_rows_done.update(ready)
    for kind, places in _LIBRARY_ROWS.items():
        found = []
        for module, attr in places:
            if module.split(".")[0] not in ready:
                continue
            try:
                found.append(getattr(importlib.import_module(module), attr))
            except (ImportError, AttributeError):
                continue
        register(kind, functions=[f for f in found if not _is_module_class(f)],
                 modules=[m for m in found if _is_module_class(m)])


def _is_module_class(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, nn.Module)
