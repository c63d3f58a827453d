import hashlib
import itertools
import pickle

import pytest
import torch

import arch_zoo
from arch_zoo import heldout_hashes, sample, train_stream
from arch_zoo import splits as splits_mod
from arch_zoo.library import FAMILIES, LIBRARY_STREAMS, LibraryConfig, LibrarySpec, sample_library


def _first_draw(family: str) -> LibrarySpec:
    """The first (and so, at depth quantile 0 and a strong width skew, small) draw of one family."""
    cfg = LibraryConfig(families=((family, 1.0),), depth=(0.0, 0.0), skew=6)
    return sample_library(0, "test-small", cfg)


def _smallest_map(model: torch.nn.Module) -> int:
    """The smallest side (> 1) of a square 4-D activation in the forward pass: a convnet's last stage."""
    sides = []

    def hook(module, inputs, out):
        if isinstance(out, torch.Tensor) and out.dim() == 4 and out.shape[-1] == out.shape[-2] > 1:
            sides.append(out.shape[-1])

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    with torch.no_grad():
        model(torch.randn(2, 3, 32, 32))
    for h in handles:
        h.remove()
    return min(sides)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_family_builds_forwards_and_traces_at_32(family, check_net):
    spec = _first_draw(family)
    assert spec.family == family
    torch.manual_seed(0)
    model = spec.build(num_classes=10)
    check_net(model)  # (2, 10) finite logits, strict trace owning every parameter
    if family in ("timm_vit", "timm_mixer", "timm_swin"):
        embed = model.stem if family == "timm_mixer" else model.patch_embed
        assert embed.grid_size in ((8, 8), (16, 16))
    else:
        assert _smallest_map(model) == 4  # the first factor 4 of downsampling removed: 32 -> 4
    assert sum(p.numel() for p in model.parameters()) <= 2_000_000


def test_sampling_is_deterministic_and_keyed():
    a = [sample_library(s) for s in range(40)]
    assert a == [sample_library(s) for s in range(40)]
    assert len({s.hash for s in a}) == 40
    assert [sample_library(s, "other") for s in range(5)] != a[:5]
    assert len({s.family for s in a}) >= 8


def test_hash_is_sha1_of_canonical_json_and_stable():
    spec = LibrarySpec.make("timm_vit", depth=2, embed_dim=64, num_heads=2, mlp_ratio=4.0, patch_size=4,
                            global_pool="token", class_token=True, qkv_bias=True, init_values=None, qk_norm=False,
                            reg_tokens=0, distilled=False)
    assert spec.hash == hashlib.sha1(spec.to_json().encode()).hexdigest()[:16]
    assert LibrarySpec.from_json(spec.to_json()) == spec
    # a changed sampler changes every library stream (and resumed runs): update these deliberately (last: the
    # eight families of byob.py, csp.py, lightweight.py, multipath.py, Swin and the ResNet block variants)
    assert [sample_library(s, "train-library").hash for s in range(3)] == \
        ["f0d52090168660f8", "1a5a64d9ba1bb1d0", "ce080f5db512232d"]


def test_spec_pickles_and_validates():
    for s in range(12):
        spec = sample_library(s)
        back = pickle.loads(pickle.dumps(spec))
        assert back == spec and back.hash == spec.hash and hash(back) == hash(spec)
        assert spec.describe().startswith(spec.family) and spec.source in ("timm", "torchvision")
    with pytest.raises(ValueError, match="unknown library family"):
        LibrarySpec.make("timm_nope", depth=1)
    with pytest.raises(ValueError, match="canonical"):
        LibrarySpec("timm_vit", '{"b": 1, "a": 2}')
    with pytest.raises(ValueError):
        LibraryConfig(families=(("nope", 1.0),))


def test_draws_fit_the_parameter_cap():
    with torch.device("meta"):  # shapes only: no storage, no initialisation cost
        counts = [sum(p.numel() for p in sample_library(s, "train-library").build().parameters()) for s in range(30)]
    assert max(counts) <= LIBRARY_STREAMS["library"].max_params
    assert sorted(counts)[15] < 5_000_000


def test_held_out_configurations_are_never_drawn():
    cfgs = [LIBRARY_STREAMS["library"], LIBRARY_STREAMS["library_deep"], LIBRARY_STREAMS["library_native"]]
    for cfg, seed in itertools.product(cfgs, range(1500)):
        spec = sample_library(seed, "guard", cfg)
        a = spec.kwargs
        if spec.family == "timm_resnet":
            assert not (a["channels"][0] == 64 and tuple(a["layers"]) in ((1, 1, 1, 1), (2, 2, 2, 2), (3, 4, 6, 3)))
        elif spec.family == "timm_vit":
            assert (a["embed_dim"], a["depth"]) not in ((192, 12), (384, 12))
        elif spec.family == "timm_convnext":
            assert (tuple(a["depths"]), a["dims"][0]) not in (((2, 2, 6, 2), 40), ((2, 2, 8, 2), 80))
        elif spec.family == "timm_mixer":
            assert (a["variant"], a["embed_dim"], a["num_blocks"]) not in (("mixer", 512, 8), ("resmlp", 384, 12))
        elif spec.family == "timm_metaformer":
            assert not (tuple(a["depths"]) == (2, 2, 6, 2) and a["dims"] == [64, 128, 320, 512])


def test_library_streams_are_registered_and_ranged():
    names = arch_zoo.stream_names()
    assert {"train", "library", "library_shallow", "library_deep", "library_native", "real_mix", "user_mix",
            "library_mix", "zoo_mix"} <= set(names)
    with pytest.raises(KeyError, match="library"):
        next(train_stream(stream="nope"))
    deep = [spec for _, spec in itertools.islice(train_stream(stream="library_deep"), 200)]
    shallow = [spec for _, spec in itertools.islice(train_stream(stream="library_shallow"), 200)]
    blocks = lambda specs: [sum(s.kwargs["layers"]) for s in specs if s.family == "timm_resnet"]  # noqa: E731
    assert max(blocks(shallow)) <= 11 < 14 <= min(blocks(deep)) and max(blocks(deep)) > 24


def test_real_mix_interleaves_library_and_train_deterministically():
    mix = list(itertools.islice(train_stream(stream="real_mix"), 8))
    assert mix == list(itertools.islice(train_stream(stream="real_mix"), 8))
    lib = dict(itertools.islice(train_stream(stream="library"), 8))
    for seed, spec in mix:
        assert spec == (lib[seed] if seed % 2 == 0 else sample(seed, "train"))
    assert [s for s, _ in itertools.islice(train_stream(5, "real_mix"), 3)] == [5, 6, 7]
    # the existing streams are untouched
    assert [spec for _, spec in itertools.islice(train_stream(), 3)] == [sample(s, "train") for s in range(3)]


def test_library_stream_skips_eval_hashes(monkeypatch):
    banned = frozenset({sample_library(1, "train-library").hash})
    monkeypatch.setattr(splits_mod, "eval_hashes", lambda: banned)
    assert [seed for seed, _ in itertools.islice(train_stream(0, "library"), 3)] == [0, 2, 3]


# --------------------------------------------------------------------------------------- native form

NATIVE_FAMILIES = [name for name, f in FAMILIES.items() if f.native is not None]


def _last_map(model: torch.nn.Module) -> int:
    """The side of a convnet's last feature map: the smallest output of a spatial (k > 1) convolution."""
    sides = []

    def hook(module, inputs, out):
        sides.append(out.shape[-1])

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, torch.nn.Conv2d) and m.kernel_size != (1, 1)]
    with torch.no_grad():
        model(torch.randn(2, 3, 32, 32))
    for h in handles:
        h.remove()
    return min(sides)


def test_every_family_has_a_native_form():
    # a family that cannot run natively at 32x32 would set Family.native = None (and be documented)
    assert NATIVE_FAMILIES == list(FAMILIES)


@pytest.mark.parametrize("family", NATIVE_FAMILIES)
def test_native_draws_build_forward_and_trace_at_32(family, check_net, trace):
    cfg = LibraryConfig(families=((family, 1.0),), depth=(0.0, 0.5), skew=4, native=1.0)
    held = heldout_hashes()
    for seed in range(3):
        spec = sample_library(seed, "test-native", cfg)
        assert spec.kwargs["native"] is True and spec.family == family
        torch.manual_seed(0)
        model = spec.build(num_classes=10)
        torch.manual_seed(0)
        with torch.no_grad():
            y = model(torch.randn(2, 3, 32, 32))
        assert y.shape == (2, 10) and torch.isfinite(y).all()
        graph = trace(model)  # strict: every parameter owned
        assert graph.structure_hash() not in held
        if family in ("timm_vit", "timm_mixer"):
            embed = model.patch_embed if family == "timm_vit" else model.stem
            assert spec.kwargs["patch_size"] == 16 and embed.grid_size == (2, 2)  # 4 tokens
        elif family == "timm_swin":  # timm's 4-pixel patches and 7x7 windows (it pads the 8x8 grid to whole windows)
            assert (spec.kwargs["patch_size"], spec.kwargs["window_size"]) == (4, 7)
            assert model.patch_embed.grid_size == (8, 8)
        elif family in ("timm_efficientnet", "timm_mobilenetv3", "tv_mobilenetv3", "timm_ghostnet"):
            assert _last_map(model) == 2  # stem stride 2 on the three stage strides drawn for 32x32
        else:
            assert _last_map(model) == 1  # the library's full 32x downsampling


def test_native_is_drawn_last_and_only_when_asked():
    plain, native = LibraryConfig(), LibraryConfig(native=1.0)
    for seed in range(60):
        a, b = sample_library(seed, "k", plain), sample_library(seed, "k", native)
        got, expect = b.kwargs, a.kwargs
        assert "native" not in expect and got.pop("native") is True
        if a.family in ("timm_vit", "timm_mixer"):
            expect["patch_size"] = 16
        elif a.family == "timm_swin":
            expect.update(patch_size=4, window_size=7)
        assert (b.family, got) == (a.family, expect)  # the same draw, native form
    half = [sample_library(s, "k", LibraryConfig(native=0.5)).kwargs.get("native", False) for s in range(60)]
    assert 15 < sum(half) < 45
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="native"):
            LibraryConfig(native=bad)
    # building a native spec without the flag gives the adapted net (4x4 last map, 4-pixel patches)
    spec = sample_library(0, "k", LibraryConfig(families=(("timm_resnet", 1.0),), depth=(0.0, 0.0), native=1.0))
    args = spec.kwargs
    del args["native"]
    assert _last_map(spec.build()) == 1 and _last_map(LibrarySpec.make("timm_resnet", **args).build()) == 4


def test_existing_streams_keep_their_draws():
    """library, library_shallow, library_deep and real_mix draw no native nets, and what they draw is pinned: the
    first three hashes and a digest of the first 100 of each stream. The native form left them unchanged; the
    eight families added later (ByobNet, CspNet, GhostNet, ReXNet, Swin, DLA, DPN, ResNet block variants) changed
    which family each seed draws, and these pins were updated with them (as were library_native's and user_mix's
    draws, which nothing pins)."""
    pins = {"library": (["f0d52090168660f8", "1a5a64d9ba1bb1d0", "ce080f5db512232d"], "096b227742b83e1e"),
            "library_shallow": (["f42b17d4bdc400c2", "ddd62c8704e0c7f9", "9891c26e027f42e6"], "a7f78b53b1b4ea6f"),
            "library_deep": (["2a5c92c3a2d65776", "bf6f0d18f6f9759a", "b7c8cf1e316ac269"], "c2c96b819575b155"),
            "real_mix": (["f0d52090168660f8", "fa48acdbd3a8edfe", "ce080f5db512232d"], "cf593469489b27e1")}
    for stream, (first, digest) in pins.items():
        hashes = [spec.hash for _, spec in itertools.islice(train_stream(0, stream), 100)]
        assert hashes[:3] == first, stream
        assert hashlib.sha1(" ".join(hashes).encode()).hexdigest()[:16] == digest, stream
        assert not any("native" in spec.kwargs for _, spec in itertools.islice(train_stream(0, stream), 30)
                       if hasattr(spec, "kwargs"))


def test_library_native_stream_is_all_native():
    specs = [spec for _, spec in itertools.islice(train_stream(stream="library_native"), 60)]
    assert all(s.kwargs["native"] is True for s in specs)
    assert len({s.family for s in specs}) >= 8 and len({s.hash for s in specs}) == 60


def test_user_mix_interleaves_library_native_and_train_in_thirds():
    mix = list(itertools.islice(train_stream(stream="user_mix"), 9))
    assert mix == list(itertools.islice(train_stream(stream="user_mix"), 9))
    lib = dict(itertools.islice(train_stream(stream="library"), 9))
    nat = dict(itertools.islice(train_stream(stream="library_native"), 9))
    assert [s for s, _ in mix] == list(range(9))
    for seed, spec in mix:
        assert spec == [lib.get(seed), nat.get(seed), sample(seed, "train")][seed % 3]
    kinds = [("native" in spec.kwargs) if isinstance(spec, LibrarySpec) else "train" for _, spec in mix]
    assert kinds == [False, True, "train"] * 3
    assert [s for s, _ in itertools.islice(train_stream(4, "user_mix"), 3)] == [4, 5, 6]


def test_library_mix_is_user_mix_without_its_generated_nets():
    mix = list(itertools.islice(train_stream(stream="library_mix"), 8))
    lib = dict(itertools.islice(train_stream(stream="library"), 8))
    nat = dict(itertools.islice(train_stream(stream="library_native"), 8))
    assert [s for s, _ in mix] == list(range(8))
    assert all(spec == [lib.get(seed), nat.get(seed)][seed % 2] for seed, spec in mix)
    assert [spec.kwargs.get("native", False) for _, spec in mix] == [False, True] * 4


def test_zoo_mix_draws_half_its_nets_from_the_train_stream():
    mix = list(itertools.islice(train_stream(stream="zoo_mix"), 8))
    lib = dict(itertools.islice(train_stream(stream="library"), 8))
    nat = dict(itertools.islice(train_stream(stream="library_native"), 8))
    assert [s for s, _ in mix] == list(range(8))
    assert all(spec == [lib.get(seed), sample(seed, "train"), nat.get(seed), sample(seed, "train")][seed % 4]
               for seed, spec in mix)
