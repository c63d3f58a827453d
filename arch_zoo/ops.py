"""Cell operations, normalizations and activations, each registered by name.

Every op maps a ``(B, C, H, W)`` tensor to the same shape (stride 1, width
preserved), so a cell can wire any op to any edge. Modules are built only
from standard torch primitives so that ``torch.fx`` traces them and every
parameter sits in a leaf module (Conv2d, Linear, BatchNorm2d, LayerNorm).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "OPS",
    "NORMS",
    "ACTS",
    "LayerNorm2d",
    "ConvNormAct",
    "SepConv",
    "SqueezeExcite",
    "SpatialAttention",
    "MLPBlock",
    "Attention",
    "make_norm",
    "make_act",
    "attention_heads",
]


class LayerNorm2d(nn.Module):
    """Layer norm over channels of a ``(B, C, H, W)`` tensor (channels-last, like ConvNeXt)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


NORMS: dict[str, Callable[[int], nn.Module]] = {
    "bn": nn.BatchNorm2d,
    "ln": LayerNorm2d,
    "none": lambda channels: nn.Identity(),
}

ACTS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


def make_norm(norm: str, channels: int) -> nn.Module:
    return NORMS[norm](channels)


def make_act(act: str) -> nn.Module:
    return ACTS[act]()


def attention_heads(channels: int) -> int:
    """Heads for spatial attention: as many as fit with head width >= 16, at most 8."""
    for heads in (8, 4, 2):
        if channels % heads == 0 and channels // heads >= 16:
            return heads
    return 1


class ConvNormAct(nn.Sequential):
    """Conv -> norm -> activation; the conv has a bias only when there is no norm."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        norm: str,
        act: str | None,
        stride: int = 1,
        dilation: int = 1,
        groups: int = 1,
    ) -> None:
        pad = dilation * (kernel - 1) // 2
        layers: list[nn.Module] = [
            nn.Conv2d(c_in, c_out, kernel, stride, pad, dilation, groups, bias=norm == "none"),
        ]
        if norm != "none":
            layers.append(make_norm(norm, c_out))
        if act is not None:
            layers.append(make_act(act))
        super().__init__(*layers)


class SepConv(nn.Sequential):
    """Depthwise k x k conv, then pointwise conv -> norm -> activation."""

    def __init__(self, channels: int, kernel: int, norm: str, act: str) -> None:
        super().__init__(
            nn.Conv2d(channels, channels, kernel, 1, kernel // 2, groups=channels, bias=False),
            ConvNormAct(channels, channels, 1, norm, act),
        )


class SqueezeExcite(nn.Module):
    """Channel gating from globally pooled features (Hu et al. 2018)."""

    def __init__(self, channels: int, act: str = "relu", reduction: int = 4) -> None:
        super().__init__()
        hidden = max(8, channels // reduction)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, hidden, 1)
        self.act = make_act(act)
        self.expand = nn.Conv2d(hidden, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.gate(self.expand(self.act(self.reduce(self.pool(x)))))
        return x * s


class Attention(nn.Module):
    """Multi-head self-attention over tokens ``(B, N, C)`` with explicit qkv/proj linears."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj(y.transpose(1, 2).reshape(B, N, C))


class SpatialAttention(nn.Module):
    """Pre-norm self-attention among the H*W positions of a feature map."""

    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.norm = make_norm(norm, channels)
        self.attn = Attention(channels, attention_heads(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        tokens = self.norm(x).reshape(B, C, H * W).transpose(1, 2)
        return self.attn(tokens).transpose(1, 2).reshape(B, C, H, W)


class MLPBlock(nn.Sequential):
    """Pre-norm per-position MLP (1x1 convs), expanding the width by ``ratio``."""

    def __init__(self, channels: int, norm: str, act: str, ratio: int = 2) -> None:
        super().__init__(
            make_norm(norm, channels),
            nn.Conv2d(channels, ratio * channels, 1),
            make_act(act),
            nn.Conv2d(ratio * channels, channels, 1),
        )


OpBuilder = Callable[[int, str, str], nn.Module]

OPS: dict[str, OpBuilder] = {
    "conv1x1": lambda c, norm, act: ConvNormAct(c, c, 1, norm, act),
    "conv3x3": lambda c, norm, act: ConvNormAct(c, c, 3, norm, act),
    "conv5x5": lambda c, norm, act: ConvNormAct(c, c, 5, norm, act),
    "conv7x7": lambda c, norm, act: ConvNormAct(c, c, 7, norm, act),
    "sep_conv3x3": lambda c, norm, act: SepConv(c, 3, norm, act),
    "sep_conv5x5": lambda c, norm, act: SepConv(c, 5, norm, act),
    "dil_conv3x3": lambda c, norm, act: ConvNormAct(c, c, 3, norm, act, dilation=2),
    "max_pool3x3": lambda c, norm, act: nn.MaxPool2d(3, 1, 1),
    "avg_pool3x3": lambda c, norm, act: nn.AvgPool2d(3, 1, 1, count_include_pad=False),
    "identity": lambda c, norm, act: nn.Identity(),
    "se": lambda c, norm, act: SqueezeExcite(c, act),
    "attention": lambda c, norm, act: SpatialAttention(c, norm),
    "mlp": lambda c, norm, act: MLPBlock(c, norm, act),
}
"""Op name -> builder ``(channels, norm, act) -> nn.Module``; the op vocabulary of DAG cells."""
