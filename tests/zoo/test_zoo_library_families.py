"""The library families added after the first eleven: ByobNet (RepVGG / MobileOne / GENet / ResNet-like), CspNet,
GhostNet, ReXNet, Swin, DLA, DPN and ResNets with Res2Net / SK / ResNeSt blocks."""

import itertools
import math

import pytest
import torch

from arch_zoo import heldout_hashes
from arch_zoo.library import FAMILIES, LIBRARY_STREAMS, LibraryConfig, LibrarySpec, sample_library

NEW_FAMILIES = ["timm_byobnet", "timm_cspnet", "timm_ghostnet", "timm_swin", "timm_dla", "timm_resnet_variant",
                "timm_rexnet", "timm_dpn"]


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_new_families_are_registered_weighted_and_native():
    weights = dict(LibraryConfig().families)
    assert set(NEW_FAMILIES) <= set(FAMILIES) and set(NEW_FAMILIES) <= set(weights)
    share = sum(weights[f] for f in NEW_FAMILIES) / sum(weights.values())
    assert 0.25 <= share <= 0.30
    assert all(FAMILIES[f].native is not None for f in NEW_FAMILIES)


@pytest.mark.parametrize("family", NEW_FAMILIES)
def test_first_draws_build_forward_trace_and_are_not_held_out(family, trace):
    """The first three draws of each form (the ``library`` stream's depth and width ranges, this family only)
    build, give finite (2, 10) logits at 32x32, trace strictly and hash to no held-out real model."""
    held = heldout_hashes()
    for native in (0.0, 1.0):
        cfg = LibraryConfig(families=((family, 1.0),), native=native)
        for seed in range(3):
            spec = sample_library(seed, "test-new-families", cfg)
            assert spec.family == family and spec.kwargs.get("native", False) == bool(native)
            torch.manual_seed(0)
            model = spec.build(num_classes=10).eval()
            with torch.no_grad():
                y = model(torch.randn(2, 3, 32, 32))
            assert y.shape == (2, 10) and torch.isfinite(y).all(), spec
            assert trace(model).structure_hash() not in held, spec


# Each new family can express a held-out real model: these are their arguments. The graphs must be held out (so
# the guards in the samplers matter) and the samplers must never draw them.
HELD_OUT_ARGS = {
    "timm:repvgg_a0": ("timm_byobnet", dict(variant="repvgg", depths=[2, 4, 14, 1], widths=[48, 96, 192, 1280],
                                            stem_chs=48, groups=0, attn=None)),
    "timm:mobileone_s0": ("timm_byobnet", dict(variant="mobileone", depths=[2, 8, 10, 1],
                                               widths=[48, 128, 256, 1024], stem_chs=48, branches=4,
                                               se_blocks=[0, 0, 0, 0])),
    "timm:dla34": ("timm_dla", dict(levels=[1, 1, 1, 2, 2, 1], channels=[16, 32, 64, 128, 256, 512], block="basic",
                                    cardinality=1, base_width=64, shortcut_root=False)),
    "timm:rexnet_100": ("timm_rexnet", dict(width_mult=1.0, depth_mult=1.0, final_chs=180, se_ratio=1 / 12, ch_div=1,
                                            act="swish")),
    "timm:skresnet18": ("timm_resnet_variant", dict(
        kind="sk", block="SelectiveKernelBasic", layers=[2, 2, 2, 2], channels=[64, 128, 256, 512], stem_width=64,
        stem_type="", avg_down=False, cardinality=1, base_width=64,
        block_args=dict(sk_kwargs=dict(rd_ratio=0.125, rd_divisor=16, split_input=True)))),
    "timm:resnest14d": ("timm_resnet_variant", dict(
        kind="resnest", block="ResNestBottleneck", layers=[1, 1, 1, 1], channels=[64, 128, 256, 512], stem_width=32,
        stem_type="deep", avg_down=True, cardinality=1, base_width=64,
        block_args=dict(radix=2, avd=True, avd_first=False))),
    "timm:dpn68": ("timm_dpn", dict(small=True, num_init_features=10, k_r=128, groups=32, k_sec=[3, 4, 12, 3],
                                    inc_sec=[16, 32, 32, 64], b=False, act="relu")),
    "timm:cspresnet50": ("timm_cspnet", dict(
        style="cspresnet", stem_chs=[64], stem_kernel=7, stem_stride=4, stem_pool="max", depths=[3, 3, 5, 2],
        out_chs=[128, 256, 512, 1024], strides=[1, 2, 2, 2], groups=1, expand_ratio=[2.0] * 4,
        bottle_ratio=[0.5] * 4, block_ratio=[1.0] * 4, cross_linear=True, down_growth=False, stage_type="csp",
        block_type="bottle", attn=None, act="leaky_relu")),
}


@pytest.mark.parametrize("ref", ["timm:repvgg_a0", "timm:dla34", "timm:rexnet_100", "timm:resnest14d"])
def test_the_guarded_configurations_are_held_out_graphs(ref, trace):
    """Built natively, a guarded configuration is the held-out model itself (so the guard is needed)."""
    family, args = HELD_OUT_ARGS[ref]
    torch.manual_seed(0)
    model = LibrarySpec.make(family, native=True, **args).build(num_classes=10)
    assert trace(model).structure_hash() in heldout_hashes()


def _is_held_out(spec: LibrarySpec) -> bool:
    a = spec.kwargs
    a.pop("native", None)
    return any(spec.family == family and all(a.get(k) == v for k, v in args.items())
               for family, args in HELD_OUT_ARGS.values())


def test_held_out_configurations_of_new_families_are_never_drawn():
    cfgs = [LIBRARY_STREAMS["library"], LIBRARY_STREAMS["library_deep"], LIBRARY_STREAMS["library_shallow"]]
    for cfg, family in itertools.product(cfgs, NEW_FAMILIES):
        one = LibraryConfig(families=((family, 1.0),), depth=cfg.depth)
        for seed in range(400):
            spec = sample_library(seed, "guard-new", one)
            assert not _is_held_out(spec), spec
            a = spec.kwargs
            if family == "timm_swin":
                assert (tuple(a["depths"]), a["embed_dim"]) != ((2, 2, 6, 2), 96)  # swin_tiny
            elif family == "timm_dla":
                assert (a["block"], tuple(a["levels"]), a["channels"]) not in (
                    ("basic", (1, 1, 1, 2, 2, 1), [16, 32, 64, 128, 256, 512]),  # dla34
                    ("bottleneck", (1, 1, 1, 2, 2, 1), [16, 32, 64, 64, 128, 256]))  # dla46_c
            elif family == "timm_rexnet":  # depth_mult 0.8125-1.0 all give rexnet_100's blocks per stage
                layers = tuple(math.ceil(n * a["depth_mult"]) for n in (1, 2, 2, 3, 3, 5))
                assert (layers, a["width_mult"], a["final_chs"], a["se_ratio"], a["ch_div"], a["act"]) != \
                    ((1, 2, 2, 3, 3, 5), 1.0, 180, 1 / 12, 1, "swish")
            elif family == "timm_resnet_variant":
                assert not (a["channels"][0] == 64 and tuple(a["layers"]) in ((1, 1, 1, 1), (2, 2, 2, 2), (3, 4, 6, 3)))


def test_depth_ranges_reach_real_depths():
    """``library`` reaches the depths of RepVGG-B (27 blocks), DLA-169 (tree levels 2-3-5-1), Swin-T (12 blocks),
    DPN-92 (30 blocks), ReXNet-1.0 (16 blocks); ``library_deep`` goes beyond."""
    assert FAMILIES["timm_byobnet"].depth[1] >= 27 and FAMILIES["timm_dla"].depth[1] >= 11
    assert FAMILIES["timm_swin"].depth[1] >= 12 and FAMILIES["timm_dpn"].depth[1] >= 30
    deep = LibraryConfig(families=(("timm_swin", 1.0),), depth=LIBRARY_STREAMS["library_deep"].depth)
    assert max(sum(sample_library(s, "d", deep).kwargs["depths"]) for s in range(60)) > 12
