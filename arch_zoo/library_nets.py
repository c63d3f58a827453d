"""Training nets built by timm's and torchvision's own constructors, at drawn hyper-parameters.

The generated families of :mod:`arch_zoo.generator` are made of arch_zoo's own blocks; the nets users
bring are made of timm's and torchvision's. ``sample_library(seed, key)`` draws one
:class:`LibrarySpec`: a library family (:data:`FAMILIES`) and the arguments its constructor is called
with, as canonical JSON. ``spec.build()`` calls that constructor, so the modules, block wiring and
initialisation are the library's own:

- ``timm_resnet``: ``timm.models.resnet.ResNet``, BasicBlock or Bottleneck (plain, ResNeXt or wide),
  stems ``''``/``deep``/``deep_tiered``, ``avg_down``, SE or ECA gates, ReLU or SiLU;
- ``timm_efficientnet``: ``timm.models.efficientnet.EfficientNet`` from a drawn block-string arch def
  (``ds``/``ir``/``er``/``cn``/``uir`` blocks) in MobileNetV2, EfficientNet(-Lite), EfficientNetV2,
  MnasNet and MobileNetV4-like styles;
- ``timm_mobilenetv3``: ``timm.models.mobilenetv3.MobileNetV3`` (hard-swish, hard-sigmoid SE, ``_nre`` stages);
- ``timm_convnext``: ``timm.models.convnext.ConvNeXt`` (V1 layer scale or V2 GRN, kernel 3/5/7, conv MLP);
- ``timm_vit``: ``timm.models.vision_transformer.VisionTransformer`` (patch 4 or 2, class token or average
  pool, layer scale, register tokens, QK norm) and DeiT's distilled variant;
- ``timm_mixer``: ``timm.models.mlp_mixer.MlpMixer`` as MLP-Mixer, ResMLP or gMLP;
- ``timm_metaformer``: ``timm.models.metaformer.MetaFormer`` as PoolFormer v1/v2 or ConvFormer;
- ``timm_regnet``: ``timm.models.regnet.RegNet`` from a drawn ``RegNetCfg`` (X, or Y with SE);
- ``timm_densenet``: ``timm.models.densenet.DenseNet`` (growth rate, block config, stems);
- ``tv_shufflenet``, ``tv_mobilenetv3``: torchvision's ``ShuffleNetV2`` and ``MobileNetV3``.

Adaptation to 32x32 inputs is done at construction (each family knows its constructor): the first
factor 4 of early downsampling is removed, as :mod:`graphparam.cifar_stem` does for a finished model
(ImageNet-sized 7x7/4x4 stem convolutions become 3x3 stride 1, stem pools are dropped, and the strides
of a generated arch def are drawn for 32x32), so convnets end on a 4x4 map; transformers and MLPs get
``img_size=32`` and 4-pixel (or 2-pixel) patches.

Draws are keyed like :class:`arch_zoo.generator._Draw` (sha256 of the key, only ``random()`` and exact
float ops), so a seed gives the same spec everywhere. Depth is drawn first, uniformly in a quantile range
of each family's depth range (:attr:`LibraryConfig.depth`, >1 extrapolates: ``library_deep``), then widths,
skewed narrow, among those whose rough parameter estimate fits :attr:`LibraryConfig.max_params`.
Configurations whose graphs equal held-out real networks (:mod:`arch_zoo.real_heldout`: timm resnet10t/18/26d/
50/50d, ResNeXt-50, wide ResNet-50, their SE/ECA variants, ViT/DeiT-Ti/S, ConvNeXt-atto/nano, Mixer-S, ResMLP-12,
DenseNet-121) are never drawn; the other held-out structures differ in widths no draw can take.

Every net traces strictly with :func:`graphparam.trace`; PoolFormer v2 and ConvFormer (StarReLU computes
``x ** 2``, an op graphparam's fx front end does not register) go through its torch.export fallback, about 1 s
instead of 0.1 s.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .generator import _Draw
from .real import _stride1

__all__ = ["LibrarySpec", "LibraryConfig", "FAMILIES", "LIBRARY_STREAMS", "sample_library", "count_params"]


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


# ----------------------------------------------------------------------------------------------- spec


@dataclass(frozen=True)
class LibrarySpec:
    """A library-built net: ``family`` (a key of :data:`FAMILIES`) and ``args``, the canonical JSON of
    the drawn hyper-parameters its builder passes to the library constructor. Frozen, picklable, plain data."""

    family: str
    args: str

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown library family {self.family!r}; known: {', '.join(FAMILIES)}")
        try:
            parsed = json.loads(self.args)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"args must be a JSON object, got {self.args!r}") from exc
        if not isinstance(parsed, dict) or _canon(parsed) != self.args:
            raise ValueError("args must be canonical JSON of an object (use LibrarySpec.make)")

    @classmethod
    def make(cls, family: str, **args: Any) -> "LibrarySpec":
        return cls(family, _canon(args))

    @property
    def kwargs(self) -> dict:
        """The drawn hyper-parameters (a fresh dict)."""
        return json.loads(self.args)

    @property
    def source(self) -> str:
        """``timm`` or ``torchvision``."""
        return FAMILIES[self.family].source

    def to_json(self) -> str:
        return _canon({"family": self.family, "args": self.kwargs})

    @classmethod
    def from_json(cls, text: str) -> "LibrarySpec":
        obj = json.loads(text)
        return cls.make(obj["family"], **obj["args"])

    @property
    def hash(self) -> str:
        """Stable 16-hex-digit id: sha1 of the canonical JSON (as ``ArchSpec.hash``)."""
        return hashlib.sha1(self.to_json().encode()).hexdigest()[:16]

    def build(self, num_classes: int = 10):
        """A freshly initialised ``nn.Module`` for ``(B, 3, 32, 32)`` inputs giving ``(B, num_classes)``."""
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return FAMILIES[self.family].build(self.kwargs, num_classes)

    def describe(self) -> str:
        """One line: the family and its drawn hyper-parameters."""
        parts = []
        for k, v in self.kwargs.items():
            if isinstance(v, list) and v and isinstance(v[0], list):
                v = "|".join(",".join(map(str, s)) for s in v)
            elif isinstance(v, list):
                v = "-".join(map(str, v))
            parts.append(f"{k}={v}")
        return f"{self.family}: " + " ".join(parts)

    def __repr__(self) -> str:
        return f"LibrarySpec({self.describe()})"


def count_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------------------------- config


@dataclass(frozen=True)
class LibraryConfig:
    """What ``sample_library`` draws from.

    ``depth``: quantile range of every family's depth range (0: its shallowest, 1: its deepest, above 1
    extrapolates linearly); depth is uniform in it. ``max_params``: widths whose rough estimate exceeds it
    are not drawn (the estimate is within about 20 % of the real count). ``skew`` >= 1 pushes widths to the
    narrow end, as in :class:`arch_zoo.generator.GeneratorConfig`.
    """

    families: tuple[tuple[str, float], ...] = (
        ("timm_resnet", 0.22),
        ("timm_efficientnet", 0.14),
        ("timm_mobilenetv3", 0.07),
        ("timm_convnext", 0.10),
        ("timm_vit", 0.12),
        ("timm_mixer", 0.06),
        ("timm_metaformer", 0.06),
        ("timm_regnet", 0.08),
        ("timm_densenet", 0.05),
        ("tv_shufflenet", 0.05),
        ("tv_mobilenetv3", 0.05),
    )
    depth: tuple[float, float] = (0.0, 1.0)
    max_params: int = 25_000_000
    skew: int = 2

    def __post_init__(self) -> None:
        for name, w in self.families:
            if name not in FAMILIES:
                raise ValueError(f"families: unknown library family {name!r}")
            if w < 0:
                raise ValueError("families: negative weight")
        lo, hi = self.depth
        if not 0 <= lo <= hi:
            raise ValueError(f"depth: need 0 <= low <= high, got {self.depth}")
        if self.skew < 1 or self.max_params < 100_000:
            raise ValueError("skew must be >= 1 and max_params >= 100k")


def sample_library(seed: int, key: str = "library", config: LibraryConfig | None = None) -> LibrarySpec:
    """The library net number ``seed`` of the keyed sequence ``key`` (config: ``LIBRARY_STREAMS['library']``)."""
    config = config or LIBRARY_STREAMS["library"]
    draw = _Draw(f"arch_zoo.library:{key}:{int(seed)}")
    family = draw.weighted(config.families)
    return LibrarySpec.make(family, **FAMILIES[family].sample(draw, config))


# -------------------------------------------------------------------------------------------- helpers


def _depth(draw: _Draw, cfg: LibraryConfig, lo: int, hi: int) -> int:
    """A depth uniform in the ``cfg.depth`` quantiles of ``lo..hi``."""
    a, b = cfg.depth
    n_lo = lo + int(a * (hi - lo))
    n_hi = max(n_lo, lo + int(b * (hi - lo)))
    return draw.int(n_lo, n_hi)


def _spread(draw: _Draw, n: int, weights: Sequence[float]) -> list[int]:
    """``n`` blocks over ``len(weights)`` stages, at least one each, the rest drawn by ``weights``."""
    k = len(weights)
    counts = [1] * k
    pairs = tuple(zip(range(k), weights))
    for _ in range(max(0, n - k)):
        counts[draw.weighted(pairs)] += 1
    return counts


def _fit(draw: _Draw, cfg: LibraryConfig, options: Sequence, estimate: Callable[[Any], float], skew: int | None = None):
    """A skewed choice among ``options`` (narrow first) whose estimated parameter count fits the cap."""
    ok = [o for o in options if estimate(o) <= cfg.max_params] or list(options[:1])
    return draw.choice(ok, cfg.skew if skew is None else skew)


def _div8(x: float) -> int:
    """``x`` rounded up to a multiple of 8 (at least 8)."""
    return max(8, -(-int(x) // 8) * 8)


def _strides(draw: _Draw, stages: int, downs: int = 3) -> list[int]:
    """Stride 1 for stage 0, stride 2 for ``downs`` of the other stages: 32x32 ends at 4x4 after 3."""
    picked = draw.subset(stages - 1, downs)
    return [1] + [2 if i in picked else 1 for i in range(stages - 1)]


def _conv3x3(conv, stride: int = 1):
    """A fresh 3x3 convolution (padding 1) with ``conv``'s channels, groups and bias."""
    from torch import nn

    return nn.Conv2d(conv.in_channels, conv.out_channels, 3, stride, 1, groups=conv.groups,
                     bias=conv.bias is not None)


def _act(name: str):
    from timm.layers import get_act_layer

    return get_act_layer(name)


# ------------------------------------------------------------------------------------------ families


@dataclass(frozen=True)
class Family:
    name: str
    source: str
    sample: Callable[[_Draw, LibraryConfig], dict]
    build: Callable[[dict, int], Any]
    depth: tuple[int, int]
    description: str


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
    from torch import nn

    model = ResNet(BasicBlock if a["block"] == "basic" else Bottleneck, tuple(a["layers"]), num_classes=num_classes,
                   channels=tuple(a["channels"]), stem_width=a["stem_width"], stem_type=a["stem_type"],
                   avg_down=a["avg_down"], cardinality=a["cardinality"], base_width=a["base_width"],
                   act_layer=_act(a["act"]), block_args=dict(attn_layer=a["attn"]) if a["attn"] else None)
    if a["stem_type"]:
        _stride1(model.conv1[0])  # deep stem: its first 3x3 conv had stride 2
    else:
        model.conv1 = _conv3x3(model.conv1)  # 7x7/2 -> 3x3/1
    model.maxpool = nn.Identity()
    return model


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
    _stride1(model.conv_stem)
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
    model.stem[0] = _conv3x3(model.stem[0])  # 4x4/4 patchify -> 3x3/1
    return model


# timm VisionTransformer ---------------------------------------------------------------------------


def _sample_vit(draw: _Draw, cfg: LibraryConfig) -> dict:
    depth = _depth(draw, cfg, 2, 12)
    mlp_ratio = draw.weighted(((4.0, 0.6), (3.0, 0.2), (2.0, 0.2)))
    options = (64, 96, 128, 160, 192, 256, 320, 384)
    if depth == 12:  # vit/deit tiny (192) and small (384)
        options = tuple(o for o in options if o not in (192, 384))
    dim = _fit(draw, cfg, options, lambda d: 1.1 * depth * (4 + 2 * mlp_ratio) * d * d)
    head_dim = 32 if dim < 128 or dim % 64 else draw.choice((32, 64))
    patch = 2 if dim <= 128 and depth <= 6 and draw.chance(0.25) else 4
    distilled = draw.chance(0.1)
    pool = "token" if distilled or draw.chance(0.6) else "avg"
    return dict(depth=depth, embed_dim=dim, num_heads=dim // head_dim, mlp_ratio=mlp_ratio, patch_size=patch,
                global_pool=pool, class_token=pool == "token", qkv_bias=draw.chance(0.8),
                init_values=1e-5 if draw.chance(0.2) else None, qk_norm=draw.chance(0.1),
                reg_tokens=4 if pool == "token" and not distilled and draw.chance(0.1) else 0,
                distilled=distilled)


def _build_vit(a: dict, num_classes: int):
    a = dict(a)
    if a.pop("distilled"):
        from timm.models.deit import VisionTransformerDistilled as cls
    else:
        from timm.models.vision_transformer import VisionTransformer as cls
    return cls(img_size=32, num_classes=num_classes, **a)


# timm MlpMixer (Mixer, ResMLP, gMLP) --------------------------------------------------------------

_MIXER_HELDOUT = (("mixer", 512, 8), ("resmlp", 384, 12), ("gmlp", 128, 30))


def _sample_mixer(draw: _Draw, cfg: LibraryConfig) -> dict:
    variant = draw.weighted((("mixer", 0.5), ("resmlp", 0.3), ("gmlp", 0.2)))
    blocks = _depth(draw, cfg, 2, 16)
    options = tuple(d for d in (64, 96, 128, 192, 256, 384, 512) if (variant, d, blocks) not in _MIXER_HELDOUT)
    dim = _fit(draw, cfg, options, lambda d: 1.1 * blocks * (8 * d * d + 64 * 64 * 2))
    return dict(variant=variant, num_blocks=blocks, embed_dim=dim, patch_size=4)


def _build_mixer(a: dict, num_classes: int):
    from timm.layers import GatedMlp
    from timm.models.mlp_mixer import Affine, MlpMixer, ResBlock, SpatialGatingBlock

    extra = {"mixer": {},
             "resmlp": dict(mlp_ratio=4, block_layer=ResBlock, norm_layer=Affine),
             "gmlp": dict(mlp_ratio=6, block_layer=SpatialGatingBlock, mlp_layer=GatedMlp)}[a["variant"]]
    return MlpMixer(num_classes=num_classes, img_size=32, patch_size=a["patch_size"], num_blocks=a["num_blocks"],
                    embed_dim=a["embed_dim"], **extra)


# timm MetaFormer (PoolFormer v1/v2, ConvFormer) ---------------------------------------------------


def _sample_metaformer(draw: _Draw, cfg: LibraryConfig) -> dict:
    variant = draw.weighted((("poolformer_v1", 0.35), ("poolformer_v2", 0.35), ("convformer", 0.3)))
    depths = _spread(draw, _depth(draw, cfg, 4, 16), (0.15, 0.15, 0.55, 0.15))
    third = draw.choice((4, 5))  # dims d, 2d, 4d or 5d, 8d (PoolFormer: 64, 128, 320, 512)
    options = (16, 24, 32, 48, 64, 96)
    if tuple(depths) == (2, 2, 6, 2) and third == 5:  # poolformer(v2)_s12
        options = tuple(o for o in options if o != 64)

    def estimate(d0: int) -> float:
        dims = (d0, 2 * d0, third * d0, 8 * d0)
        total, cin = 27 * d0, d0
        for d, n in zip(dims, depths):
            total += 9 * cin * d + n * (8 * d * d + (4 * d * d if variant == "convformer" else 0))
            cin = d
        return 1.1 * total

    d0 = _fit(draw, cfg, options, estimate)
    return dict(variant=variant, depths=depths, dims=[d0, 2 * d0, third * d0, 8 * d0])


def _build_metaformer(a: dict, num_classes: int):
    from timm.models.metaformer import GroupNorm1, MetaFormer, Pooling, SepConv
    from torch import nn

    extra = {"poolformer_v1": dict(token_mixers=Pooling, mlp_act=nn.GELU, mlp_bias=True, norm_layers=GroupNorm1,
                                   layer_scale_init_values=1e-5, res_scale_init_values=None, use_mlp_head=False),
             "poolformer_v2": dict(token_mixers=Pooling, use_mlp_head=False),
             "convformer": dict(token_mixers=SepConv)}[a["variant"]]
    model = MetaFormer(num_classes=num_classes, depths=tuple(a["depths"]), dims=tuple(a["dims"]), **extra)
    model.stem.conv = _conv3x3(model.stem.conv)  # 7x7/4 -> 3x3/1
    return model


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

    model = RegNet(RegNetCfg(**a), num_classes=num_classes)
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
    f = model.features
    if a["stem_type"]:
        _stride1(f.conv0)
    else:
        f.conv0 = _conv3x3(f.conv0)  # 7x7/2 -> 3x3/1
    f.pool0 = nn.Identity()
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
    _stride1(model.features[0][0])
    return model


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("timm_resnet", "timm", _sample_resnet, _build_resnet, (4, 24),
               "timm ResNet/ResNeXt/wide/SE/ECA, stems ''/deep/deep_tiered; stem 3x3/1, no max pool"),
        Family("timm_efficientnet", "timm", _sample_efficientnet, _build_efficientnet, (4, 24),
               "timm EfficientNet class from drawn block strings (MobileNetV2/EfficientNet/V2/MnasNet/MNv4 styles)"),
        Family("timm_mobilenetv3", "timm", _sample_mobilenetv3, _build_mobilenetv3, (4, 16),
               "timm MobileNetV3 from drawn block strings"),
        Family("timm_convnext", "timm", _sample_convnext, _build_convnext, (4, 24),
               "timm ConvNeXt (V1/V2), patchify stem -> 3x3/1"),
        Family("timm_vit", "timm", _sample_vit, _build_vit, (2, 12),
               "timm VisionTransformer / DeiT distilled, img_size=32, patch 4 or 2"),
        Family("timm_mixer", "timm", _sample_mixer, _build_mixer, (2, 16),
               "timm MlpMixer as Mixer, ResMLP or gMLP, img_size=32, patch 4"),
        Family("timm_metaformer", "timm", _sample_metaformer, _build_metaformer, (4, 16),
               "timm MetaFormer as PoolFormer v1/v2 or ConvFormer, stem 7x7/4 -> 3x3/1"),
        Family("timm_regnet", "timm", _sample_regnet, _build_regnet, (6, 24),
               "timm RegNet X/Y from a drawn RegNetCfg, stem and early stages stride 1 (ends 4x4)"),
        Family("timm_densenet", "timm", _sample_densenet, _build_densenet, (4, 36),
               "timm DenseNet, drawn growth rate and block config, stem 3x3/1, no pool"),
        Family("tv_shufflenet", "torchvision", _sample_shufflenet, _build_shufflenet, (3, 16),
               "torchvision ShuffleNetV2, drawn repeats and widths, stem 3x3/1, no max pool"),
        Family("tv_mobilenetv3", "torchvision", _sample_tv_mobilenetv3, _build_tv_mobilenetv3, (4, 16),
               "torchvision MobileNetV3 from a drawn InvertedResidualConfig list"),
    )
}
"""Library family name -> how to draw and build it."""


LIBRARY_STREAMS: dict[str, LibraryConfig] = {
    "library": LibraryConfig(),
    "library_shallow": LibraryConfig(depth=(0.0, 0.35)),
    "library_deep": LibraryConfig(depth=(0.5, 1.6)),
}
"""Training streams of library nets (``arch_zoo.train_stream(stream=...)``): ``library``, every family over
its whole depth range (ResNets of 4-24 blocks: ResNet-50 has 16); ``library_shallow``, the first 35 % of
each range (a curriculum's first stage); ``library_deep``, from mid-range to 1.6x the deepest (ResNets of
14-36 blocks, ResNet-101 has 33; ViTs of 7-17 layers)."""
