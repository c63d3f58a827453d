"""timm's bring-your-own-blocks nets: ``ByobNet`` from a drawn ``ByoModelCfg``, as RepVGG (re-parameterisable
3x3 + 1x1 + identity blocks), MobileOne (over-parameterised depthwise / pointwise blocks), GENet (basic, then
bottleneck, then depthwise bottleneck stages) or a ResNet-like ByobNet (basic / bottleneck / dark / edge blocks,
SE / ECA / global-context attention, as timm's ``resnet33ts`` family)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..generator import _Draw
from .convnets import _RESNET_HELDOUT_LAYERS
from .draw import Family, _depth, _div8, _fit, _native, _spread

if TYPE_CHECKING:
    from .spec import LibraryConfig

__all__ = ["TIMM_BYOBNET"]

# held-out real models this family could otherwise draw (depths, widths, stem width): never drawn
_REPVGG_HELDOUT = ((2, 4, 14, 1), (48, 96, 192, 1280), 48)  # repvgg_a0
_MOBILEONE_HELDOUT = ((2, 8, 10, 1), (48, 128, 256, 1024), 48)  # mobileone_s0

# the ResNet-like variant's block types (kernel 3; group size gs: 0 dense, 1 depthwise; bottleneck ratio br)
_BLOCK_TYPES = ("basic", "bottle", "dark", "edge")


def _groups(gs: int, mid: int) -> int:
    return mid // gs if gs else 1


def _block_params(bt: str, cin: int, cout: int, gs: int, br: float, attn: str | None) -> float:
    mid = _div8(cout * br)
    g = _groups(gs, mid)
    p = {"basic": 9 * cin * mid + 9 * mid * cout / g,
         "bottle": cin * mid + 9 * mid * mid / g + mid * cout,
         "dark": cin * mid + 9 * mid * cout / g,
         "edge": 9 * cin * mid / g + mid * cout}[bt]
    if cin != cout:
        p += cin * cout  # 1x1 projection shortcut
    if attn in ("se", "gca"):
        p += cout * cout / 4 if attn == "gca" else cout * cout / 8
    return p


def _sample_repvgg(draw: _Draw, cfg: LibraryConfig) -> dict:
    depths = _spread(draw, _depth(draw, cfg, 4, 27), (0.15, 0.25, 0.55, 0.05))  # A0: 2-4-14-1, B: 4-6-16-1
    groups = draw.weighted(((0, 0.7), (4, 0.2), (2, 0.1)))  # the g4 / g2 variants: every other block grouped
    attn = "se" if draw.chance(0.2) else None  # repvgg_d2se
    last = draw.choice((8, 10, 12, 16, 20))  # the last stage's width over the first's (A1, B0: 20; B1: 16; A0: 26.7)
    options = (16, 24, 32, 48, 64, 96, 128)

    def estimate(c0: int) -> float:
        widths, total, cin = (c0, 2 * c0, 4 * c0, c0 * last), 30 * min(64, c0), min(64, c0)
        for d, c in zip(depths, widths):
            for i in range(d):
                g = groups if groups and i % 2 else 1
                total += 10 * cin * c / g + (c * c / 8 if attn else 0)
                cin = c
        return 1.1 * (total + 10 * cin)

    c0 = _fit(draw, cfg, options, estimate)
    widths = [c0, 2 * c0, 4 * c0, c0 * last]
    if (tuple(depths), tuple(widths), min(64, c0)) == _REPVGG_HELDOUT:  # unreachable (1280 / 48 is no multiplier)
        widths[-1] += 8
    return dict(variant="repvgg", depths=depths, widths=widths, stem_chs=min(64, c0), groups=groups, attn=attn)


def _sample_mobileone(draw: _Draw, cfg: LibraryConfig) -> dict:
    depths = _spread(draw, _depth(draw, cfg, 4, 21), (0.1, 0.4, 0.45, 0.05))  # S0-S4: 2-8-10-1
    branches = draw.weighted(((1, 0.55), (4, 0.25), (2, 0.1), (3, 0.1)))  # S0 trains with 4 kxk branches
    se = draw.chance(0.2)  # S4: SE on the last 5 blocks of stage 3 and the last block of stage 4
    se_blocks = [0, 0, min(5, depths[2]), 1] if se else [0, 0, 0, 0]
    r1, r3 = draw.choice(((2, 1), (5, 2), (8, 3))), draw.choice(((2, 1), (5, 2), (4, 1)))
    options = (16, 24, 32, 48, 64, 96)

    def widths_of(c0: int) -> list[int]:
        c1 = _div8(c0 * r1[0] // r1[1])
        return [c0, c1, 2 * c1, _div8(2 * c1 * r3[0] // r3[1])]

    def estimate(c0: int) -> float:
        prev = min(64, c0)
        total = prev * (27 * branches + 3)
        for d, c, s in zip(depths, widths_of(c0), se_blocks):
            for i in range(d):
                total += prev * (9 * branches + 1) + prev * c * branches
                total += prev * prev / 8 + c * c / 8 if i >= d - s else 0
                prev = c
        return 1.1 * (total + 10 * prev)

    if tuple(depths) == _MOBILEONE_HELDOUT[0]:
        options = tuple(o for o in options if o != _MOBILEONE_HELDOUT[2])
    c0 = _fit(draw, cfg, options, estimate)
    return dict(variant="mobileone", depths=depths, widths=widths_of(c0), stem_chs=min(64, c0), branches=branches,
                se_blocks=se_blocks)


def _sample_genet(draw: _Draw, cfg: LibraryConfig) -> dict:
    # gernet_s/m/l: 1-3-7-2-1, 1-2-6-4-1, 1-2-6-5-4 blocks of basic, basic, bottle 1/4, dw bottle x3, dw bottle x3
    depths = [1] + _spread(draw, _depth(draw, cfg, 5, 18) - 1, (0.2, 0.45, 0.25, 0.1))
    m1, m2 = draw.choice(((1, 1), (3, 2))), draw.choice((4, 5, 8))
    m3, m4 = draw.choice(((1, 1), (3, 2))), draw.choice(((1, 1), (1, 2)))
    stem = draw.choice((16, 24, 32))
    types = ("basic", "basic", "bottle", "bottle", "bottle")
    gss, brs = (0, 0, 0, 1, 1), (1.0, 1.0, 0.25, 3.0, 3.0)

    def widths_of(c0: int) -> list[int]:
        c1 = _div8(c0 * m1[0] // m1[1])
        c2 = c0 * m2
        c3 = _div8(c2 * m3[0] // m3[1])
        return [c0, c1, c2, c3, _div8(c3 * m4[0] // m4[1])]

    def estimate(c0: int, head: int = 640) -> float:
        total, cin = 27 * stem, stem
        for bt, d, c, gs, br in zip(types, depths, widths_of(c0), gss, brs):
            for _ in range(d):
                total += _block_params(bt, cin, c, gs, br, None)
                cin = c
        return 1.1 * (total + cin * head + 10 * head)

    c0 = _fit(draw, cfg, (16, 24, 32, 48, 64, 96, 128), estimate)
    widths = widths_of(c0)
    heads = tuple(h for h in (640, 960, 1280, 1920, 2560) if h >= 2 * widths[-1]) or (2560,)
    head = _fit(draw, cfg, heads, lambda h: estimate(c0, h), skew=1)
    blocks = [[bt, d, c, s, gs, br] for bt, d, c, s, gs, br in zip(types, depths, widths, (2, 2, 2, 2, 1), gss, brs)]
    return dict(variant="genet", blocks=blocks, stem_type="3x3", stem_chs=stem, stem_pool="", num_features=head,
                attn=None, act="relu")


def _sample_byob_resnet(draw: _Draw, cfg: LibraryConfig) -> dict:
    depths = _spread(draw, _depth(draw, cfg, 4, 24), (0.2, 0.25, 0.4, 0.15))
    main = draw.weighted((("bottle", 0.5), ("basic", 0.2), ("dark", 0.15), ("edge", 0.15)))
    last = main if draw.chance(0.8) else draw.choice(_BLOCK_TYPES)
    br = {"bottle": 0.25, "basic": 1.0, "dark": 0.5, "edge": 0.5}
    if main == "bottle":  # 4x wider stages: any block type narrows to a quarter inside
        br = dict.fromkeys(br, 0.25)
    gs = draw.weighted(((0, 0.6), (16, 0.15), (32, 0.15), (1, 0.1))) if main == "bottle" else 0  # resnext26ts: 32
    attn = draw.weighted(((None, 0.4), ("se", 0.2), ("eca", 0.2), ("gca", 0.2)))
    stem_type = draw.weighted((("tiered", 0.5), ("deep", 0.25), ("3x3", 0.25)))
    stem_pool = "maxpool" if draw.chance(0.4) else ""
    act = "silu" if draw.chance(0.6) else "relu"
    mult = 4 if main == "bottle" else 1  # bottleneck stages are 4x wider (256-512-1024-2048 at ResNet-50 width)
    types = [main, main, main, last]

    def estimate(c0: int, head: int = 0) -> float:
        stem = max(32, c0)
        total, cin = 9 * 3 * stem + 9 * stem * stem, stem
        for i, (bt, d) in enumerate(zip(types, depths)):
            c = mult * c0 << i
            for _ in range(d):
                total += _block_params(bt, cin, c, gs if bt == "bottle" else 0, br[bt], attn)
                cin = c
        return 1.1 * (total + cin * head + 10 * max(head, cin))

    options = tuple(o for o in (16, 24, 32, 48, 64, 96) if not gs or o % gs == 0)  # bottleneck width c0 << i
    if tuple(depths) in _RESNET_HELDOUT_LAYERS:  # a 3x3 stem at stride 1 and basic or bottleneck blocks at width
        options = tuple(o for o in options if o != 64)  # 64 are timm's resnet18/50 (or resnext50) with a CIFAR stem
    c0 = _fit(draw, cfg, options, estimate)
    head = _fit(draw, cfg, (0, 0, 1280), lambda h: estimate(c0, h), skew=1)  # the *ts nets' 1280 pre-logits conv
    first = 1 if stem_type != "3x3" or stem_pool else 2  # a plain 3x3 stem downsamples 2x: the first stage 2x more
    blocks = [[bt, d, mult * c0 << i, first if i == 0 else 2, gs if bt == "bottle" else 0, br[bt]]
              for i, (bt, d) in enumerate(zip(types, depths))]
    return dict(variant="resnet", blocks=blocks, stem_type=stem_type, stem_chs=max(32, c0), stem_pool=stem_pool,
                num_features=head, attn=attn, act=act)


_VARIANTS = (("repvgg", 0.35, _sample_repvgg), ("mobileone", 0.25, _sample_mobileone),
             ("genet", 0.15, _sample_genet), ("resnet", 0.25, _sample_byob_resnet))


def _sample_byobnet(draw: _Draw, cfg: LibraryConfig) -> dict:
    sample = draw.weighted(tuple((s, w) for _, w, s in _VARIANTS))
    return sample(draw, cfg)


def _model_cfg(a: dict, native: bool):
    """The ``ByoModelCfg`` of drawn args; unless ``native``, a first stage of stride 2 (after a stem that
    downsamples 2x: RepVGG, MobileOne, GENet, a plain 3x3 stem) gets stride 1, so that with the stem's own stride
    removed (:func:`_build_byobnet`) 32x32 inputs end on 4x4."""
    from dataclasses import replace

    from timm.models.byobnet import ByoBlockCfg, ByoModelCfg, _mobileone_bcfg, _rep_vgg_bcfg

    variant = a["variant"]
    if variant in ("repvgg", "mobileone"):
        wf = tuple(c / (64 << i) for i, c in enumerate(a["widths"]))  # exact: widths are multiples of 8
        if variant == "repvgg":
            blocks = _rep_vgg_bcfg(d=tuple(a["depths"]), wf=wf, groups=a["groups"])
            extra = dict(attn_layer="se", attn_kwargs=dict(rd_ratio=0.0625, rd_divisor=1)) if a["attn"] else {}
            cfg = ByoModelCfg(blocks=blocks, stem_type="rep", stem_chs=a["stem_chs"], **extra)
        else:
            blocks = _mobileone_bcfg(d=tuple(a["depths"]), wf=wf, se_blocks=tuple(a["se_blocks"]),
                                     num_conv_branches=a["branches"])
            cfg = ByoModelCfg(blocks=tuple(tuple(s) for s in blocks), stem_type="one", stem_chs=a["stem_chs"])
    else:
        blocks = tuple(ByoBlockCfg(type=bt, d=d, c=c, s=s, gs=gs, br=br) for bt, d, c, s, gs, br in a["blocks"])
        cfg = ByoModelCfg(blocks=blocks, stem_type=a["stem_type"], stem_chs=a["stem_chs"],
                          stem_pool=a["stem_pool"] or None, num_features=a["num_features"], attn_layer=a["attn"],
                          act_layer=a["act"])
    stages = list(cfg.blocks)
    first = stages[0] if isinstance(stages[0], ByoBlockCfg) else stages[0][0]
    if native or first.s == 1:  # the stems with a pool or two strided convs downsample 4x: only they change
        return cfg
    if isinstance(stages[0], ByoBlockCfg):
        stages[0] = replace(first, s=1)
    else:
        stages[0] = (replace(first, s=1), *stages[0][1:])
    return replace(cfg, blocks=tuple(stages))


def _build_byobnet(a: dict, num_classes: int):
    from torch import nn

    from timm.models.byobnet import ByobNet

    native = a.get("native", False)
    model = ByobNet(_model_cfg(a, native), num_classes=num_classes)
    if native:  # the stem (2x: RepVGG, MobileOne, GENet; 4x: ResNet-like) and all four/five stages: 32 -> 1
        return model
    if hasattr(model.stem, "pool"):
        model.stem.pool = nn.Identity()  # the 3x3/2 max pool of a ResNet-like stem
    for m in model.stem.modules():
        if isinstance(m, nn.Conv2d) and m.stride == (2, 2):
            m.stride = (1, 1)  # 3x3 (padding 1) or 1x1 (padding 0) convolutions: "same" at stride 1
    return model


TIMM_BYOBNET = Family(
    "timm_byobnet", "timm", _sample_byobnet, _build_byobnet, (4, 27),
    "timm ByobNet as RepVGG, MobileOne, GENet or ResNet-like (basic/bottle/dark/edge blocks); stem stride 1, "
    "first stage or stem pool without downsampling (native: as built)", _native)
