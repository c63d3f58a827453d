"""Operation-dependent scaling of decoded tensors, so that even an untrained GHN gives stable nets.

Every slot gets a *transform* chosen from its role and its node's kind (:func:`slot_rule`):

``weight``        (conv, dwconv, linear, attention projections, matmul weights, any 2-D+ weight)
                  centred, then rescaled to ``std = gain / sqrt(fan_in) * f`` where ``fan_in``
                  counts the inputs one output sums over (``in_channels / groups * prod(kernel)``,
                  divided by the stride for transposed convs), ``gain`` preserves the second
                  moment through the activation that follows (ReLU √2, GELU 1.53, SiLU 1.68,
                  hard-swish 1.74, tanh 5/3, else 1; looked up through norms, dropout and
                  reshapes) and ``f = range ** tanh(a)`` is a learned per-slot factor, 1 at init.
``embed``         embeddings, positional embeddings, class tokens, other 2-D+ tensors:
                  centred, ``std = embed_std * f``.
``norm_scale``    ``1 + scale_bound * tanh(x)``.
``shift``         biases, norm shifts, other 1-D tensors: ``shift_bound * tanh(x)``.
``layer_scale``   ``layer_scale_init * 10 ** tanh(x)``: small and positive.
``prelu``         PReLU slopes: ``0.25 + 0.25 * tanh(x)``.

BatchNorm policy: predicted parameters come without running statistics. Nets whose parameters
are predicted are run with batch statistics (train-mode BatchNorm), both when the GHN is trained
and in zero-shot evaluation (:mod:`graphparam.evaluate`); the GHN never predicts buffers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from graphparam.graph.features import activation_after  # noqa: F401  (re-exported)
from graphparam.graph.ir import Node, ParamSlot, Role
from graphparam.graph.registry import NORM_KINDS

TRANSFORMS = ("weight", "embed", "norm_scale", "shift", "layer_scale", "prelu")
TRANSFORM_INDEX = {t: i for i, t in enumerate(TRANSFORMS)}

# second-moment preserving gains: 1 / sqrt(E[act(x)^2]) for x ~ N(0, 1) (ReLU: sqrt 2)
GAINS = {"relu": math.sqrt(2.0), "gelu": 1.533, "silu": 1.676, "hardswish": 1.736, "tanh": 5.0 / 3.0}


@dataclass(frozen=True)
class SlotRule:
    """How one slot is decoded and scaled.

    ``mode`` is ``"matrix"`` (a ``rows × cols × kernel`` tensor read from a tile,
    :mod:`graphparam.model.tiles`) or ``"vector"`` (one value per element). ``kernel`` is the spatial part of a weight, folded to at
    most two axes. ``base_std`` is the target std before the learned factor (matrix modes only).
    """

    mode: str
    rows: int
    cols: int
    kernel: tuple[int, int]
    transform: str
    base_std: float
    fan_in: int


def _fold_kernel(dims: tuple[int, ...]) -> tuple[int, int]:
    if not dims:
        return (1, 1)
    if len(dims) == 1:
        return (1, int(dims[0]))
    return (int(math.prod(dims[:-1])), int(dims[-1]))


def _stride(node: Node) -> int:
    s = node.attrs.get("stride", 1)
    return int(math.prod(s)) if isinstance(s, (tuple, list)) else int(s or 1)


def slot_rule(node: Node, slot: ParamSlot, act: str | None, embed_std: float) -> SlotRule:
    """Decoding layout and transform of ``slot`` on ``node`` (``act``: activation that follows)."""
    shape = tuple(int(s) for s in slot.shape)
    numel = int(math.prod(shape)) if shape else 1
    role = slot.role
    vector = (role in (Role.BIAS, Role.NORM_SCALE, Role.NORM_SHIFT, Role.LAYER_SCALE)
              or (node.kind == "activation" and role == Role.WEIGHT) or len(shape) < 2)
    if vector:
        if node.kind == "activation" and role == Role.WEIGHT:
            transform = "prelu"
        elif role == Role.NORM_SCALE or (node.kind in NORM_KINDS and role == Role.WEIGHT):
            transform = "norm_scale"
        elif role == Role.LAYER_SCALE:
            transform = "layer_scale"
        else:
            transform = "shift"
        return SlotRule("vector", numel, 1, (1, 1), transform, 0.0, 1)
    if role == Role.WEIGHT:
        kernel = shape[2:]
        fan_in = shape[1] * int(math.prod(kernel))
        if node.kind == "conv_transpose":
            fan_in = max(1, shape[0] * int(math.prod(kernel)) // max(1, _stride(node)))
            fan_in = max(1, fan_in // int(node.attrs.get("groups", 1) or 1))
        elif node.kind == "matmul":  # x @ W: W is (in, out)
            fan_in, kernel = shape[-2], ()
            shape = (shape[0], numel // shape[0])
        gain = GAINS.get(act or "", 1.0)
        kh, kw = _fold_kernel(tuple(kernel))
        return SlotRule("matrix", shape[0], shape[1], (kh, kw), "weight", gain / math.sqrt(max(fan_in, 1)), fan_in)
    # other tensors of 4+ dims are free conv-like weights (e.g. a weight standardized in the forward):
    # out × in × kernel, so that the channel tables stay as small as for a conv, not numel-sized
    if len(shape) >= 4:
        return SlotRule("matrix", shape[0], shape[1], _fold_kernel(shape[2:]), "embed", embed_std,
                        shape[1] * int(math.prod(shape[2:])))
    # embeddings, positional embeddings, class tokens, other tensors: tokens × features
    return SlotRule("matrix", numel // shape[-1], shape[-1], (1, 1), "embed", embed_std, shape[-1])


# ---- the transforms themselves (torch) ----------------------------------------------------------

def vector_transform(raw: torch.Tensor, transform: torch.Tensor, scale_bound: float, shift_bound: float,
                     layer_scale_init: float) -> torch.Tensor:
    """Bounded per-element transform of raw vector outputs; ``transform`` holds TRANSFORM_INDEX values."""
    t = torch.tanh(raw)
    out = shift_bound * t
    out = torch.where(transform == TRANSFORM_INDEX["norm_scale"], 1.0 + scale_bound * t, out)
    out = torch.where(transform == TRANSFORM_INDEX["layer_scale"],
                      layer_scale_init * torch.pow(10.0, t), out)
    out = torch.where(transform == TRANSFORM_INDEX["prelu"], 0.25 + 0.25 * t, out)
    return out
