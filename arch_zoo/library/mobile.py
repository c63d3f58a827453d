"""Mobile convnets: timm's EfficientNet and MobileNetV3 from drawn block strings, torchvision's ShuffleNetV2 and
MobileNetV3."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..generator import _Draw
from ..real import _stride1
from .draw import Family, _act, _depth, _div8, _fit, _native, _spread, _strides

if TYPE_CHECKING:
    from .spec import LibraryConfig

__all__ = ["TIMM_EFFICIENTNET", "TIMM_MOBILENETV3", "TV_SHUFFLENET", "TV_MOBILENETV3"]


# timm EfficientNet (block-string arch defs) ------------------------------------------------------

_EFF_STYLES = (
    # style, weight, act, first-stage block, block types (later stages), kernels, expansions, se prob
    ("mobilenetv2", 0.2, "relu6", "ds", ("ir",), (3,), (6, 6, 4), 0.0),
    ("efficientnet", 0.25, "silu", "ds", ("ir",), (3, 5), (6, 6, 4), 1.0),
    ("efficientnet_lite", 0.1, "relu6", "ds", ("ir",), (3, 5), (6,), 0.0),
    ("efficientnetv2", 0.15, "silu", "cn", ("er", "ir"), (3,), (4, 6), 0.6),
    ("mnasnet", 0.15, "relu", "ds", ("ir",), (3, 5), (3, 6), 0.3),
    ("mobilenetv4", 0.15, "relu", "cn", ("er", "uir"), (3, 5), (2, 4, 4, 6), 0.0),
)
_UIR_KERNELS = ((3, 5), (3, 3), (0, 3), (5, 5), (3, 0), (0, 0))  # (start dw, mid dw): ExtraDW, IB, ConvNeXt, FFN


def _block_params(bt: str, cin: int, cout: int, k: int, e: float, se: bool, a: int = 0) -> float:
    mid = cin * e
    if bt == "ds":
        p = k * k * cin + cin * cout
        mid = cin
    elif bt == "cn":
        return k * k * cin * cout
    elif bt == "er":
        p = k * k * cin * mid + mid * cout
    elif bt == "uir":
        p = a * a * cin + cin * mid + k * k * mid + mid * cout
    else:
        p = cin * mid + k * k * mid + mid * cout
    return p + (0.5 * mid * cin if se else 0)


def _sample_efficientnet(draw: _Draw, cfg: LibraryConfig) -> dict:
    style, _, act, first, types, kernels, exps, se_p = draw.weighted(tuple((s, s[1]) for s in _EFF_STYLES))
    n = _depth(draw, cfg, 4, 24)
    stages = draw.int(4, min(7, n))
    repeats = [1] + _spread(draw, n - 1, (0.6, 1.0, 1.0, 1.0, 0.8, 0.3)[:stages - 1])
    strides = _strides(draw, stages)
    growth = [draw.choice(((5, 4), (3, 2), (3, 2), (2, 1))) for _ in range(stages - 1)]  # B0: 1.4x-2x a stage
    blocks = []  # (type, repeats, kernel, stride, expansion, se, start kernel)
    for i in range(stages):
        bt = first if i == 0 else types[0] if len(types) == 1 or (i <= 2 and draw.chance(0.7)) else types[-1]
        k = 3 if bt in ("ds", "cn") and i == 0 else draw.choice(kernels)
        e = 1 if i == 0 else draw.choice(exps)
        se = draw.chance(se_p) and bt != "cn"
        a = 0
        if bt == "uir":
            a, k = draw.choice(_UIR_KERNELS if strides[i] == 1 else _UIR_KERNELS[:-1])  # FFN cannot downsample
        blocks.append((bt, repeats[i], k, strides[i], e, se, a))
    stem_size = draw.choice((8, 16, 24, 32))
    heads = (256, 384, 512, 640, 768, 1024, 1280)

    def chans(c0: int) -> list[int]:
        out = [c0]
        for num, den in growth:
            out.append(min(_div8(out[-1] * num // den), 640))
        return out

    def estimate(c0: int, head: int = 256) -> float:
        cin, total = stem_size, 27 * stem_size
        for (bt, r, k, _, e, se, a), c in zip(blocks, chans(c0)):
            for _ in range(r):
                total += _block_params(bt, cin, c, k, e, se, a)
                cin = c
        return 1.1 * (total + cin * head + 10 * head)

    c0 = _fit(draw, cfg, (12, 16, 24, 32, 48), estimate)
    channels = chans(c0)
    head = _fit(draw, cfg, tuple(h for h in heads if h >= channels[-1]) or heads[-1:], lambda h: estimate(c0, h))
    arch = []
    for (bt, r, k, s, e, se, a), c in zip(blocks, channels):
        k_str = f"a{a}_k{k}" if bt == "uir" else f"k{k}"
        arch.append([f"{bt}_r{r}_{k_str}_s{s}_e{e}_c{c}" + ("_se0.25" if se else "")])
    return dict(style=style, arch=arch, stem_size=stem_size, num_features=head, act=act)


def _build_efficientnet(a: dict, num_classes: int):
    from timm.models._efficientnet_builder import decode_arch_def
    from timm.models.efficientnet import EfficientNet

    model = EfficientNet(decode_arch_def(a["arch"]), num_classes=num_classes, stem_size=a["stem_size"],
                         num_features=a["num_features"], act_layer=_act(a["act"]))
    if not a.get("native"):  # native: the stem's stride 2 kept (on the strides drawn for 32x32: ends 2x2)
        _stride1(model.conv_stem)  # the stage strides were drawn for 32x32
    return model


# timm MobileNetV3 -----------------------------------------------------------------------------------


def _mobilenetv3_stages(draw: _Draw, cfg: LibraryConfig) -> tuple[int, list[int], list[int], int]:
    """MobileNetV3-like stage plan shared by timm's and torchvision's builders: stage count, blocks per
    stage, stage strides and how many leading stages use ReLU (the rest hard-swish)."""
    n = _depth(draw, cfg, 4, 16)
    stages = draw.int(4, min(6, n))
    repeats = [1] + _spread(draw, n - 1, (0.8, 1.0, 0.8, 1.0, 0.8)[:stages - 1])
    strides = _strides(draw, stages)
    return stages, repeats, strides, draw.int(1, 3)


def _sample_mobilenetv3(draw: _Draw, cfg: LibraryConfig) -> dict:
    stages, repeats, strides, relu_stages = _mobilenetv3_stages(draw, cfg)
    blocks = []
    for i in range(stages):
        bt = "ds" if i == 0 else "ir"
        k = 3 if i == 0 else draw.choice((3, 5))
        e = 1 if i == 0 else draw.choice((3, 4, 4.5, 6))
        se = draw.chance(0.3 if i < relu_stages else 0.8)
        blocks.append((bt, repeats[i], k, strides[i], e, se, i < relu_stages))

    def chans(c0: int) -> list[int]:  # x1.5 at a stride-2 stage, x1.25 otherwise
        out = [c0]
        for s in strides[1:]:
            out.append(min(_div8(out[-1] * 3 // 2) if s == 2 else _div8(out[-1] * 5 // 4), 640))
        return out

    def estimate(c0: int, head: int = 256) -> float:
        cin, total = 16, 27 * 16
        for (bt, r, k, _, e, se, _), c in zip(blocks, chans(c0)):
            for _ in range(r):
                total += _block_params(bt, cin, c, k, e, se)
                cin = c
        return 1.1 * (total + cin * 6 * cin + 6 * cin * head + 10 * head)

    c0 = _fit(draw, cfg, (8, 16, 24, 32), estimate)
    head = _fit(draw, cfg, (512, 768, 1024, 1280), lambda h: estimate(c0, h), skew=1)
    channels = chans(c0)
    arch = [[f"{bt}_r{r}_k{k}_s{s}_e{e}_c{c}" + ("_se0.25" if se else "") + ("_nre" if nre else "")]
            for (bt, r, k, s, e, se, nre), c in zip(blocks, channels)]
    arch.append([f"cn_r1_k1_s1_c{6 * channels[-1]}"])
    return dict(arch=arch, stem_size=16, num_features=head, act="hard_swish")


def _build_mobilenetv3(a: dict, num_classes: int):
    from functools import partial

    from timm.models._efficientnet_blocks import SqueezeExcite
    from timm.models._efficientnet_builder import decode_arch_def, round_channels
    from timm.models.mobilenetv3 import MobileNetV3
    from torch import nn

    se = partial(SqueezeExcite, gate_layer="hard_sigmoid", force_act_layer=nn.ReLU, rd_round_fn=round_channels)
    model = MobileNetV3(decode_arch_def(a["arch"]), num_classes=num_classes, stem_size=a["stem_size"],
                        num_features=a["num_features"], act_layer=_act(a["act"]), se_layer=se)
    if not a.get("native"):  # native: the stem's stride 2 kept (ends 2x2)
        _stride1(model.conv_stem)
    return model


# torchvision ShuffleNetV2 -------------------------------------------------------------------------


def _sample_shufflenet(draw: _Draw, cfg: LibraryConfig) -> dict:
    repeats = _spread(draw, _depth(draw, cfg, 3, 16), (0.25, 0.5, 0.25))
    stem = draw.choice((16, 24))
    last = draw.choice((512, 768, 1024))

    def estimate(c: int) -> float:
        total, cin = 27 * stem, stem
        for i, n in enumerate(repeats):
            ci = c << i
            total += cin * ci // 2 + 9 * cin + ci * ci // 4 + (n - 1) * (ci * ci // 2 + 9 * ci // 2)
            cin = ci
        return 1.1 * (total + cin * last + 10 * last)

    c = _fit(draw, cfg, (24, 32, 48, 64, 96, 128, 176), estimate, skew=1)
    return dict(stages_repeats=repeats, stages_out_channels=[stem, c, 2 * c, 4 * c, last])


def _build_shufflenet(a: dict, num_classes: int):
    from torch import nn
    from torchvision.models import ShuffleNetV2

    model = ShuffleNetV2(a["stages_repeats"], a["stages_out_channels"], num_classes=num_classes)
    if a.get("native"):  # stem stride 2 and 3x3/2 max pool kept: 32 -> 1
        return model
    _stride1(model.conv1[0])
    model.maxpool = nn.Identity()
    return model


# torchvision MobileNetV3 --------------------------------------------------------------------------


def _sample_tv_mobilenetv3(draw: _Draw, cfg: LibraryConfig) -> dict:
    stages, repeats, strides, relu_stages = _mobilenetv3_stages(draw, cfg)
    plan = []  # per stage: kernel, expansion x2, se, act, stride
    for i in range(stages):
        plan.append((3 if i == 0 else draw.choice((3, 5)), 2 if i == 0 else draw.choice((6, 8, 9, 12)),
                     draw.chance(0.3 if i < relu_stages else 0.8), "RE" if i < relu_stages else "HS", strides[i]))

    def layers(c0: int) -> list[list]:
        out, cin, c = [], 16, c0
        for i, ((k, e2, se, act, s), r) in enumerate(zip(plan, repeats)):
            if i:
                c = min(_div8(c * 3 // 2), 640) if s == 2 else _div8(c * 5 // 4)
            for j in range(r):
                out.append([cin, k, _div8(cin * e2 // 2), c, se, act, s if j == 0 else 1])
                cin = c
        return out

    def estimate(c0: int, head: int = 256) -> float:
        ls = layers(c0)
        total = sum(ci * x + k * k * x + x * co + (x * x // 2 if se else 0) for ci, k, x, co, se, _, _ in ls)
        last = 6 * ls[-1][3]
        return 1.1 * (27 * 16 + total + ls[-1][3] * last + last * head + 10 * head)

    c0 = _fit(draw, cfg, (8, 16, 24, 32), estimate)
    head = _fit(draw, cfg, (512, 768, 1024, 1280), lambda h: estimate(c0, h), skew=1)
    return dict(layers=layers(c0), last_channel=head)


def _build_tv_mobilenetv3(a: dict, num_classes: int):
    from torchvision.models import MobileNetV3
    from torchvision.models.mobilenetv3 import InvertedResidualConfig

    setting = [InvertedResidualConfig(ci, k, x, co, se, act, s, 1, 1.0) for ci, k, x, co, se, act, s in a["layers"]]
    model = MobileNetV3(setting, last_channel=a["last_channel"], num_classes=num_classes)
    if not a.get("native"):  # native: the stem's stride 2 kept (ends 2x2)
        _stride1(model.features[0][0])
    return model


TIMM_EFFICIENTNET = Family(
    "timm_efficientnet", "timm", _sample_efficientnet, _build_efficientnet, (4, 24),
    "timm EfficientNet class from drawn block strings (MobileNetV2/EfficientNet/V2/MnasNet/MNv4 styles)", _native)

TIMM_MOBILENETV3 = Family(
    "timm_mobilenetv3", "timm", _sample_mobilenetv3, _build_mobilenetv3, (4, 16),
    "timm MobileNetV3 from drawn block strings", _native)

TV_SHUFFLENET = Family(
    "tv_shufflenet", "torchvision", _sample_shufflenet, _build_shufflenet, (3, 16),
    "torchvision ShuffleNetV2, drawn repeats and widths, stem 3x3/1, no max pool (native: as built)", _native)

TV_MOBILENETV3 = Family(
    "tv_mobilenetv3", "torchvision", _sample_tv_mobilenetv3, _build_tv_mobilenetv3, (4, 16),
    "torchvision MobileNetV3 from a drawn InvertedResidualConfig list", _native)
