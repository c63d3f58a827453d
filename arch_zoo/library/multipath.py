"""Multi-path convnets built by timm: DLA (deep layer aggregation: trees of basic, bottleneck or Res2Net blocks
joined by root convolutions) and DPN (dual-path blocks: a residual and a densely concatenated path)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..generator import _Draw
from ..real import _stride1
from .draw import Family, _conv3x3, _depth, _fit, _native

if TYPE_CHECKING:
    from .spec import LibraryConfig

__all__ = ["TIMM_DLA", "TIMM_DPN"]


# timm DLA -----------------------------------------------------------------------------------------

# held-out DLAs (block, cardinality, levels, channels): never drawn (dla46_c's 64-64 cannot be drawn either way)
_DLA_HELDOUT = (("basic", 1, (1, 1, 1, 2, 2, 1), (16, 32, 64, 128, 256, 512)),  # dla34
                ("bottleneck", 1, (1, 1, 1, 2, 2, 1), (16, 32, 64, 64, 128, 256)))  # dla46_c
_DLA_BLOCKS = (  # block, cardinality, base width, weight: dla34/60/60x/102x2, dla60_res2net/res2next
    ("basic", 1, 64, 0.35), ("bottleneck", 1, 64, 0.25), ("bottleneck", 32, 4, 0.15), ("bottleneck", 64, 4, 0.05),
    ("bottle2neck", 1, 28, 0.1), ("bottle2neck", 8, 4, 0.1))


def _dla_mid(cout: int, card: int, bw: int) -> int:
    """The inner width of timm's DLA bottleneck blocks (expansion 2)."""
    return cout * bw // 64 * card // 2


def _dla_block(block: str, cin: int, cout: int, card: int, bw: int) -> float:
    if block == "basic":
        return 9 * cin * cout + 9 * cout * cout
    mid = _dla_mid(cout, card, bw)
    if block == "bottleneck":
        return cin * mid + 9 * mid * mid / card + mid * cout
    return 4 * cin * mid + 3 * 9 * mid * mid / card + 4 * mid * cout  # scale 4: three 3x3 convs of mid channels


def _dla_tree(levels: int, block: str, cin: int, cout: int, card: int, bw: int, root_dim: int = 0,
              level_root: bool = False) -> float:
    """Parameters of timm's ``DlaTree`` (weights only), as it builds itself."""
    root_dim = (root_dim or 2 * cout) + (cin if level_root else 0)
    if levels == 1:
        return (_dla_block(block, cin, cout, card, bw) + _dla_block(block, cout, cout, card, bw)
                + (cin * cout if cin != cout else 0) + root_dim * cout)
    return (_dla_tree(levels - 1, block, cin, cout, card, bw)
            + _dla_tree(levels - 1, block, cout, cout, card, bw, root_dim + cout))


def _sample_dla(draw: _Draw, cfg: LibraryConfig) -> dict:
    block, card, bw, _ = draw.weighted(tuple((b, b[3]) for b in _DLA_BLOCKS))
    total = _depth(draw, cfg, 4, 11)  # tree levels of levels 2-5: dla34 6 (1-2-2-1), dla169 11 (2-3-5-1)
    levels = [1, 1, 1, 1]
    for _ in range(total - 4):  # at most 5 per tree (32 blocks, dla169's level 4); the rest is dropped
        open_ = tuple((i, w) for i, w in enumerate((0.15, 0.35, 0.4, 0.1)) if levels[i] < 5)
        if open_:
            levels[draw.weighted(open_)] += 1
    growth = 2 if block == "basic" else 4  # dla34: 64-128-256-512; dla60: 128-256-512-1024 at c2 = 64
    def channels(c2: int) -> list[int]:
        return [16, 32] + [c2 * growth // 2 << i for i in range(4)]

    options = tuple(o for o in (16, 24, 32, 48, 64, 96, 128)
                    if (block, card, (1, 1, *levels), tuple(channels(o))) not in _DLA_HELDOUT)

    if block != "basic":  # grouped 3x3 convolutions: the inner width a positive multiple of the groups
        options = tuple(o for o in options if all(_dla_mid(c, card, bw) % card == 0 and _dla_mid(c, card, bw)
                                                  for c in channels(o)[2:]))

    def estimate(c2: int) -> float:
        ch = channels(c2)
        p = 49 * 3 * 16 + 9 * 16 * 16 + 9 * 16 * 32
        for i, n in enumerate(levels):
            p += _dla_tree(n, block, ch[i + 1], ch[i + 2], card, bw, level_root=i > 0)
        return 1.1 * (p + 10 * ch[-1])

    c2 = _fit(draw, cfg, options, estimate)
    return dict(levels=[1, 1, *levels], channels=channels(c2), block=block, cardinality=card, base_width=bw,
                shortcut_root=draw.chance(0.15))


def _build_dla(a: dict, num_classes: int):
    from timm.models.dla import DLA, DlaBasic, DlaBottle2neck, DlaBottleneck, DlaTree
    from torch import nn

    block = {"basic": DlaBasic, "bottleneck": DlaBottleneck, "bottle2neck": DlaBottle2neck}[a["block"]]
    model = DLA(levels=tuple(a["levels"]), channels=tuple(a["channels"]), num_classes=num_classes, block=block,
                cardinality=a["cardinality"], base_width=a["base_width"], shortcut_root=a["shortcut_root"])
    if a.get("native"):  # level 1 and the four trees downsample: 32 -> 1 (the 7x7 base layer has stride 1)
        return model
    _stride1(model.level1[0])  # levels 1 and 2 keep the resolution: 32 -> 4
    for m in model.level2.modules():
        if isinstance(m, DlaTree) and isinstance(m.downsample, nn.MaxPool2d):
            m.downsample = nn.Identity()
        elif isinstance(m, nn.Conv2d) and m.stride == (2, 2):
            _stride1(m)
        elif isinstance(m, nn.AvgPool2d) and m.stride == 2:
            m.stride = 1  # a Res2Net block's 3x3 pool of its last split, as timm builds it at stride 1
    return model


# timm DPN -------------------------------------------------------------------------------------------

_DPN68 = dict(small=True, num_init_features=10, k_r=128, groups=32, k_sec=[3, 4, 12, 3], inc_sec=[16, 32, 32, 64],
              b=False, act="relu")


def _sample_dpn(draw: _Draw, cfg: LibraryConfig) -> dict:
    n = _depth(draw, cfg, 4, 30)  # dpn68: 3-4-12-3 (22), dpn92: 3-4-20-3 (30)
    k_sec = [1, 1, 1, 1]
    for _ in range(n - 4):
        k_sec[draw.weighted(((0, 0.15), (1, 0.2), (2, 0.5), (3, 0.15)))] += 1
    small = draw.chance(0.8)  # dpn68/48b: 64-512 wide blocks, 3x3 stem; dpn92+: 4x wider, 7x7 stem
    inc0 = draw.choice((8, 12, 16, 24) if small else (16, 24))
    inc_sec = [inc0, 2 * inc0, 2 * inc0, 4 * inc0] if small else [inc0, 2 * inc0, inc0 + inc0 // 2, 8 * inc0]
    groups = draw.choice((8, 16, 32))
    init = draw.choice((10, 16, 32) if small else (32, 64))
    b, act = draw.chance(0.3), "silu" if draw.chance(0.2) else "relu"
    bw_factor = 1 if small else 4

    def estimate(k_r: int) -> float:
        total, cin = 9 * 3 * init if small else 49 * 3 * init, init
        for i, (depth, inc) in enumerate(zip(k_sec, inc_sec)):
            bw, r = (64 << i) * bw_factor, k_r << i
            for j in range(depth):
                total += (cin * (bw + 2 * inc) if j == 0 else 0) + cin * r + 9 * r * r / groups + r * (bw + inc)
                cin = bw + 3 * inc if j == 0 else cin + inc
        return 1.1 * (total + 10 * cin)

    options = tuple(k for k in (16, 32, 48, 64, 96, 128) if k % groups == 0)
    args = dict(small=small, num_init_features=init, groups=groups, k_sec=k_sec, inc_sec=inc_sec, b=b, act=act)
    if all(_DPN68[k] == v for k, v in args.items()):
        options = tuple(k for k in options if k != _DPN68["k_r"])
    return dict(args, k_r=_fit(draw, cfg, options, estimate))


def _build_dpn(a: dict, num_classes: int):
    from timm.models.dpn import DPN
    from torch import nn

    a = dict(a)
    native, act = a.pop("native", False), a.pop("act")
    model = DPN(num_classes=num_classes, act_layer=act, **a)
    if native:  # the stride-2 stem, its 3x3/2 max pool and three stride-2 stages: 32 -> 1
        return model
    stem = model.features.conv1_1
    if a["small"]:
        _stride1(stem.conv)  # 3x3/2 -> 3x3/1
    else:
        stem.conv = _conv3x3(stem.conv)  # 7x7/2 -> 3x3/1
    model.features.conv1_pool = nn.Identity()
    return model


TIMM_DLA = Family(
    "timm_dla", "timm", _sample_dla, _build_dla, (4, 11),
    "timm DLA of basic, (grouped) bottleneck or Res2Net blocks at drawn tree levels; levels 1-2 stride 1 "
    "(native: as built)", _native)

TIMM_DPN = Family(
    "timm_dpn", "timm", _sample_dpn, _build_dpn, (4, 30),
    "timm DPN (small or wide, dpn68b-style b blocks) at drawn depths and widths; stem stride 1, no max pool "
    "(native: as built)", _native)
