"""Lightweight convnets built by timm outside the block-string builders: GhostNet (v1, v2 with DFC attention, v3
with re-parameterisable branches) from drawn stage configs, and ReXNet (linear bottlenecks with channel growth)."""

from __future__ import annotations

from math import ceil
from typing import TYPE_CHECKING

from ..generator import _Draw
from ..real import _stride1
from .draw import Family, _depth, _div8, _fit, _native, _spread, _strides

if TYPE_CHECKING:
    from .spec import LibraryConfig

__all__ = ["TIMM_GHOSTNET", "TIMM_REXNET"]


def _div4(x: float) -> int:
    """timm's ``make_divisible(x, 4)``: the nearest multiple of 4, never below 90 % of ``x``."""
    v = max(4, int(x + 2) // 4 * 4)
    return v + 4 if v < 0.9 * x else v


# timm GhostNet --------------------------------------------------------------------------------------


def _sample_ghostnet(draw: _Draw, cfg: LibraryConfig) -> dict:
    version = draw.weighted((("v1", 0.45), ("v2", 0.35), ("v3", 0.2)))
    n = _depth(draw, cfg, 4, 18)  # ghostnet_100: 16 bottlenecks
    stages = draw.int(4, min(6, n))
    repeats = [1] + _spread(draw, n - 1, (0.6, 0.6, 1.0, 0.8, 0.6)[:stages - 1])
    strides = _strides(draw, stages)  # for 32x32 (the stem's stride 2 is removed; native keeps it: ends 2x2)
    plan = []  # per stage: channels growth, kernel, expansion, se
    for i in range(stages):
        growth = (1, 1) if i == 0 else draw.choice(((3, 2), (5, 3), (2, 1), (7, 5)))  # 16-24-40-80-112-160
        plan.append((growth, 3 if i == 0 else draw.choice((3, 5)), 1 if i == 0 else draw.choice((2, 3, 4, 6)),
                     0.25 if i and draw.chance(0.5) else 0))

    def cfgs_at(width: float) -> list:
        out, cin, c = [], 16, 16
        for (growth, k, e, se), r, s in zip(plan, repeats, strides):
            c = min(_div8(c * growth[0] // growth[1]), 640)
            out.append([[k, _div8(cin * e) if j == 0 else _div8(c * e), c, se, s if j == 0 else 1] for j in range(r)])
            cin = c
        return out

    def estimate(width: float) -> float:
        cin, total, idx = _div4(16 * width), 27 * _div4(16 * width), 0
        for stage in cfgs_at(1.0):
            for k, e, c, se, s in stage:
                mid, c = _div4(e * width), _div4(c * width)
                ghost = cin * mid / 2 + 9 * mid / 2 + mid * c / 2 + 9 * c / 2
                total += ghost * (3 if version == "v3" else 1) + (k * k * mid if s > 1 else 0) + se * 2 * mid * mid
                total += cin * mid + 10 * mid if version != "v1" and idx > 1 else 0  # DFC / shortcut attention
                total += k * k * cin + cin * c if cin != c or s > 1 else 0
                cin, idx = c, idx + 1
        head = _div4(e * width)
        return 1.1 * (total + cin * head + head * 1280 + 1280 * 10)

    width = _fit(draw, cfg, (0.5, 0.75, 1.0, 1.3, 1.6, 2.0), estimate, skew=1)
    # ghostnet_100 (and the v2/v3 nets) downsample in four stages after a stride-2 stem; these draws in three
    # (adapted: after a stride-1 stem), and a stride-1 GhostBottleneck has no depthwise conv: never a held-out graph
    return dict(version=version, cfgs=cfgs_at(1.0), width=width)


def _build_ghostnet(a: dict, num_classes: int):
    from timm.models.ghostnet import GhostNet

    model = GhostNet(a["cfgs"], num_classes=num_classes, width=a["width"], version=a["version"])
    if not a.get("native"):  # native: the stem's stride 2 kept (on the strides drawn for 32x32: ends 2x2)
        _stride1(model.conv_stem)
    return model


# timm ReXNet ------------------------------------------------------------------------------------------

_REXNET_LAYERS, _REXNET_STRIDES = (1, 2, 2, 3, 3, 5), (1, 2, 2, 2, 1, 2)


def _rexnet_params(width: float, depth_mult: float, final_chs: int, se: float, ch_div: int) -> float:
    """Rough parameter count of timm's ReXNet: its channel schedule (``_block_cfg``), without batch norms."""
    layers = [ceil(n * depth_mult) for n in _REXNET_LAYERS]
    n = sum(layers)
    base = 16 / width if width < 1 else 16
    stem = max(8, round(32 * width))
    total, cin = 27 * stem, stem
    for i in range(n):
        c = max(ch_div, round(base * width) // ch_div * ch_div)
        dw = cin if i < layers[0] else cin * 6
        total += (cin * dw if dw != cin else 0) + 9 * dw + dw * c
        total += 2 * dw * dw * se if i >= layers[0] + layers[1] else 0  # SE from the third group on
        base += final_chs / n
        cin = c
    pen = round(1280 * width)
    return 1.1 * (total + cin * pen + pen * 10)


def _sample_rexnet(draw: _Draw, cfg: LibraryConfig) -> dict:
    depth = _depth(draw, cfg, 6, 32)  # blocks of rexnet_100: 16
    depth_mult = depth / 16  # exact: a multiple of 1/16
    final = draw.weighted(((180, 0.6), (120, 0.2), (240, 0.2)))  # channels the blocks grow by (timm: 180)
    se = 1 / 12 if draw.chance(0.7) else 0.0
    ch_div = 8 if draw.chance(0.3) else 1  # rexnetr_*: channels rounded to 8
    act = draw.weighted((("swish", 0.7), ("relu", 0.15), ("hard_swish", 0.15)))
    options = (0.5, 0.75, 1.0, 1.3, 1.5, 2.0)
    layers = tuple(ceil(n * depth_mult) for n in _REXNET_LAYERS)  # rexnet_100's at depth_mult 0.875 too
    if (layers, final, se, ch_div, act) == (_REXNET_LAYERS, 180, 1 / 12, 1, "swish"):  # rexnet_100
        options = tuple(o for o in options if o != 1.0)
    width = _fit(draw, cfg, options, lambda w: _rexnet_params(w, depth_mult, final, se, ch_div))
    return dict(width_mult=width, depth_mult=depth_mult, final_chs=final, se_ratio=se, ch_div=ch_div, act=act)


def _build_rexnet(a: dict, num_classes: int):
    from timm.models.rexnet import RexNet

    model = RexNet(num_classes=num_classes, width_mult=a["width_mult"], depth_mult=a["depth_mult"],
                   final_chs=a["final_chs"], se_ratio=a["se_ratio"], ch_div=a["ch_div"], act_layer=a["act"])
    if a.get("native"):  # the stem's stride 2 and four stride-2 groups: 32 -> 1
        return model
    _stride1(model.stem.conv)
    first = next(b for b in model.features
                 if getattr(b, "conv_dw", None) is not None and b.conv_dw.conv.stride == (2, 2))
    _stride1(first.conv_dw.conv)  # the first stride-2 block (no identity shortcut either way: it changes width)
    return model


TIMM_GHOSTNET = Family(
    "timm_ghostnet", "timm", _sample_ghostnet, _build_ghostnet, (4, 18),
    "timm GhostNet v1/v2/v3 from drawn stage configs and width, stem stride 1 (native: 2, ends 2x2)", _native)

TIMM_REXNET = Family(
    "timm_rexnet", "timm", _sample_rexnet, _build_rexnet, (6, 32),
    "timm ReXNet(-R) at drawn width and depth multipliers, stem and first stride-2 block stride 1 (native: as built)",
    _native)
