"""Hand-built nets for the GHN tests: odd shapes, attention, embeddings, deep plain/residual stacks."""

from __future__ import annotations

import torch
import torch.nn as nn


class OddShapes(nn.Module):
    """Depthwise and grouped convs, 1x1 to 11x11 kernels, a 4096-wide Linear, a 1000-class head,
    Conv1d, ConvTranspose2d, PReLU, GroupNorm, InstanceNorm, a LayerNorm over (C, H, W)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 24, 11, stride=2, padding=5)
        self.dw = nn.Conv2d(24, 24, 5, padding=2, groups=24, bias=False)
        self.grouped = nn.Conv2d(24, 48, 3, padding=1, groups=4)
        self.gn = nn.GroupNorm(4, 48)
        self.act = nn.PReLU(48)
        self.up = nn.ConvTranspose2d(48, 16, 2, stride=2)
        self.inorm = nn.InstanceNorm2d(16, affine=True)
        self.pw = nn.Conv2d(16, 32, 1)
        self.ln = nn.LayerNorm([32, 32, 32])
        self.conv1d = nn.Conv1d(32, 8, 7, padding=3)
        self.wide = nn.Linear(8, 4096)
        self.head = nn.Linear(4096, 1000)

    def forward(self, x):
        x = self.stem(x)
        x = self.dw(x)
        x = self.act(self.gn(self.grouped(x)))
        x = self.pw(self.inorm(self.up(x)))
        x = self.ln(x)
        x = self.conv1d(x.flatten(2)).mean(-1)
        return self.head(torch.relu(self.wide(x)))


class TokenNet(nn.Module):
    """nn.Embedding, a learned positional embedding, a class token, nn.MultiheadAttention,
    a layer scale and a classifier."""

    def __init__(self, vocab: int = 500, dim: int = 64, tokens: int = 16, classes: int = 7):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.zeros(1, tokens + 1, dim))
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, 4, batch_first=True)
        self.gamma = nn.Parameter(torch.full((dim,), 0.1))
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        ids = (x.abs() * 50).clamp(max=self.embed.num_embeddings - 1).to(torch.long)  # traceable with float input
        x = self.embed(ids)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        h = self.norm(x)
        x = x + self.gamma * self.attn(h, h, h, need_weights=False)[0]
        return self.head(x[:, 0])


class Plain(nn.Module):
    """``depth`` conv layers (3x3, ReLU, optional BatchNorm), average pool, linear head."""

    def __init__(self, depth: int = 50, width: int = 64, bn: bool = False):
        super().__init__()
        layers = [nn.Conv2d(3, width, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1)] + ([nn.BatchNorm2d(width)] if bn else []) + [nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        return self.head(self.features(x).mean((2, 3)))


class PreActBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(width), nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(width), nn.Conv2d(width, width, 3, padding=1, bias=False)

    def forward(self, x):
        return x + self.conv2(torch.relu(self.bn2(self.conv1(torch.relu(self.bn1(x))))))


class Residual(nn.Module):
    """A 50-layer pre-activation residual net: stem, 24 two-conv blocks, head."""

    def __init__(self, blocks: int = 24, width: int = 32):
        super().__init__()
        self.stem = nn.Conv2d(3, width, 3, padding=1)
        self.blocks = nn.Sequential(*[PreActBlock(width) for _ in range(blocks)])
        self.norm = nn.BatchNorm2d(width)
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        return self.head(torch.relu(self.norm(self.blocks(self.stem(x)))).mean((2, 3)))


def activation_stds(model: nn.Module, x: torch.Tensor) -> list[tuple[str, float]]:
    """Std of the output of every leaf module on ``x``, with the model in train mode (BatchNorm
    uses batch statistics, the policy for predicted parameters)."""
    stds: list[tuple[str, float]] = []
    hooks = []
    for name, mod in model.named_modules():
        if next(mod.children(), None) is None and not isinstance(mod, (nn.Dropout, nn.Identity)):
            hooks.append(mod.register_forward_hook(
                lambda m, i, o, name=name: stds.append((name, float(o.float().std())))))
    model.train()
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return stds
