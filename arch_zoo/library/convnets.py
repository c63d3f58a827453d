"""Classic and modernised convnets built by timm: ResNet (ResNeXt, wide, SE/ECA), ResNet with Res2Net, SK or ResNeSt
blocks, RegNet, DenseNet and ConvNeXt."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..generator import _Draw
from ..real import _stride1
from .draw import Family, _act, _conv3x3, _depth, _fit, _native, _spread

if TYPE_CHECKING:
    from .spec import LibraryConfig

__all__ = ["TIMM_RESNET", "TIMM_RESNET_VARIANT", "TIMM_REGNET", "TIMM_DENSENET", "TIMM_CONVNEXT"]


# timm ResNet --------------------------------------------------------------------------------------

_RESNET_HELDOUT_LAYERS = ((1, 1, 1, 1), (2, 2, 2, 2), (3, 4, 6, 3))  # resnet10t/18/26d/50(d), at width 64


def _resnet_params(block: str, layers, c0: int, card: int, base_width: int, stem: int) -> int:
    total, cin = 9 * 3 * stem, stem
    for i, n in enumerate(layers):
        planes = c0 << i
        for b in range(n):
            if block == "basic":
                out = planes
                total += 9 * cin * planes + 9 * planes * planes
            else:
                out = 4 * planes
                width = planes * base_width // 64 * card
                total += cin * width + 9 * width * width // card + width * out
            if b == 0 and cin != out or b == 0 and i > 0:
                total += cin * out
            cin = out
    return total + cin * 10


def _sample_resnet(draw: _Draw, cfg: LibraryConfig) -> dict:
    block = "bottleneck" if draw.chance(0.5) else "basic"
    layers = _spread(draw, _depth(draw, cfg, 4, 24), (0.2, 0.25, 0.4, 0.15))
    stem_type = draw.weighted((("", 0.5), ("deep", 0.3), ("deep_tiered", 0.2)))
    avg_down = draw.chance(0.6 if stem_type else 0.15)
    attn = draw.weighted(((None, 0.6), ("se", 0.25), ("eca", 0.15)))
    act = "relu" if draw.chance(0.9) else "silu"
    card, base_width = 1, 64
    if block == "bottleneck":
        variant = draw.weighted((("plain", 0.5), ("resnext", 0.35), ("wide", 0.15)))
        if variant == "resnext":
            card, base_width = draw.choice((4, 8, 16, 32)), draw.choice((4, 8))
        elif variant == "wide":
            base_width = 128
    options = (16, 24, 32, 48, 64, 96)
    if tuple(layers) in _RESNET_HELDOUT_LAYERS:
        options = tuple(o for o in options if o != 64)

    def estimate(c0: int) -> float:
        return 1.1 * _resnet_params(block, layers, c0, card, base_width, 2 * c0 if stem_type else 64)

    c0 = _fit(draw, cfg, options, estimate)
    return dict(block=block, layers=layers, channels=[c0, 2 * c0, 4 * c0, 8 * c0],
                stem_width=c0 if stem_type else 64, stem_type=stem_type, avg_down=avg_down,
                cardinality=card, base_width=base_width, attn=attn, act=act)


def _build_resnet(a: dict, num_classes: int):
    from timm.models.resnet import BasicBlock, Bottleneck, ResNet

    model = ResNet(BasicBlock if a["block"] == "basic" else Bottleneck, tuple(a["layers"]), num_classes=num_classes,
                   channels=tuple(a["channels"]), stem_width=a["stem_width"], stem_type=a["stem_type"],
                   avg_down=a["avg_down"], cardinality=a["cardinality"], base_width=a["base_width"],
                   act_layer=_act(a["act"]), block_args=dict(attn_layer=a["attn"]) if a["attn"] else None)
    return model if a.get("native") else _resnet_to_32(model, a["stem_type"])


def _resnet_to_32(model, stem_type: str):
    """A timm ResNet's stem at stride 1 without its max pool (native: the stem's stride 2 and the 3x3/2 max pool
    kept, 32 -> 1)."""
    from torch import nn

    if stem_type:
        _stride1(model.conv1[0])  # deep stem: its first 3x3 conv had stride 2
    else:
        model.conv1 = _conv3x3(model.conv1)  # 7x7/2 -> 3x3/1
    model.maxpool = nn.Identity()
    return model


# timm ResNet with Res2Net, SK or ResNeSt blocks ---------------------------------------------------

_VARIANT_BLOCKS = (  # kind, weight, timm class, cardinality, base width, block args (timm nets)
    ("res2net", 0.2, "Bottle2neck", 1, 26, dict(scale=4)),  # res2net50_26w_4s (and 6s, 8s below)
    ("res2net", 0.1, "Bottle2neck", 1, 14, dict(scale=8)),  # res2net50_14w_8s
    ("res2net", 0.05, "Bottle2neck", 1, 48, dict(scale=2)),  # res2net50_48w_2s
    ("res2net", 0.05, "Bottle2neck", 8, 4, dict(scale=4)),  # res2next50
    ("sk", 0.15, "SelectiveKernelBasic", 1, 64, dict(sk_kwargs=dict(rd_ratio=0.125, rd_divisor=16, split_input=True))),
    ("sk", 0.1, "SelectiveKernelBottleneck", 1, 64, dict(sk_kwargs=dict(split_input=True))),  # skresnet50(d)
    ("sk", 0.05, "SelectiveKernelBottleneck", 32, 4,  # skresnext50_32x4d
     dict(sk_kwargs=dict(rd_ratio=0.0625, rd_divisor=32, split_input=False))),
    ("resnest", 0.2, "ResNestBottleneck", 1, 64, dict(radix=2, avd=True, avd_first=False)),  # resnest14d-269e
    ("resnest", 0.1, "ResNestBottleneck", 2, 40, dict(radix=4, avd=True, avd_first=True)),  # resnest50d_4s2x40d
)


def _variant_params(cls: str, layers, c0: int, card: int, bw: int, args: dict, stem: int) -> int:
    total, cin = 9 * 3 * stem, stem
    for i, n in enumerate(layers):
        planes = c0 << i
        out = planes if cls == "SelectiveKernelBasic" else 4 * planes
        w = planes * bw // 64 * card
        for b in range(n):
            if cls == "Bottle2neck":
                s = args["scale"]
                total += cin * w * s + (s - 1) * 9 * w * w / card + w * s * out
            elif cls == "SelectiveKernelBasic":  # two branches (3x3, 3x3 dilated 2) on half the input each
                total += 9 * cin * planes + planes * planes / 4 + 9 * planes * planes
            elif cls == "SelectiveKernelBottleneck":
                split = 1 if args["sk_kwargs"]["split_input"] else 2
                total += cin * w + 9 * split * w * w / card + w * w / 4 + w * out
            else:  # ResNeSt split attention: radix x (3x3 grouped conv), then two 1x1 attention convs
                total += cin * w + 9 * w * w / card + w * w * args["radix"] / 2 + w * out
            if b == 0 and (cin != out or i > 0):
                total += cin * out
            cin = out
    return total + cin * 10


def _sample_resnet_variant(draw: _Draw, cfg: LibraryConfig) -> dict:
    kind, _, cls, card, bw, block_args = draw.weighted(tuple((v, v[1]) for v in _VARIANT_BLOCKS))
    if cls == "Bottle2neck" and card == 1 and bw == 26:
        block_args = dict(scale=draw.choice((4, 4, 6, 8)))
    layers = _spread(draw, _depth(draw, cfg, 4, 24), (0.2, 0.25, 0.4, 0.15))
    # resnest*d and skresnet50d: deep stems with average-pool downsampling
    stem_type = "deep" if kind == "resnest" or draw.chance(0.3) else draw.choice(("", "deep_tiered"))
    avg_down = bool(stem_type) and (kind == "resnest" or draw.chance(0.5))
    groups = card * block_args.get("radix", 1)  # of the grouped 3x3 convolutions, on planes * bw // 64 * card
    options = tuple(o for o in (16, 24, 32, 48, 64, 96)
                    if all((o << i) * bw // 64 * card % groups == 0 for i in range(4)))
    if tuple(layers) in _RESNET_HELDOUT_LAYERS:  # res2net50_26w_4s, resnest14d, skresnet18 at width 64
        options = tuple(o for o in options if o != 64)

    def stem(c0: int) -> int:
        return c0 // 2 if stem_type and kind == "resnest" else c0 if stem_type else 64  # resnest: 32 at width 64

    c0 = _fit(draw, cfg, options, lambda c: 1.1 * _variant_params(cls, layers, c, card, bw, block_args, stem(c)))
    return dict(kind=kind, block=cls, layers=layers, channels=[c0, 2 * c0, 4 * c0, 8 * c0], stem_width=stem(c0),
                stem_type=stem_type, avg_down=avg_down, cardinality=card, base_width=bw, block_args=block_args)


def _build_resnet_variant(a: dict, num_classes: int):
    from timm.models import res2net, resnest, sknet
    from timm.models.resnet import ResNet

    block = getattr({"res2net": res2net, "sk": sknet, "resnest": resnest}[a["kind"]], a["block"])
    model = ResNet(block, tuple(a["layers"]), num_classes=num_classes, channels=tuple(a["channels"]),
                   stem_width=a["stem_width"], stem_type=a["stem_type"], avg_down=a["avg_down"],
                   cardinality=a["cardinality"], base_width=a["base_width"], block_args=a["block_args"])
    return model if a.get("native") else _resnet_to_32(model, a["stem_type"])


# timm RegNet --------------------------------------------------------------------------------------


def _regnet_exponents(w0: int, wa: float, wm: float, depth: int) -> list[int]:
    """Per block, the exponent ``e`` of its width ``w0 * wm^e``: ``round(log_wm(u / w0))`` of the linear
    width ``u = w0 + wa * j``, as timm's ``generate_regnet`` computes it, but by exact products
    (``wm^(2e-1) <= (u / w0)^2 < wm^(2e+1)``; ``wm`` is never a square, so there are no ties)."""
    out = []
    for j in range(depth):
        u = w0 + wa * j
        e, bound = 0, wm * w0 * w0
        while u * u >= bound:
            e, bound = e + 1, bound * wm * wm
        out.append(e)
    return out


def _sample_regnet(draw: _Draw, cfg: LibraryConfig) -> dict:
    depth = _depth(draw, cfg, 6, 24)
    wm = draw.choice((2.0, 2.5, 2.75))
    group = draw.choice((8, 16, 24))
    se = 0.25 if draw.chance(0.5) else 0.0
    stem = draw.choice((16, 24, 32))

    def estimate(pair: tuple[int, float]) -> float:
        w0, wa = pair
        total, cin = 27 * stem, stem
        for e in _regnet_exponents(w0, wa, wm, depth):
            w = w0
            for _ in range(e):
                w = w * wm
            w = max(8, 8 * round(w / 8))
            total += cin * w + 9 * w * min(group, w) + w * w + (w * w // 2 if se else 0) + (cin * w if cin != w else 0)
            cin = w
        return 1.1 * (total + 10 * cin)

    # timm's RegNet has exactly four stages (distinct widths): keep the (w0, wa) that give four
    pairs = [(w0, wa) for w0 in (8, 16, 24, 32, 48, 56, 64, 80, 96) for wa in (4.0, 8.0, 12.0, 16.0, 20.0, 24.0, 28.0,
             32.0, 36.0, 40.0, 44.0, 48.0) if len(set(_regnet_exponents(w0, wa, wm, depth))) == 4]
    pairs.sort(key=estimate)
    w0, wa = _fit(draw, cfg, pairs, estimate)
    return dict(depth=depth, w0=w0, wa=wa, wm=wm, group_size=group, se_ratio=se, stem_width=stem)


def _build_regnet(a: dict, num_classes: int):
    from timm.models.regnet import RegNet, RegNetCfg
    from torch import nn

    a = dict(a)
    native = a.pop("native", False)
    model = RegNet(RegNetCfg(**a), num_classes=num_classes)
    if native:  # the stem and all four stages downsample: 32 -> 1
        return model
    # the stem and each of the four stages downsample 2x: the stem and the first stage become stride 1
    _stride1(model.stem.conv)
    for m in model.s1.b1.modules():
        if isinstance(m, nn.Conv2d) and m.stride == (2, 2):
            _stride1(m)
    return model


# timm DenseNet ------------------------------------------------------------------------------------


def _sample_densenet(draw: _Draw, cfg: LibraryConfig) -> dict:
    blocks = _spread(draw, _depth(draw, cfg, 4, 36), (0.15, 0.25, 0.4, 0.2))
    bn_size = 4 if draw.chance(0.8) else 2
    stem = draw.weighted((("", 0.6), ("deep", 0.25), ("deep_tiered", 0.15)))

    def estimate(g: int) -> float:
        c, total = 2 * g, 27 * 2 * g
        for i, n in enumerate(blocks):
            for _ in range(n):
                total += c * bn_size * g + 9 * bn_size * g * g
                c += g
            if i < 3:
                total += c * (c // 2)
                c //= 2
        return 1.1 * total

    options = (8, 12, 16, 24, 32, 48)
    if tuple(blocks) == (6, 12, 24, 16):  # densenet121
        options = options[:-2]
    growth = _fit(draw, cfg, options, estimate, skew=1)
    return dict(growth_rate=growth, block_config=blocks, bn_size=bn_size, stem_type=stem)


def _build_densenet(a: dict, num_classes: int):
    from timm.models.densenet import DenseNet
    from torch import nn

    model = DenseNet(num_classes=num_classes, growth_rate=a["growth_rate"], block_config=tuple(a["block_config"]),
                     bn_size=a["bn_size"], stem_type=a["stem_type"])
    if a.get("native"):  # stem stride 2, 3x3/2 max pool and three transitions: 32 -> 1
        return model
    f = model.features
    if a["stem_type"]:
        _stride1(f.conv0)
    else:
        f.conv0 = _conv3x3(f.conv0)  # 7x7/2 -> 3x3/1
    f.pool0 = nn.Identity()
    return model


# timm ConvNeXt ------------------------------------------------------------------------------------


def _sample_convnext(draw: _Draw, cfg: LibraryConfig) -> dict:
    depths = _spread(draw, _depth(draw, cfg, 4, 24), (0.15, 0.15, 0.55, 0.15))
    kernel = draw.weighted(((7, 0.7), (5, 0.15), (3, 0.15)))
    grn = draw.chance(0.3)
    ls = None if grn or draw.chance(0.2) else 1e-6
    conv_mlp = draw.chance(0.25)
    options = (16, 24, 32, 40, 48, 64, 80, 96)
    if tuple(depths) in ((2, 2, 6, 2), (2, 2, 8, 2)):  # convnext(v2)_atto (40), convnext_nano (80)
        options = tuple(o for o in options if o not in (40, 80))

    def estimate(d0: int) -> float:
        total, cin = 27 * d0, d0
        for i, n in enumerate(depths):
            d = d0 << i
            total += (4 * cin * d if i else 0) + n * (kernel * kernel * d + 8 * d * d)
            cin = d
        return 1.1 * total

    d0 = _fit(draw, cfg, options, estimate)
    return dict(depths=depths, dims=[d0, 2 * d0, 4 * d0, 8 * d0], kernel_size=kernel, use_grn=grn,
                ls_init_value=ls, conv_mlp=conv_mlp)


def _build_convnext(a: dict, num_classes: int):
    from timm.models.convnext import ConvNeXt

    model = ConvNeXt(num_classes=num_classes, depths=tuple(a["depths"]), dims=tuple(a["dims"]),
                     kernel_sizes=a["kernel_size"], use_grn=a["use_grn"], ls_init_value=a["ls_init_value"],
                     conv_mlp=a["conv_mlp"])
    if a.get("native"):  # the 4x4/4 patchify stem kept: 32 -> 1
        return model
    model.stem[0] = _conv3x3(model.stem[0])  # 4x4/4 patchify -> 3x3/1
    return model


TIMM_RESNET = Family(
    "timm_resnet", "timm", _sample_resnet, _build_resnet, (4, 24),
    "timm ResNet/ResNeXt/wide/SE/ECA, stems ''/deep/deep_tiered; stem 3x3/1, no max pool (native: as built)",
    _native)

TIMM_RESNET_VARIANT = Family(
    "timm_resnet_variant", "timm", _sample_resnet_variant, _build_resnet_variant, (4, 24),
    "timm ResNet with Res2Net (Bottle2neck), SK (SelectiveKernelBasic/Bottleneck) or ResNeSt blocks; stem 3x3/1, "
    "no max pool (native: as built)", _native)

TIMM_REGNET = Family(
    "timm_regnet", "timm", _sample_regnet, _build_regnet, (6, 24),
    "timm RegNet X/Y from a drawn RegNetCfg, stem and early stages stride 1 (ends 4x4; native: as built, 1x1)",
    _native)

TIMM_DENSENET = Family(
    "timm_densenet", "timm", _sample_densenet, _build_densenet, (4, 36),
    "timm DenseNet, drawn growth rate and block config, stem 3x3/1, no pool (native: as built)", _native)

TIMM_CONVNEXT = Family(
    "timm_convnext", "timm", _sample_convnext, _build_convnext, (4, 24),
    "timm ConvNeXt (V1/V2), patchify stem -> 3x3/1 (native: 4x4/4 kept)", _native)
