"""Where models come from on the command line: ``timm:NAME``, ``torchvision:NAME``, ``zoo:SEED``,
``real:NAME`` (arch_zoo's adapted real families), ``python:MODULE:ATTR`` (user code) or a path to an ``.onnx``
file; :func:`create_model` builds the model a reference names."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch.nn as nn

from graphparam.errors import ClassCountError, ModelSourceError, first_line
from graphparam.pretrained_cfg import DEFAULT_CFG

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
        if cifar_stem and "patch_size" in str(exc):  # its entry point fixes the patch (e.g. MLP-Mixer)
            model = _repatched(name, kwargs)
            if model is not None:
                return model
        if cifar_stem:
            raise ModelSourceError(f"--cifar-stem: timm model {name!r} cannot be built with "
                                   f"{', '.join(f'{k}={v}' for k, v in kwargs.items())}: {first_line(exc)}") from exc
        return None


def _repatched(name: str, kwargs: dict) -> nn.Module | None:
    """A timm model whose entry point fixes its patch size P, with ``CIFAR_PATCH`` pixel patches all the
    same: built for an image P / CIFAR_PATCH times larger (the token grid ``img_size`` and
    ``patch_size=CIFAR_PATCH`` would give), then given a patch embedding convolution of CIFAR_PATCH
    pixels. None where the model has no timm-style patch embedding (:func:`_patch_embed`)."""
    import timm

    rest = {k: v for k, v in kwargs.items() if k != "patch_size"}
    h, w = (rest["img_size"],) * 2 if isinstance(rest["img_size"], int) else rest["img_size"]
    try:
        probe = timm.create_model(name, pretrained=False, **rest)
    except TypeError:
        return None
    found = _patch_embed(probe)
    if found is None or found[1].patch_size[0] % CIFAR_PATCH:
        return None
    scale = found[1].patch_size[0] // CIFAR_PATCH
    model = timm.create_model(name, pretrained=False, **{**rest, "img_size": (h * scale, w * scale)})
    embed = model.get_submodule(found[0])
    proj = embed.proj
    embed.proj = nn.Conv2d(proj.in_channels, proj.out_channels, CIFAR_PATCH, CIFAR_PATCH, bias=proj.bias is not None)
    embed.patch_size, embed.img_size = (CIFAR_PATCH, CIFAR_PATCH), (h, w)
    return model


def _patch_embed(model: nn.Module) -> tuple[str, nn.Module] | None:
    """(name, module) of the first timm-style patch embedding: a ``proj`` convolution with
    ``patch_size`` and ``img_size`` attributes (``patch_embed`` of a ViT, ``stem`` of an MLP-Mixer)."""
    for name, mod in model.named_modules():
        if isinstance(getattr(mod, "proj", None), nn.Conv2d) and getattr(mod, "patch_size", None) \
                and getattr(mod, "img_size", None):
            return name, mod
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


def _python(name: str, num_classes: int | None) -> nn.Module:
    """User code: ``MODULE:ATTR`` (an importable module, the working directory included) or ``FILE.py:ATTR``,
    where ATTR (dotted for nested names) is an ``nn.Module`` class or factory, called with
    ``num_classes=N`` when a class count is given and it takes one (else with no arguments: the model keeps
    its own head), or a module instance."""
    target, _, attr = name.rpartition(":")
    if not target or not attr:
        raise ModelSourceError(f"python: reference {name!r} must look like MODULE:ATTR or FILE.py:ATTR")
    module = _import_user_module(target)
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ModelSourceError(f"{target} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if isinstance(obj, nn.Module):
        return obj
    if not callable(obj):
        raise ModelSourceError(f"{target}:{attr} is a {type(obj).__name__}, not an nn.Module, class or factory")
    kwargs = {} if num_classes is None or not _accepts(obj, "num_classes") else {"num_classes": num_classes}
    try:
        model = obj(**kwargs)
    except TypeError as exc:
        raise ModelSourceError(f"cannot call {target}:{attr}({', '.join(f'{k}={v}' for k, v in kwargs.items())}): "
                               f"{first_line(exc)}") from exc
    if not isinstance(model, nn.Module):
        raise ModelSourceError(f"{target}:{attr} returned a {type(model).__name__}, not an nn.Module")
    return model


def _import_user_module(target: str):
    """The module a ``python:`` reference names: a ``.py`` file by path, else an importable dotted name
    (found from the working directory too, as ``python -m`` would)."""
    try:
        if target.endswith(".py"):
            path = Path(target)
            if not path.is_file():
                raise ModelSourceError(f"no such Python file: {target}")
            spec = importlib.util.spec_from_file_location(f"graphparam_user_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
        return importlib.import_module(target)
    except ModelSourceError:
        raise
    except ModuleNotFoundError as exc:
        raise ModelSourceError(f"cannot import {target!r}: {first_line(exc)}") from exc
    except Exception as exc:  # the user's code failed to run: say where, in one line
        raise ModelSourceError(f"{target} failed to import: {first_line(exc)}") from exc


def _accepts(fn, keyword: str) -> bool:
    """Whether ``fn`` takes ``keyword`` (or ``**kwargs``); True where its signature cannot be read."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == keyword or p.kind is p.VAR_KEYWORD for p in params)


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
    "python": Source(_python, example="MODULE:ATTR"),
}


def create_model(ref: str, *, num_classes: int | None = None, cifar_stem: bool = False,
                 input_size: Sequence[int] | None = None) -> nn.Module:
    """Build the ``nn.Module`` a reference (``"timm:resnet18"``, ...) names, with fresh (default)
    initialization.

    ``input_size`` (C, H, W): timm models with a fixed input size (ViT, DeiT, Swin, ...) are built for
    it through ``img_size`` (without it, for their own size). ``cifar_stem`` adapts a model to 32x32
    (``DEFAULT_CFG.input_size`` when ``input_size`` is not given): ``img_size`` and 4-pixel patches for
    those timm models, else the first factor 4 of the early downsampling removed, found from the
    model's structure (:func:`to_cifar_stem`).
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
    size = tuple(input_size) if input_size is not None else (DEFAULT_CFG.input_size if cifar_stem else None)
    if size is not None and source.sized is not None:
        model = source.sized(name, num_classes, size, cifar_stem and source.cifar_stem)
        if model is not None:
            return model
    model = source.build(name, num_classes)
    if cifar_stem and source.cifar_stem:
        model = to_cifar_stem(model, size)
    return model


def load_model(ref: str, *, num_classes: int | None = None, cifar_stem: bool = False,
               input_size: Sequence[int] | None = None) -> nn.Module:
    """Deprecated alias of :func:`create_model` (kept for one release)."""
    warnings.warn("graphparam.load_model is deprecated; use graphparam.create_model", DeprecationWarning,
                  stacklevel=2)
    return create_model(ref, num_classes=num_classes, cifar_stem=cifar_stem, input_size=input_size)


def to_cifar_stem(model: nn.Module, input_size: Sequence[int] | None = None) -> nn.Module:
    """``model`` adapted to 32x32 inputs (``input_size``, default ``DEFAULT_CFG.input_size``): the first
    factor 4 of its spatial downsampling removed, found from its structure (a ResNet's 7x7/2 conv and
    max-pool become a 3x3/1 conv and nothing, a MobileNet's two first stride-2 layers stride 1, a
    ConvNeXt's 4x4/4 patchify conv a 3x3/1 conv, ...); see :mod:`graphparam.cifar_stem`.
    :class:`~graphparam.errors.CifarStemError` where it cannot."""
    from graphparam.cifar_stem import to_cifar_stem as adapt

    return adapt(model, input_size)


def is_onnx_path(ref: str) -> bool:
    return ref.endswith(".onnx") or (Path(ref).suffix == ".onnx")
