"""Modules that ``ArchSpec.build`` assembles: stems, the cell kinds, the head and ``Net``.

Every parameter is used in the forward pass (disabled parts are
``nn.Identity`` or absent), and forwards have no data-dependent control flow,
so nets trace with ``torch.fx`` and a tracer sees all parameters.
"""

from __future__ import annotations

import operator
from functools import reduce

import torch
from torch import nn

from .ops import OPS, Attention, ConvNormAct, SqueezeExcite, make_act, make_norm
from .spec import ArchSpec, CellSpec, HeadSpec, StemSpec

__all__ = [
    "Net",
    "DagCell",
    "BasicBlock",
    "Bottleneck",
    "InvertedResidual",
    "ConvNeXtBlock",
    "TransformerBlock",
    "TokenStem",
    "Head",
]


def _sum(xs: list[torch.Tensor]) -> torch.Tensor:
    return reduce(operator.add, xs)


def projection(c_in: int, c_out: int, stride: int, norm: str, kernel: int = 1) -> nn.Module:
    """Conv + norm matching width/resolution, or identity when nothing changes."""
    if c_in == c_out and stride == 1:
        return nn.Identity()
    return ConvNormAct(c_in, c_out, kernel, norm, None, stride=stride)


def _layer_scale(init: float, shape: tuple[int, ...]) -> nn.Parameter | None:
    return nn.Parameter(torch.full(shape, float(init))) if init > 0 else None


class DagCell(nn.Module):
    """A DAG of ops on a common width over a normalized projection of the input; loose ends are
    merged into the output, plus the projection when ``cell.residual``."""

    def __init__(self, cell: CellSpec, c_in: int, norm: str, act: str) -> None:
        super().__init__()
        c = cell.channels
        # always a normalizing projection (DARTS' preprocessing): without it, identity and pooling
        # paths summed with the residual grow the signal cell after cell within a stage
        self.pre = ConvNormAct(c_in, c, cell.stride, norm, None, stride=cell.stride)
        self.node_inputs = tuple(node.inputs for node in cell.nodes)
        self.node_concat = tuple(node.combine == "concat" and len(node.inputs) > 1 for node in cell.nodes)
        self.merges = nn.ModuleList(
            ConvNormAct(len(node.inputs) * c, c, 1, norm, None) if cat else nn.Identity()
            for node, cat in zip(cell.nodes, self.node_concat)
        )
        self.ops = nn.ModuleList(OPS[node.op](c, norm, act) for node in cell.nodes)
        consumed = {k for node in cell.nodes for k in node.inputs}
        self.outputs = tuple(k for k in range(1, len(cell.nodes) + 1) if k not in consumed)
        self.out_concat = cell.output == "concat" and len(self.outputs) > 1
        self.out_merge = ConvNormAct(len(self.outputs) * c, c, 1, norm, None) if self.out_concat else nn.Identity()
        self.residual = cell.residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states = [self.pre(x)]
        for inputs, cat, merge, op in zip(self.node_inputs, self.node_concat, self.merges, self.ops):
            xs = [states[k] for k in inputs]
            h = merge(torch.cat(xs, dim=1)) if cat else _sum(xs)
            states.append(op(h))
        outs = [states[k] for k in self.outputs]
        y = self.out_merge(torch.cat(outs, dim=1)) if self.out_concat else _sum(outs)
        if self.residual:
            y = y + states[0]
        return y


class BasicBlock(nn.Module):
    """ResNet basic block: two k x k convs, optional SE, projection shortcut when shapes change."""

    def __init__(self, cell: CellSpec, c_in: int, norm: str, act: str) -> None:
        super().__init__()
        c = cell.channels
        self.conv1 = ConvNormAct(c_in, c, cell.kernel, norm, act, stride=cell.stride)
        self.conv2 = ConvNormAct(c, c, cell.kernel, norm, None)
        self.se = SqueezeExcite(c, act) if cell.se else nn.Identity()
        self.shortcut = projection(c_in, c, cell.stride, norm) if cell.residual else None
        self.act = make_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.se(self.conv2(self.conv1(x)))
        if self.shortcut is not None:
            y = y + self.shortcut(x)
        return self.act(y)


class Bottleneck(nn.Module):
    """ResNet/ResNeXt bottleneck: 1x1 reduce to ``hidden``, grouped k x k, 1x1 expand."""

    def __init__(self, cell: CellSpec, c_in: int, norm: str, act: str) -> None:
        super().__init__()
        c, h = cell.channels, cell.hidden
        self.reduce = ConvNormAct(c_in, h, 1, norm, act)
        self.conv = ConvNormAct(h, h, cell.kernel, norm, act, stride=cell.stride, groups=cell.groups)
        self.expand = ConvNormAct(h, c, 1, norm, None)
        self.se = SqueezeExcite(c, act) if cell.se else nn.Identity()
        self.shortcut = projection(c_in, c, cell.stride, norm) if cell.residual else None
        self.act = make_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.se(self.expand(self.conv(self.reduce(x))))
        if self.shortcut is not None:
            y = y + self.shortcut(x)
        return self.act(y)


class InvertedResidual(nn.Module):
    """MobileNetV2/V3 block: 1x1 expand to ``hidden``, depthwise k x k, SE, linear 1x1 project.

    The identity skip exists only where shapes match (stride 1, same width).
    """

    def __init__(self, cell: CellSpec, c_in: int, norm: str, act: str) -> None:
        super().__init__()
        c, h = cell.channels, cell.hidden
        self.expand = ConvNormAct(c_in, h, 1, norm, act) if h != c_in else nn.Identity()
        self.dw = ConvNormAct(h, h, cell.kernel, norm, act, stride=cell.stride, groups=h)
        self.se = SqueezeExcite(h, act) if cell.se else nn.Identity()
        self.project = ConvNormAct(h, c, 1, norm, None)
        self.skip = cell.residual and cell.stride == 1 and c_in == c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.se(self.dw(self.expand(x))))
        if self.skip:
            y = y + x
        return y


class ConvNeXtBlock(nn.Module):
    """ConvNeXt block: depthwise k x k, norm, MLP to ``hidden`` and back, layer scale, skip.

    A stride-2 or widening cell first downsamples with a stride x stride conv + norm.
    """

    def __init__(self, cell: CellSpec, c_in: int, norm: str, act: str) -> None:
        super().__init__()
        c = cell.channels
        self.pre = projection(c_in, c, cell.stride, norm, kernel=cell.stride)
        self.dw = nn.Conv2d(c, c, cell.kernel, 1, cell.kernel // 2, groups=c)
        self.norm = make_norm(norm, c)
        self.fc1 = nn.Conv2d(c, cell.hidden, 1)
        self.act = make_act(act)
        self.fc2 = nn.Conv2d(cell.hidden, c, 1)
        self.gamma = _layer_scale(cell.layer_scale, (c, 1, 1))
        self.residual = cell.residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pre(x)
        y = self.fc2(self.act(self.fc1(self.norm(self.dw(x)))))
        if self.gamma is not None:
            y = y * self.gamma
        if self.residual:
            y = y + x
        return y


def _token_norm(norm: str, dim: int) -> nn.Module:
    return nn.LayerNorm(dim) if norm == "ln" else nn.Identity()


class TransformerBlock(nn.Module):
    """Pre-norm transformer block on ``(B, N, C)`` tokens: attention and MLP, each with optional layer scale."""

    def __init__(self, cell: CellSpec, c_in: int, norm: str, act: str) -> None:
        super().__init__()
        c = cell.channels
        self.norm1 = _token_norm(norm, c)
        self.attn = Attention(c, cell.heads)
        self.norm2 = _token_norm(norm, c)
        self.mlp = nn.Sequential(nn.Linear(c, cell.hidden), make_act(act), nn.Linear(cell.hidden, c))
        self.gamma1 = _layer_scale(cell.layer_scale, (c,))
        self.gamma2 = _layer_scale(cell.layer_scale, (c,))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.attn(self.norm1(x))
        if self.gamma1 is not None:
            y = y * self.gamma1
        x = x + y
        y = self.mlp(self.norm2(x))
        if self.gamma2 is not None:
            y = y * self.gamma2
        return x + y


CELLS: dict[str, type[nn.Module]] = {
    "dag": DagCell,
    "basic": BasicBlock,
    "bottleneck": Bottleneck,
    "inverted": InvertedResidual,
    "convnext": ConvNeXtBlock,
    "transformer": TransformerBlock,
}


class TokenStem(nn.Module):
    """ViT patch embedding: patchify conv, optional class token, learned position embedding."""

    def __init__(self, stem: StemSpec, in_channels: int, image_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, stem.channels, stem.kernel, stem.stride)
        self.has_cls = stem.cls_token
        num_tokens = (image_size // stem.stride) ** 2 + int(stem.cls_token)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, stem.channels)) if stem.cls_token else None
        self.pos_embed = nn.Parameter(nn.init.trunc_normal_(torch.empty(1, num_tokens, stem.channels), std=0.02))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x).flatten(2).transpose(1, 2)
        if self.has_cls:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return x + self.pos_embed


def make_stem(stem: StemSpec, in_channels: int, spec: ArchSpec) -> nn.Module:
    if stem.kind == "tokens":
        return TokenStem(stem, in_channels, spec.image_size)
    act = spec.act if stem.kind == "conv" else None
    return ConvNormAct(in_channels, stem.channels, stem.kernel, spec.norm, act, stride=stem.stride)


class Head(nn.Module):
    """Optional norm, pooling (global average or class token), optional hidden layer, linear classifier."""

    def __init__(self, head: HeadSpec, channels: int, num_classes: int, tokens: bool, norm: str, act: str) -> None:
        super().__init__()
        if not head.norm:
            self.norm = nn.Identity()
        else:
            self.norm = _token_norm(norm, channels) if tokens else make_norm(norm, channels)
        self.tokens = tokens
        self.cls = head.pool == "cls"
        self.pool = nn.Identity() if tokens else nn.AdaptiveAvgPool2d(1)
        if head.hidden:
            self.hidden = nn.Sequential(nn.Linear(channels, head.hidden), make_act(act))
            channels = head.hidden
        else:
            self.hidden = nn.Identity()
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        if self.tokens:
            x = x[:, 0] if self.cls else x.mean(dim=1)
        else:
            x = self.pool(x).flatten(1)
        return self.fc(self.hidden(x))


class Net(nn.Module):
    """stem -> cells -> head, built from an ``ArchSpec`` (kept as ``net.spec``)."""

    def __init__(self, spec: ArchSpec, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        self.spec = spec
        self.stem = make_stem(spec.stem, in_channels, spec)
        cells, c = [], spec.stem.channels
        for cell in spec.cells:
            cells.append(CELLS[cell.kind](cell, c, spec.norm, spec.act))
            c = cell.channels
        self.cells = nn.Sequential(*cells)
        self.head = Head(spec.head, c, num_classes, spec.stem.kind == "tokens", spec.norm, spec.act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.cells(self.stem(x)))
