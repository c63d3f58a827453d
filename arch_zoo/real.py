"""Catalogue of real networks (timm / torchvision) adapted to 32x32 inputs.

Convnets get a CIFAR-style stem (3x3 stride-1 stem conv, no max pool);
transformers and MLP-Mixer get ``img_size=32`` and a small patch. Nothing is
downloaded: every net is freshly initialised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

__all__ = ["RealModel", "REAL_MODELS", "build", "count_params"]


@dataclass(frozen=True)
class RealModel:
    """A registered real network: ``builder(num_classes)`` returns a fresh ``nn.Module``."""

    name: str
    builder: Callable[[int], nn.Module]
    adaptation: str
    source: str

    def build(self, num_classes: int = 10) -> nn.Module:
        return self.builder(num_classes)


def count_params(model: nn.Module) -> int:
    """Number of parameter elements (shared parameters counted once)."""
    return sum(p.numel() for p in model.parameters())


def _cifar_conv(conv: nn.Conv2d) -> nn.Conv2d:
    return nn.Conv2d(conv.in_channels, conv.out_channels, 3, 1, 1, bias=conv.bias is not None)


def _stride1(conv: nn.Conv2d) -> nn.Conv2d:
    conv.stride = (1, 1)
    return conv


def _tv_resnet(arch: str) -> Callable[[int], nn.Module]:
    def builder(num_classes: int) -> nn.Module:
        import torchvision

        model = getattr(torchvision.models, arch)(num_classes=num_classes)
        model.conv1 = _cifar_conv(model.conv1)
        model.maxpool = nn.Identity()
        return model

    return builder


def _tv_densenet(num_classes: int) -> nn.Module:
    import torchvision

    model = torchvision.models.densenet121(num_classes=num_classes)
    model.features.conv0 = _cifar_conv(model.features.conv0)
    model.features.pool0 = nn.Identity()
    return model


def _tv_mobilenet(arch: str) -> Callable[[int], nn.Module]:
    def builder(num_classes: int) -> nn.Module:
        import torchvision

        model = getattr(torchvision.models, arch)(num_classes=num_classes)
        _stride1(model.features[0][0])
        return model

    return builder


def _timm(arch: str, stem: str | None = None, **kwargs) -> Callable[[int], nn.Module]:
    def builder(num_classes: int) -> nn.Module:
        import timm

        model = timm.create_model(arch, pretrained=False, num_classes=num_classes, **kwargs)
        if stem is not None:
            _stride1(model.get_submodule(stem))
        return model

    return builder


def _timm_mixer(num_classes: int) -> nn.Module:
    from timm.models.mlp_mixer import MlpMixer

    return MlpMixer(num_classes=num_classes, img_size=32, patch_size=4, num_blocks=8, embed_dim=512)


_CIFAR_RESNET = "torchvision {arch}; stem conv 7x7/2 -> 3x3/1, max pool removed"
_STRIDE1 = "first conv stride 2 -> 1"
_VIT = "img_size=32, patch_size=4 (64 tokens)"

REAL_MODELS: dict[str, RealModel] = {
    m.name: m
    for m in (
        *(
            RealModel(arch, _tv_resnet(arch), _CIFAR_RESNET.format(arch=arch), "torchvision")
            for arch in ("resnet18", "resnet34", "resnet50", "wide_resnet50_2", "resnext50_32x4d")
        ),
        RealModel("densenet121", _tv_densenet, "torchvision; stem conv 7x7/2 -> 3x3/1, max pool removed",
                  "torchvision"),
        RealModel("mobilenet_v2", _tv_mobilenet("mobilenet_v2"), f"torchvision; {_STRIDE1}", "torchvision"),
        RealModel("mobilenet_v3_small", _tv_mobilenet("mobilenet_v3_small"), f"torchvision; {_STRIDE1}",
                  "torchvision"),
        RealModel("mobilenet_v3_large", _tv_mobilenet("mobilenet_v3_large"), f"torchvision; {_STRIDE1}",
                  "torchvision"),
        RealModel("efficientnet_b0", _timm("efficientnet_b0", stem="conv_stem"), f"timm; {_STRIDE1}", "timm"),
        RealModel("regnety_004", _timm("regnety_004", stem="stem.conv"), f"timm; {_STRIDE1}", "timm"),
        RealModel("convnext_tiny", _timm("convnext_tiny", patch_size=2), "timm; patch_size=2 stem", "timm"),
        RealModel("vit_tiny", _timm("vit_tiny_patch16_224", img_size=32, patch_size=4), f"timm; {_VIT}", "timm"),
        RealModel("vit_small", _timm("vit_small_patch16_224", img_size=32, patch_size=4), f"timm; {_VIT}", "timm"),
        RealModel("deit_tiny", _timm("deit_tiny_patch16_224", img_size=32, patch_size=4), f"timm; {_VIT}", "timm"),
        RealModel(
            "swin_tiny",
            _timm("swin_tiny_patch4_window7_224", img_size=32, patch_size=2, window_size=4),
            "timm; img_size=32, patch_size=2, window_size=4 (16x16 -> 2x2 tokens)",
            "timm",
        ),
        RealModel("mixer_s", _timm_mixer, "timm MlpMixer (Mixer-S width/depth); img_size=32, patch_size=4",
                  "timm"),
    )
}
"""Name -> ``RealModel``; every net takes ``(B, 3, 32, 32)`` and returns ``(B, num_classes)``."""


def build(name: str, num_classes: int = 10) -> nn.Module:
    """A freshly initialised real network by name."""
    if name not in REAL_MODELS:
        raise KeyError(f"unknown real model {name!r}; known: {', '.join(REAL_MODELS)}")
    return REAL_MODELS[name].build(num_classes)
