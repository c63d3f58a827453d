"""graphparam.cifar_stem: the CIFAR stem found from a model's structure, for every family, and a clear
one-line error where the rule does not apply."""

import pytest
import torch
import torch.nn as nn

from graphparam.cifar_stem import find_downsamplers, plan, to_cifar_stem
from graphparam.errors import CifarStemError, GraphparamError, ModelSourceError
from graphparam.sources import create_model

FAMILIES = ["timm:resnet10t", "timm:mobilenetv3_small_050", "timm:efficientnet_b0", "timm:convnext_atto",
            "timm:regnetx_002", "torchvision:densenet121"]


def feature_map(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The last feature map before global pooling (timm: forward_features; torchvision: .features)."""
    return model.forward_features(x) if hasattr(model, "forward_features") else model.features(x)


@pytest.mark.parametrize("ref", FAMILIES)
def test_cifar_stem_gives_a_4x4_last_map_on_32x32(ref):
    torch.manual_seed(0)
    model = create_model(ref, num_classes=10, cifar_stem=True).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert feature_map(model, x).shape[-2:] == (4, 4)
        assert model(x).shape == (2, 10)


def test_a_resnet_stem_becomes_3x3_stride_1_without_max_pool_as_before():
    model = create_model("torchvision:resnet18", num_classes=10, cifar_stem=True)
    conv = model.conv1
    assert type(conv) is nn.Conv2d and conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.padding == (1, 1)
    assert (conv.in_channels, conv.out_channels, conv.bias) == (3, 64, None)
    assert isinstance(model.maxpool, nn.Identity)


def test_parallel_strided_branches_are_adapted_together():
    model = create_model("timm:regnetx_002", num_classes=10)
    _, downs = find_downsamplers(model)
    early = {d.name: d.level for d in downs if d.level < 2}
    assert early == {"stem.conv": 0, "s1.b1.conv2.conv": 1, "s1.b1.downsample.conv": 1}
    assert set(plan(downs).values()) == {1}
    old = model.s1.b1.conv2.conv
    to_cifar_stem(model)
    conv2, short = model.s1.b1.conv2.conv, model.s1.b1.downsample.conv
    assert conv2 is not old and type(conv2) is nn.Conv2d and conv2.stride == short.stride == (1, 1)
    assert (conv2.in_channels, conv2.out_channels, conv2.groups, conv2.bias) == (old.in_channels, old.out_channels,
                                                                                old.groups, None)
    assert conv2.padding == (1, 1) and short.kernel_size == (1, 1)


def test_a_stride_4_patchify_stem_becomes_a_3x3_stride_1_conv():
    model = create_model("timm:convnext_atto", num_classes=10, cifar_stem=True)
    stem = model.stem[0]
    assert type(stem) is nn.Conv2d and stem.kernel_size == (3, 3) and stem.stride == (1, 1)
    assert stem.bias is not None and stem.out_channels == 40


def test_a_fixed_patch_timm_model_gets_4_pixel_patches():
    model = create_model("timm:mixer_s16_224", num_classes=10, cifar_stem=True)
    assert model.stem.proj.kernel_size == (4, 4) and model.stem.grid_size == (8, 8)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


class Fixed(nn.Module):
    """Five stride-2 convolutions that only accept 128x128 images (as a fixed-size ViT only takes its own)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(*[nn.Conv2d(3 if i == 0 else 8, 8, 3, 2, 1) for i in range(5)])

    def forward(self, x):
        assert x.shape[-1] == 128, "built for 128x128 images"
        return self.body(x).mean((2, 3))


def _one_line_error(model: nn.Module) -> str:
    with pytest.raises(CifarStemError) as info:
        to_cifar_stem(model)
    msg = str(info.value)
    assert "\n" not in msg and "--cifar-stem" in msg
    return msg


def test_a_model_without_downsampling_gives_a_clear_error():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(8, 10))
    assert "built for small images" in _one_line_error(model)


def test_downsampling_without_a_stride_gives_a_clear_error():
    model = nn.Sequential(nn.PixelUnshuffle(4), nn.Conv2d(48, 16, 3, 2, 1), nn.Conv2d(16, 16, 3, 2, 1),
                          nn.Conv2d(16, 16, 3, 2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
    assert "PixelUnshuffle" in _one_line_error(model)


def test_a_model_that_only_runs_at_its_own_size_gives_a_clear_error():
    assert "does not run on (3, 32, 32)" in _one_line_error(Fixed())


def test_the_error_is_a_model_source_error():
    assert issubclass(CifarStemError, ModelSourceError) and issubclass(CifarStemError, GraphparamError)


def test_a_refused_model_is_left_as_it_was():
    model = Fixed()
    before = [(type(m), getattr(m, "stride", None)) for m in model.modules()]
    _one_line_error(model)
    assert [(type(m), getattr(m, "stride", None)) for m in model.modules()] == before
