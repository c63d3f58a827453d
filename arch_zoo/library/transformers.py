"""Token mixers built by timm: VisionTransformer (and DeiT distilled), SwinTransformer, MlpMixer (Mixer, ResMLP,
gMLP) and MetaFormer (PoolFormer v1/v2, ConvFormer)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..generator import _Draw
from .draw import Family, _conv3x3, _depth, _fit, _native, _native_patch16, _spread

if TYPE_CHECKING:
    from .spec import LibraryConfig

__all__ = ["TIMM_VIT", "TIMM_SWIN", "TIMM_MIXER", "TIMM_METAFORMER"]


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
    if a.pop("native", False):
        a["patch_size"] = 16  # timm's ImageNet patching: 2x2 tokens at 32x32
    if a.pop("distilled"):
        from timm.models.deit import VisionTransformerDistilled as cls
    else:
        from timm.models.vision_transformer import VisionTransformer as cls
    return cls(img_size=32, num_classes=num_classes, **a)


# timm SwinTransformer ------------------------------------------------------------------------------

_SWIN_HELDOUT = ((2, 2, 6, 2), 96)  # swin_tiny_patch4_window7_224: depths, embed_dim


def _sample_swin(draw: _Draw, cfg: LibraryConfig) -> dict:
    n = _depth(draw, cfg, 3, 12)  # Swin-T: 2-2-6-2
    stages = 4 if n >= 4 and draw.chance(0.7) else 3
    depths = _spread(draw, n, (0.15, 0.15, 0.55, 0.15)[:stages])
    patch = 2 if n <= 8 and draw.chance(0.3) else 4  # 16x16 or 8x8 tokens, halved by each later stage
    window = draw.choice((4, 8) if patch == 2 else (2, 4, 8))  # divides the first stage's grid (timm clamps it
    # to a later stage's smaller grid, without shifting)
    mlp_ratio = 4.0 if draw.chance(0.8) else 2.0
    head_dim = draw.choice((16, 32))
    options = tuple(d for d in (32, 48, 64, 96, 128) if d % head_dim == 0)
    if tuple(depths) == _SWIN_HELDOUT[0]:
        options = tuple(d for d in options if d != _SWIN_HELDOUT[1])

    def estimate(d0: int) -> float:
        total, heads = 3 * patch * patch * d0, d0 // head_dim
        for i, k in enumerate(depths):
            d = d0 << i
            total += (2 * d * d if i else 0) + k * ((4 + 2 * mlp_ratio) * d * d + (2 * window - 1) ** 2 * (heads << i))
        return 1.1 * total

    d0 = _fit(draw, cfg, options, estimate)
    return dict(depths=depths, embed_dim=d0, num_heads=[(d0 << i) // head_dim for i in range(stages)],
                patch_size=patch, window_size=window, mlp_ratio=mlp_ratio)


def _native_swin(args: dict) -> dict:
    """The native form of a Swin draw: timm's ImageNet patching and windows (4-pixel patches, 7x7 windows, which
    timm pads the 8x8 grid of a 32x32 image for), as ``timm.create_model('swin_*', img_size=32)`` builds it."""
    return {**args, "native": True, "patch_size": 4, "window_size": 7}


def _build_swin(a: dict, num_classes: int):
    from timm.models.swin_transformer import SwinTransformer

    a = dict(a)
    a.pop("native", None)  # the native form is in the args (patch 4, window 7)
    # no stochastic depth: the nets run on predicted parameters alone (timm's DropPath would trace to the same graph)
    return SwinTransformer(img_size=32, num_classes=num_classes, drop_path_rate=0.0, **a)


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
    patch = 16 if a.get("native") else a["patch_size"]  # native: timm's ImageNet patching, 2x2 tokens at 32x32
    return MlpMixer(num_classes=num_classes, img_size=32, patch_size=patch, num_blocks=a["num_blocks"],
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
    if a.get("native"):  # the 7x7/4 stem kept: 32 -> 1
        return model
    model.stem.conv = _conv3x3(model.stem.conv)  # 7x7/4 -> 3x3/1
    return model


TIMM_VIT = Family(
    "timm_vit", "timm", _sample_vit, _build_vit, (2, 12),
    "timm VisionTransformer / DeiT distilled, img_size=32, patch 4 or 2 (native: 16)", _native_patch16)

TIMM_SWIN = Family(
    "timm_swin", "timm", _sample_swin, _build_swin, (3, 12),
    "timm SwinTransformer, img_size=32, patch 4 or 2, windows that divide the token grid (native: patch 4, "
    "window 7)", _native_swin)

TIMM_MIXER = Family(
    "timm_mixer", "timm", _sample_mixer, _build_mixer, (2, 16),
    "timm MlpMixer as Mixer, ResMLP or gMLP, img_size=32, patch 4 (native: 16)", _native_patch16)

TIMM_METAFORMER = Family(
    "timm_metaformer", "timm", _sample_metaformer, _build_metaformer, (4, 16),
    "timm MetaFormer as PoolFormer v1/v2 or ConvFormer, stem 7x7/4 -> 3x3/1 (native: 7x7/4 kept)", _native)
