"""Where models come from on the command line: ``timm:NAME``, ``torchvision:NAME``, ``zoo:SEED``,
``real:NAME`` (arch_zoo's adapted real families) or a path to an ``.onnx`` file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch.nn as nn

from graphparam.errors import ClassCountError, ModelSourceError


def check_num_classes(num_classes: int | None) -> int | None:
    """``num_classes`` itself if it is None or at least 1; else :class:`ClassCountError`.

    Without this, 0 silently became 10 for zoo nets, and timm wrote a headless model for 0 and
    failed deep inside torch for -1.
    """
    if num_classes is not None and (isinstance(num_classes, bool) or int(num_classes) != num_classes
                                    or num_classes < 1):
        raise ClassCountError(f"the number of classes must be a positive integer, got {num_classes!r}")
    return num_classes


def _timm(name: str, num_classes: int | None) -> nn.Module:
    import timm

    if not timm.is_model(name):
        close = timm.list_models(f"*{name[:6]}*")[:5]
        raise ModelSourceError(f"unknown timm model {name!r}" + (f"; similar: {', '.join(close)}" if close else ""))
    return timm.create_model(name, pretrained=False, **({} if num_classes is None else {"num_classes": num_classes}))


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
    ``cifar_stem``: whether ``--cifar-stem`` applies (the zoo's nets are CIFAR-sized already)."""

    build: Callable[[str, int | None], nn.Module]
    cifar_stem: bool = True
    example: str = "NAME"


#: scheme → source, one row each
SOURCES: dict[str, Source] = {
    "timm": Source(_timm),
    "torchvision": Source(_torchvision),
    "zoo": Source(_zoo, cifar_stem=False, example="SEED"),
    "real": Source(_real, cifar_stem=False),
}


def load_model(ref: str, *, num_classes: int | None = None, cifar_stem: bool = False) -> nn.Module:
    """Build the ``nn.Module`` a reference names, with fresh (default) initialization."""
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
    raise ModelSourceError(f"--cifar-stem supports models with a 7x7 'conv1' stem (ResNet family), "
                           f"not {type(model).__name__}")


def is_onnx_path(ref: str) -> bool:
    return ref.endswith(".onnx") or (Path(ref).suffix == ".onnx")
