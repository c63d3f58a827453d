"""Random, reproducible architectures in the spirit of DeepNets-1M.

``sample(seed, split)`` draws one ``ArchSpec``: a stem, a stack of cells with
two stride-2 reductions, and a classifier head, from one of several families
(NAS-style DAG cells, ResNet, MobileNet, ConvNeXt, ViT). The random stream is
keyed by sha256 of ``(split, seed)`` and only uses ``random.Random.random()``
with exact float arithmetic (+, *, comparisons), so a seed gives the same spec
on every machine and Python version.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, replace
from typing import Sequence, TypeVar

from .ops import OPS
from .spec import FAMILIES, ArchSpec, CellSpec, HeadSpec, NodeSpec, StemSpec

__all__ = ["GeneratorConfig", "PRESETS", "STREAMS", "sample", "WIDTHS"]

T = TypeVar("T")

WIDTHS = (8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
"""Widths the generator uses; closed under doubling up to 1024."""

_FREE_OPS = frozenset({"max_pool3x3", "avg_pool3x3", "identity"})
_DEFAULT_OPS = (
    ("conv1x1", 1.0),
    ("conv3x3", 2.0),
    ("conv5x5", 1.0),
    ("conv7x7", 0.5),
    ("sep_conv3x3", 1.5),
    ("sep_conv5x5", 1.0),
    ("dil_conv3x3", 1.0),
    ("max_pool3x3", 1.0),
    ("avg_pool3x3", 1.0),
    ("identity", 1.0),
    ("se", 0.5),
    ("attention", 0.5),
    ("mlp", 0.75),
)


@dataclass(frozen=True)
class GeneratorConfig:
    """Ranges the generator draws from (inclusive).

    ``channels`` bounds every cell width (the first stage width is at most a
    quarter of the maximum, as it doubles twice). ``skew`` >= 1 pushes widths
    and depths toward the low end of their ranges (a draw is the product of
    ``skew`` uniforms), so most nets stay cheap; 1 is uniform.
    """

    families: tuple[tuple[str, float], ...] = (
        ("dag", 0.5),
        ("resnet", 0.15),
        ("mobilenet", 0.15),
        ("convnext", 0.1),
        ("vit", 0.1),
    )
    cells: tuple[int, int] = (4, 18)
    channels: tuple[int, int] = (8, 256)
    nodes: tuple[int, int] = (2, 5)
    max_inputs: int = 2
    concat_prob: float = 0.3
    norms: tuple[str, ...] = ("bn", "ln")
    acts: tuple[str, ...] = ("relu", "gelu", "silu")
    ops: tuple[tuple[str, float], ...] = _DEFAULT_OPS
    skew: int = 2
    image_size: int = 32

    def __post_init__(self) -> None:
        for name, _ in self.families:
            if name not in FAMILIES:
                raise ValueError(f"families: unknown family {name!r}")
        for name, _ in self.ops:
            if name not in OPS:
                raise ValueError(f"ops: unknown op {name!r}")
        for name in ("cells", "channels", "nodes"):
            lo, hi = getattr(self, name)
            if not 1 <= lo <= hi:
                raise ValueError(f"{name}: need 1 <= low <= high, got {(lo, hi)}")
        if self.cells[0] < 3:
            raise ValueError("cells: at least 3 cells are needed for two reductions")
        if not any(self.channels[0] <= w and 4 * w <= self.channels[1] for w in WIDTHS):
            raise ValueError(f"channels: no width w in WIDTHS with {self.channels} containing w..4w")
        if self.max_inputs < 1 or self.skew < 1 or not self.norms or not self.acts:
            raise ValueError("max_inputs and skew must be >= 1; norms and acts non-empty")


PRESETS: dict[str, GeneratorConfig] = {
    "train": GeneratorConfig(),
    "wide": GeneratorConfig(channels=(96, 512)),
    "deep": GeneratorConfig(cells=(20, 40)),
    "dense": GeneratorConfig(families=(("dag", 1.0),), nodes=(5, 8), max_inputs=4, concat_prob=0.6),
    "bnfree": GeneratorConfig(norms=("none",)),
}
"""Named configs; the ``val`` and ``test`` splits use ``train``'s."""
PRESETS["val"] = PRESETS["test"] = PRESETS["train"]

_CELL_OPS = tuple((op, w) for op, w in _DEFAULT_OPS if op not in ("attention", "mlp", "se"))
STREAMS: dict[str, GeneratorConfig] = {
    "train": PRESETS["train"],
    "cells": GeneratorConfig(families=(("dag", 1.0),), norms=("bn",), ops=_CELL_OPS, cells=(4, 12),
                             channels=(8, 128)),
    "resnet": GeneratorConfig(families=(("resnet", 1.0),), norms=("bn",)),
    "dag": GeneratorConfig(families=(("dag", 1.0),)),
    "others": GeneratorConfig(families=(("mobilenet", 0.15), ("convnext", 0.1), ("vit", 0.1))),
    "shallow": replace(PRESETS["train"], cells=(3, 6)),
    "mixed": GeneratorConfig(families=(("dag", 0.6), ("resnet", 0.15), ("mobilenet", 0.1), ("convnext", 0.075),
                                       ("vit", 0.075)), cells=(4, 14), channels=(8, 192)),
}
"""Training streams (``train_stream(stream=...)``): ``train``, the distribution of the ``val``/``test``
splits; ``cells``, DARTS-style BatchNorm cells of convolutions and pooling only (DeepNets-1M-like);
``mixed``, the ``train`` families weighted toward cells, capped at 14 cells and width 192; ``resnet``,
``shallow``, the ``train`` families with 3-6 cells (a curriculum's first stage: a body shallow enough for the
loss to shape it); ``dag`` and ``others`` (MobileNet, ConvNeXt, ViT), single families of ``train`` (the learning race's
family streams, experiments/results/learning_race.md)."""


class _Draw:
    """Deterministic draws built only on ``Random.random()`` and exact float ops."""

    def __init__(self, key: str) -> None:
        self._random = random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")).random

    def unit(self, skew: int = 1) -> float:
        u = self._random()
        for _ in range(skew - 1):
            u *= self._random()
        return u

    def chance(self, p: float) -> bool:
        return self._random() < p

    def index(self, n: int, skew: int = 1) -> int:
        return min(n - 1, int(n * self.unit(skew)))

    def int(self, lo: int, hi: int, skew: int = 1) -> int:
        return lo + self.index(hi - lo + 1, skew)

    def choice(self, seq: Sequence[T], skew: int = 1) -> T:
        return seq[self.index(len(seq), skew)]

    def weighted(self, pairs: Sequence[tuple[T, float]]) -> T:
        x = self._random() * sum(w for _, w in pairs)
        for item, w in pairs:
            x -= w
            if x < 0:
                return item
        return pairs[-1][0]

    def subset(self, n: int, k: int) -> tuple[int, ...]:
        pool = list(range(n))
        for i in range(k):
            j = i + self.index(n - i)
            pool[i], pool[j] = pool[j], pool[i]
        return tuple(sorted(pool[:k]))


def sample(seed: int, split: str = "train", config: GeneratorConfig | None = None) -> ArchSpec:
    """The architecture number ``seed`` of ``split`` (config ``PRESETS[split]`` unless given)."""
    if config is None:
        if split not in PRESETS:
            raise KeyError(f"unknown split {split!r}; known: {', '.join(PRESETS)}")
        config = PRESETS[split]
    draw = _Draw(f"arch_zoo:{split}:{int(seed)}")
    family = draw.weighted(config.families)
    return _FAMILY_SAMPLERS[family](draw, config)


def _stage_widths(draw: _Draw, cfg: GeneratorConfig, lo: int | None = None) -> tuple[int, ...]:
    """Three stage widths: c0, then each stage doubles (or, one time in four, grows to the next width)."""
    lo = max(cfg.channels[0], lo or 0)
    hi = cfg.channels[1] // 4
    base = [w for w in WIDTHS if lo <= w <= hi] or [w for w in WIDTHS if 4 * w <= cfg.channels[1]][-1:]
    widths = [draw.choice(base, cfg.skew)]
    for _ in range(2):
        c = widths[-1]
        grown = 2 * c if draw.chance(0.75) else next((w for w in WIDTHS if w > c), 2 * c)
        widths.append(min(grown, cfg.channels[1]))
    return tuple(widths)


def _stage_sizes(draw: _Draw, n: int) -> tuple[int, int, int]:
    """Split ``n`` cells into three non-empty stages."""
    a, b = draw.subset(n - 1, 2)
    return (a + 1, b - a, n - 1 - b)


def _norm(draw: _Draw, cfg: GeneratorConfig, prefer: str) -> str:
    if prefer in cfg.norms and draw.chance(0.75):
        return prefer
    return draw.choice(cfg.norms)


def _act(draw: _Draw, cfg: GeneratorConfig, prefer: str) -> str:
    if prefer in cfg.acts and draw.chance(0.6):
        return prefer
    return draw.choice(cfg.acts)


def _head(draw: _Draw, cfg: GeneratorConfig, p_hidden: float, norm: bool = False, pool: str = "avg") -> HeadSpec:
    hidden = draw.choice([w for w in WIDTHS if 32 <= w <= max(32, cfg.channels[1])], cfg.skew)
    return HeadSpec(pool=pool, norm=norm, hidden=hidden if draw.chance(p_hidden) else 0)


def _genotype(draw: _Draw, cfg: GeneratorConfig, attention_ok: bool) -> tuple[tuple[NodeSpec, ...], str, bool]:
    ops = [(op, w) for op, w in cfg.ops if attention_ok or op != "attention"]
    nodes = []
    for j in range(draw.int(*cfg.nodes)):
        k = draw.int(1, min(cfg.max_inputs, j + 1))
        inputs = draw.subset(j + 1, k)
        combine = "concat" if k > 1 and draw.chance(cfg.concat_prob) else "sum"
        nodes.append(NodeSpec(inputs=inputs, op=draw.weighted(ops), combine=combine))
    if all(node.op in _FREE_OPS for node in nodes) and any(op not in _FREE_OPS for op, _ in ops):
        last = nodes[-1]
        nodes[-1] = NodeSpec(last.inputs, "conv3x3" if "conv3x3" in OPS else last.op, last.combine)
    output = "concat" if draw.chance(max(cfg.concat_prob, 0.5)) else "sum"
    draw.chance(0.5)  # was "residual?": every DAG cell is residual now; the draw keeps later draws unchanged
    return tuple(nodes), output, True


def _sample_dag(draw: _Draw, cfg: GeneratorConfig) -> ArchSpec:
    n = draw.int(*cfg.cells, cfg.skew)
    widths = _stage_widths(draw, cfg)
    stem_stride = 2 if draw.chance(0.25) else 1
    stem = StemSpec("conv", widths[0], kernel=draw.choice((3, 3, 5)), stride=stem_stride)
    sizes = _stage_sizes(draw, n)
    res = cfg.image_size // stem_stride
    cells = []
    for stage, (size, width) in enumerate(zip(sizes, widths)):
        if stage:
            res //= 2
        ok = res <= 16
        reduce_geno = _genotype(draw, cfg, ok) if stage else None
        normal_geno = _genotype(draw, cfg, ok)
        for i in range(size):
            nodes, output, residual = reduce_geno if (stage and i == 0) else normal_geno
            stride = 2 if stage and i == 0 else 1
            cells.append(CellSpec("dag", width, stride=stride, nodes=nodes, output=output, residual=residual))
    return ArchSpec(
        family="dag",
        stem=stem,
        cells=tuple(cells),
        head=_head(draw, cfg, 0.15),
        norm=_norm(draw, cfg, "bn"),
        act=_act(draw, cfg, "relu"),
        image_size=cfg.image_size,
    )


def _sample_resnet(draw: _Draw, cfg: GeneratorConfig) -> ArchSpec:
    n = draw.int(*cfg.cells, cfg.skew)
    bottleneck = draw.chance(0.35)
    expansion = draw.choice((2, 4)) if bottleneck else 1
    widths = _stage_widths(draw, cfg, lo=8 * expansion)
    groups = draw.choice((1, 1, 2, 4, 8)) if bottleneck else 1
    se_prob, residual = draw.choice((0.0, 0.0, 0.5, 1.0)), draw.chance(0.9)
    cells = []
    for stage, size in enumerate(_stage_sizes(draw, n)):
        w = widths[stage] // expansion if bottleneck else widths[stage]
        g = groups if w % groups == 0 and w // groups >= 4 else 1
        se, kernel = draw.chance(se_prob), 5 if draw.chance(0.1) else 3
        for i in range(size):
            stride = 2 if stage and i == 0 else 1
            if bottleneck:
                cell = CellSpec("bottleneck", widths[stage], stride, hidden=w, kernel=kernel, groups=g, se=se,
                                residual=residual)
            else:
                cell = CellSpec("basic", w, stride, kernel=kernel, se=se, residual=residual)
            cells.append(cell)
    stem_width = widths[0] // expansion if bottleneck else widths[0]
    return ArchSpec(
        family="resnet",
        stem=StemSpec("conv", stem_width, kernel=3),
        cells=tuple(cells),
        head=_head(draw, cfg, 0.1),
        norm=_norm(draw, cfg, "bn"),
        act=_act(draw, cfg, "relu"),
        image_size=cfg.image_size,
    )


def _sample_mobilenet(draw: _Draw, cfg: GeneratorConfig) -> ArchSpec:
    n = draw.int(*cfg.cells, cfg.skew)
    widths = _stage_widths(draw, cfg)
    se_prob = draw.choice((0.0, 0.5, 1.0))
    stem = StemSpec("conv", widths[0], kernel=3, stride=draw.choice((1, 2)))
    cells, c_in = [], widths[0]
    for stage, size in enumerate(_stage_sizes(draw, n)):
        for i in range(size):
            expand = 1 if stage == 0 and i == 0 else draw.weighted(((2, 1.0), (3, 1.0), (4, 1.0), (6, 2.0)))
            cells.append(
                CellSpec(
                    "inverted",
                    widths[stage],
                    stride=2 if stage and i == 0 else 1,
                    hidden=expand * c_in,
                    kernel=draw.choice((3, 3, 5)),
                    se=draw.chance(se_prob),
                )
            )
            c_in = widths[stage]
    return ArchSpec(
        family="mobilenet",
        stem=stem,
        cells=tuple(cells),
        head=_head(draw, cfg, 0.4),
        norm=_norm(draw, cfg, "bn"),
        act=_act(draw, cfg, "silu"),
        image_size=cfg.image_size,
    )


def _sample_convnext(draw: _Draw, cfg: GeneratorConfig) -> ArchSpec:
    n = draw.int(*cfg.cells, cfg.skew)
    widths = _stage_widths(draw, cfg, lo=16)
    patch = draw.weighted(((1, 1.0), (2, 3.0)))
    kernel = draw.weighted(((3, 1.0), (5, 1.0), (7, 3.0)))
    ratio = draw.choice((2, 3, 4))
    layer_scale = draw.choice((0.0, 1e-6, 1e-2))
    cells = []
    for stage, size in enumerate(_stage_sizes(draw, n)):
        for i in range(size):
            w = widths[stage]
            cells.append(
                CellSpec(
                    "convnext",
                    w,
                    stride=2 if stage and i == 0 else 1,
                    hidden=ratio * w,
                    kernel=kernel,
                    layer_scale=layer_scale,
                )
            )
    return ArchSpec(
        family="convnext",
        stem=StemSpec("patch", widths[0], kernel=patch, stride=patch),
        cells=tuple(cells),
        head=_head(draw, cfg, 0.1, norm=True),
        norm=_norm(draw, cfg, "ln"),
        act=_act(draw, cfg, "gelu"),
        image_size=cfg.image_size,
    )


def _sample_vit(draw: _Draw, cfg: GeneratorConfig) -> ArchSpec:
    n = draw.int(*cfg.cells)
    dims = [w for w in WIDTHS if max(32, cfg.channels[0]) <= w <= max(32, cfg.channels[1] * 3 // 4)]
    dim = draw.choice(dims, cfg.skew)
    patch = draw.weighted(((2, 0.5), (4, 3.0), (8, 1.5)))
    if patch == 2:  # 256 tokens: keep it narrow, attention cost grows with tokens squared
        dim = min(dim, 48)
    head_dim = draw.choice([h for h in (16, 32, 64) if dim % h == 0 and dim // h <= 12] or [dim])
    ratio = draw.choice((2, 3, 4))
    layer_scale = draw.choice((0.0, 0.0, 1e-5, 1e-4, 0.1))
    cls_token = draw.chance(0.5)
    cell = CellSpec("transformer", dim, hidden=ratio * dim, heads=dim // head_dim, layer_scale=layer_scale)
    norm = "ln" if "ln" in cfg.norms else "none"
    return ArchSpec(
        family="vit",
        stem=StemSpec("tokens", dim, kernel=patch, stride=patch, cls_token=cls_token),
        cells=(cell,) * n,
        head=_head(draw, cfg, 0.1, norm=draw.chance(0.8), pool="cls" if cls_token else "avg"),
        norm=norm,
        act=_act(draw, cfg, "gelu"),
        image_size=cfg.image_size,
    )


_FAMILY_SAMPLERS = {
    "dag": _sample_dag,
    "resnet": _sample_resnet,
    "mobilenet": _sample_mobilenet,
    "convnext": _sample_convnext,
    "vit": _sample_vit,
}
