"""Where models come from on the command line: ``timm:NAME``, ``torchvision:NAME``, ``zoo:SEED``,
``real:NAME`` (arch_zoo's adapted real families) or a path to an ``.onnx`` file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch.nn as nn

from graphparam.errors import ClassCountError, ModelSourceError, first_line

#: the patch size ``cifar_stem`` gives timm models built for 32x32 through ``img_size``: an 8x8 token grid
CIFAR_PATCH = 4


def check_num_classes(num_classes: int | None) -> int | None:
    """``num_classes`` itself if it is None or at least 1; else :class:`ClassCountError`.

    Without this, 0 silently became 10 for zoo nets, and timm wrote a headless model for 0 and
    failed deep inside torch for -1.
    """
    if num_classes is not None and (isinstance(num_classes, bool) or int(num_classes) != num_classes
                                    or num_classes < 1):
        raise ClassCountError(f"the number of classes must be a positive integer, got {num_classes!r}")
    return num_classes


def _check_timm_name(name: str) -> None:
    import timm

    if not timm.is_model(name):
        close = timm.list_models(f"*{name[:6]}*")[:5]
        raise ModelSourceError(f"unknown timm model {name!r}" + (f"; similar: {', '.join(close)}" if close else ""))


def _timm(name: str, num_classes: int | None) -> nn.Module:
    import timm

    _check_timm_name(name)
    return timm.create_model(name, pretrained=False, **({} if num_classes is None else {"num_classes": num_classes}))


def _timm_sized(name: str, num_classes: int | None, input_size: tuple[int, ...], cifar_stem: bool) -> nn.Module | None:
    """A timm model with a fixed input size (ViT, DeiT, Swin, ...) built for ``input_size`` through
    ``img_size`` (and ``patch_size=CIFAR_PATCH`` with ``cifar_stem``); None for a model that takes any
    size (CNNs) or already has this one. Without it a ViT named by its timm name only runs at 224x224."""
    import timm

    _check_timm_name(name)
    cfg = timm.get_pretrained_cfg(name)
    if cfg is None or not getattr(cfg, "fixed_input_size", False):
        return None
    if tuple(input_size) == tuple(cfg.input_size) and not cifar_stem:
        return None
    h, w = input_size[1:]
    kwargs = {"img_size": h if h == w else (h, w), **({"patch_size": CIFAR_PATCH} if cifar_stem else {}),
              **({} if num_classes is None else {"num_classes": num_classes})}
    try:
        return timm.create_model(name, pretrained=False, **kwargs)
    except TypeError as exc:  # the model's constructor does not take these arguments
        if cifar_stem:
            raise ModelSourceError(f"--cifar-stem: timm model {name!r} cannot be built with "
                                   f"{', '.join(f'{k}={v}' for k, v in kwargs.items())}: {first_line(exc)}") from exc
        return None


def _torchvision(name: str, num_classes: int | None) -> nn.Module:
    import torchvision

    if name not in torchvision.models.list_models():
        raise ModelSourceError(f"unknown torchvision model {name!r}")
    return torchvision.models.get_model(name, weights=None,
                                        **({} if num_classes is None else {"num_classes": num_classes}))


def _zoo(name: str, num_classes: int | None) -> nn.Module:
    import arch_zoo

    try:
        spec = arch_zoo.sample(int(name))
    except ValueError as exc:
        raise ModelSourceError(f"zoo reference needs an integer seed, got {name!r}") from exc
    return spec.build(num_classes=num_classes or 10)


def _real(name: str, num_classes: int | None) -> nn.Module:
    from arch_zoo import real

    if name not in real.REAL_MODELS:
        raise ModelSourceError(f"unknown real model {name!r}; known: {', '.join(sorted(real.REAL_MODELS))}")
    return real.build(name, num_classes=num_classes or 10)


@dataclass(frozen=True)
class Source:
    """How one scheme builds a model: ``build(name, num_classes)`` (None: the model's own head);
    ``cifar_stem``: whether ``--cifar-stem`` applies (the zoo's nets are CIFAR-sized already);
    ``sized(name, num_classes, input_size, cifar_stem)``: the model built for an input size, or None
    where ``build`` (and :func:`to_cifar_stem`) serve."""

    build: Callable[[str, int | None], nn.Module]
    cifar_stem: bool = True
    example: str = "NAME"
    sized: Callable[[str, int | None, tuple[int, ...], bool], nn.Module | None] | None = None


#: scheme → source, one row each
SOURCES: dict[str, Source] = {
    "timm": Source(_timm, sized=_timm_sized),
    "torchvision": Source(_torchvision),
    "zoo": Source(_zoo, cifar_stem=False, example="SEED"),
    "real": Source(_real, cifar_stem=False),
}


def load_model(ref: str, *, num_classes: int | None = None, cifar_stem: bool = False,
               input_size: Sequence[int] | None = None) -> nn.Module:
    """Build the ``nn.Module`` a reference names, with fresh (default) initialization.

    ``input_size`` (C, H, W): timm models with a fixed input size (ViT, DeiT, Swin, ...) are built for
    it through ``img_size``. ``cifar_stem`` adapts a model to 32x32 (the default size then): a 3x3
    stride-1 stem for ResNets, ``img_size`` and 4-pixel patches for those timm models.
    """
    check_num_classes(num_classes)
    scheme, _, name = ref.partition(":")
    if not name:
        refs = [f"{k}:{s.example}" for k, s in SOURCES.items()]
        raise ModelSourceError(f"model reference {ref!r} must look like {', '.join(refs[:-1])} or {refs[-1]}")
    source = SOURCES.get(scheme)
    if source is None:
        schemes = [f"{k}:" for k in SOURCES]
        raise ModelSourceError(f"unknown model source {scheme!r} in {ref!r}; use {', '.join(schemes[:-1])} "
                               f"or {schemes[-1]}")
    size = tuple(input_size) if input_size is not None else ((3, 32, 32) if cifar_stem else None)
    if size is not None and source.sized is not None:
        model = source.sized(name, num_classes, size, cifar_stem and source.cifar_stem)
        if model is not None:
            return model
    model = source.build(name, num_classes)
    if cifar_stem and source.cifar_stem:
        model = to_cifar_stem(model)
    return model


def to_cifar_stem(model: nn.Module) -> nn.Module:
    """Replace a stride-2 7×7 stem and its max-pool by a stride-1 3×3 conv, as CIFAR ResNets do."""
    conv = getattr(model, "conv1", None)
    if isinstance(conv, nn.Conv2d) and conv.kernel_size == (7, 7):
        model.conv1 = nn.Conv2d(conv.in_channels, conv.out_channels, 3, 1, 1, bias=conv.bias is not None)
        if hasattr(model, "maxpool"):
            model.maxpool = nn.Identity()
        return model
    raise ModelSourceError(f"--cifar-stem supports models with a 7x7 'conv1' stem (ResNet family) and timm "
                           f"models that take img_size (ViT, DeiT, Swin, ...), not {type(model).__name__}")


def is_onnx_path(ref: str) -> bool:
    return ref.endswith(".onnx") or (Path(ref).suffix == ".onnx")
