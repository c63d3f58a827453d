"""Cross-stage partial nets built by timm: ``CspNet`` from a drawn ``CspModelCfg``, as CSPResNet(-D), CSPResNeXt,
CSPDarknet, DarkNet or a CS3 net (CS3Darknet / CS3EdgeNet, optionally with SE)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..generator import _Draw
from ..real import _stride1
from .draw import Family, _depth, _fit, _native, _spread

if TYPE_CHECKING:
    from .spec import LibraryConfig

__all__ = ["TIMM_CSPNET"]

# style: weight, stages, stem (channels as multiples of c / 64 ... , kernel, stride, pool), stage type, block type,
# expand ratios, bottle ratios, block ratios (per stage, the last repeated), cross_linear, down_growth, groups, act
_STYLES = {
    "cspresnet": (0.25, 4, ((1,), 7, 4, "max"), "csp", "bottle", (2.0,), (0.5,), (1.0,), True, False, 0, "leaky_relu"),
    "cspresnet_d": (0.1, 4, ((0.5, 0.5, 1), 3, 4, "max"), "csp", "bottle", (2.0,), (0.5,), (1.0,), True, False, 0,
                    "leaky_relu"),
    "cspresnext": (0.1, 4, ((1,), 7, 4, "max"), "csp", "bottle", (1.0,), (1.0,), (0.5,), True, False, 32, "leaky_relu"),
    "cspdarknet": (0.2, 5, ((0.5,), 3, 1, ""), "csp", "dark", (2.0, 1.0), (0.5, 1.0), (1.0, 0.5), False, True, 0,
                   "leaky_relu"),
    "darknet": (0.1, 5, ((0.5,), 3, 1, ""), "dark", "dark", (1.0,), (0.5,), (1.0,), False, False, 0, "leaky_relu"),
    "cs3darknet": (0.15, 4, ((0.25, 0.5), 3, 2, ""), "cs3", "dark", (1.0,), (1.0,), (0.5,), False, False, 0, "silu"),
    "cs3edgenet": (0.1, 4, ((0.25, 0.5), 3, 2, ""), "cs3", "edge", (1.0,), (1.5,), (0.5,), False, False, 0, "silu"),
}
# stage widths as multiples of c: (2, 4, 8, 16) for CSPResNet at c = 64 (128-1024); ResNeXt 4-32; Darknet 1-16;
# CS3 at c = 128 (128-1024)
_WIDTHS = {"cspresnet": (2, 4, 8, 16), "cspresnet_d": (2, 4, 8, 16), "cspresnext": (4, 8, 16, 32),
           "cspdarknet": (1, 2, 4, 8, 16), "darknet": (1, 2, 4, 8, 16), "cs3darknet": (1, 2, 4, 8),
           "cs3edgenet": (1, 2, 4, 8)}
_CSPRESNET50 = ("cspresnet", (3, 3, 5, 2), 64)  # held out: never drawn


def _per_stage(values: tuple, n: int) -> list:
    return [values[min(i, len(values) - 1)] for i in range(n)]


def _block_params(bt: str, cin: int, cout: int, br: float, g: int) -> float:
    mid = int(round(cout * br))
    g = g or 1
    return {"bottle": cin * mid + 9 * mid * mid / g + mid * cout, "dark": cin * mid + 9 * mid * cout / g,
            "edge": 9 * cin * mid / g + mid * cout}[bt]


def _sample_cspnet(draw: _Draw, cfg: LibraryConfig) -> dict:
    style = draw.weighted(tuple((k, v[0]) for k, v in _STYLES.items()))
    _, stages, (stem_mult, kernel, stem_stride, pool), stage_type, bt, exp, br, blr, cross, down_growth, groups, act \
        = _STYLES[style]
    depths = _spread(draw, max(stages, _depth(draw, cfg, 4, 23)),  # cspresnet50: 3-3-5-2, cspdarknet53: 1-2-8-8-4
                     (0.2, 0.2, 0.4, 0.2) if stages == 4 else (0.05, 0.15, 0.35, 0.3, 0.15))
    strides = [1, 2, 2, 2] if stem_stride == 4 else [2] * stages
    attn = "se" if stage_type == "cs3" and draw.chance(0.3) else None
    exp, br, blr = _per_stage(exp, stages), _per_stage(br, stages), _per_stage(blr, stages)
    mults = _WIDTHS[style]
    options = (16, 24, 32, 48, 64, 96, 128)
    if groups:  # the grouped blocks' width c * mult * block ratio * bottle ratio: a multiple of the groups
        options = tuple(o for o in options if o * mults[0] * blr[0] * br[0] % groups == 0)
    if (style, tuple(depths)) == _CSPRESNET50[:2]:
        options = tuple(o for o in options if o != _CSPRESNET50[2])

    def estimate(c: int) -> float:
        stem = [max(8, int(c * m)) for m in stem_mult]
        total, cin = sum(kernel * kernel * a * b for a, b in zip([3] + stem, stem)), stem[-1]
        for i, d in enumerate(depths):
            out = c * mults[i]
            total += 9 * cin * out / (groups or 1) if strides[i] > 1 else 0
            if stage_type == "dark":
                cin = out
            else:
                e = int(exp[i] * out)
                total += (out if down_growth else cin) * e + e * out + (e * e / 2 if stage_type == "csp" else 0)
                cin = e // 2
            for _ in range(d):
                total += _block_params(bt, cin, int(out * blr[i]), br[i], groups)
                cin = int(out * blr[i])
            cin = out
        return 1.1 * (total + 10 * cin)

    c = _fit(draw, cfg, options, estimate)
    return dict(style=style, stem_chs=[max(8, int(c * m)) for m in stem_mult], stem_kernel=kernel,
                stem_stride=stem_stride, stem_pool=pool, depths=depths, out_chs=[c * m for m in mults],
                strides=strides, groups=groups or 1, expand_ratio=exp, bottle_ratio=br, block_ratio=blr,
                cross_linear=cross, down_growth=down_growth, stage_type=stage_type, block_type=bt, attn=attn, act=act)


def _build_cspnet(a: dict, num_classes: int):
    from timm.models.cspnet import CspModelCfg, CspNet, CspStemCfg, CspStagesCfg

    stem = dict(out_chs=tuple(a["stem_chs"]), kernel_size=a["stem_kernel"], stride=a["stem_stride"],
                pool=a["stem_pool"])
    strides, later = list(a["strides"]), []
    if not a.get("native"):  # the first factor 4 of downsampling removed: stem stride 1 (a 7x7 stem 3x3, no pool),
        remove = 4 // a["stem_stride"]  # then the first stride-2 stages at stride 1 for what the stem lacked
        stem.update(stride=1, pool="", kernel_size=3)
        for i, s in enumerate(strides):
            if s == 2 and remove > 1:
                remove //= 2
                if a["stage_type"] == "cs3":
                    later.append(i)  # timm's CrossStage3 cannot be built at stride 1 (its conv_down is None)
                else:
                    strides[i] = 1
    stages = CspStagesCfg(depth=tuple(a["depths"]), out_chs=tuple(a["out_chs"]), stride=tuple(strides),
                          groups=a["groups"], expand_ratio=tuple(a["expand_ratio"]),
                          bottle_ratio=tuple(a["bottle_ratio"]), block_ratio=tuple(a["block_ratio"]),
                          cross_linear=a["cross_linear"], down_growth=a["down_growth"], stage_type=a["stage_type"],
                          block_type=a["block_type"], attn_layer=a["attn"],
                          attn_kwargs=dict(rd_ratio=0.25) if a["attn"] else None)
    model = CspNet(CspModelCfg(stem=CspStemCfg(**stem), stages=stages, act_layer=a["act"]), num_classes=num_classes)
    for i in later:
        _stride1(model.stages[i].conv_down.conv)  # its 3x3 stride-2 downsampling conv at stride 1
    return model


TIMM_CSPNET = Family(
    "timm_cspnet", "timm", _sample_cspnet, _build_cspnet, (4, 23),
    "timm CspNet as CSPResNet(-D)/CSPResNeXt/CSPDarknet/DarkNet/CS3 nets; stem 3x3/1 without pool, the early "
    "stages without downsampling (native: as built)", _native)
