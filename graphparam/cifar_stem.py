"""A CIFAR stem for any convolutional network, found from the network's structure rather than its name.

A network designed for 224x224 images downsamples its input 32-fold, most of it early: a ResNet's
7x7/2 convolution and 3x3/2 max-pool, a ConvNeXt's 4x4/4 patchify convolution, a MobileNet's
3x3/2 stem convolution and its first stride-2 block. On a 32x32 image this leaves a 1x1 map
after the last stage. A *CIFAR stem* removes a factor 4 of that early downsampling, so the
last stage sees 4x4 (as CIFAR ResNets do with their 3x3 stride-1 stem and no max-pool).

How it is found (:func:`find_downsamplers`): the model runs once on a probe image with forward
hooks on its leaf modules; every strided convolution or pooling whose output is smaller than its
input is a *downsampler*, with its *level*: the log2 of the downsampling before it. Parallel
branches (a strided block and its strided shortcut) share a level, so they are adapted together.

How it is adapted (:func:`to_cifar_stem`): every downsampler below level 2 keeps only the part
of its stride that lies beyond the first factor 4 of the network's downsampling (stride 2 at
level 0 or 1 -> 1; stride 4 at level 0 -> 1, at level 1 -> 2). A convolution that becomes
stride 1 keeps its kernel with "same" padding, except a patchify convolution (kernel = stride), a
large-kernel stem convolution (one that reads the image, kernel > 3) and an even kernel, which
become 3x3 with padding 1, as the ResNet-CIFAR stem is. Replaced convolutions are new
``nn.Conv2d`` (or the same conv class for weight-standardized ones) with the same channels,
groups and bias; a pooling that becomes stride 1 is replaced by ``nn.Identity``. The adapted
model is then run on the target input to check that it runs and that its deepest feature map
grew by the factor removed; anything else gives :class:`~graphparam.errors.CifarStemError`, one line.

Models with a fixed input size built through ``img_size`` (ViT, DeiT, Swin, Mixer) are adapted
by :mod:`graphparam.sources` with a smaller patch instead; a model that only runs at its own
size fails the check above with a message that says so.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn as nn

from graphparam.errors import CifarStemError, first_line
from graphparam.pretrained_cfg import resolve_input_size

__all__ = ["Downsampler", "find_downsamplers", "to_cifar_stem", "plan", "CIFAR_FACTOR", "PROBE_SIZES"]

#: the downsampling a CIFAR stem removes: 224 -> 32 is 7x, and a factor 4 leaves a 4x4 last stage
CIFAR_FACTOR = 4
#: probe resolutions tried in turn (the first the model runs on): large enough that a 32x network's
#: early levels are exact, small enough to be quick on a CPU
PROBE_SIZES = (128, 224, 256, 64, 32)

_POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.LPPool2d)


@dataclass(frozen=True)
class Downsampler:
    """A leaf module that reduces the spatial resolution, as seen on the probe image.

    ``kind``: ``conv`` (an ``nn.Conv2d``), ``pool`` (max / average pooling), ``strided`` (another
    module with a ``stride`` attribute, e.g. timm's BlurPool2d) or ``unknown`` (a module that
    shrinks its input without a stride this module knows how to change). ``level``: log2 of the
    downsampling of its input relative to the probe image; ``stride``: its downsampling factor.
    """

    name: str
    kind: str
    stride: int
    level: int
    in_size: tuple[int, int]
    out_size: tuple[int, int]

    @property
    def out_level(self) -> int:
        return self.level + _log2(self.stride)


def _log2(x: float) -> int:
    return int(round(math.log2(x))) if x > 0 else 0


def _cannot(cls: str) -> str:
    return f"cannot give {cls} a CIFAR stem (--cifar-stem)"


def _square(value, what: str, name: str, cls: str) -> int:
    if isinstance(value, int):
        return value
    value = tuple(value)
    if len(set(value)) != 1:
        raise CifarStemError(f"{_cannot(cls)}: {what} {value} of {name!r} is not square")
    return int(value[0])


def _names(model: nn.Module) -> dict[int, list[str]]:
    """``id(module)`` -> every name it is registered under (shared modules have several)."""
    names: dict[int, list[str]] = {}
    for name, mod in model.named_modules(remove_duplicate=False):
        names.setdefault(id(mod), []).append(name)
    return names


def _record(model: nn.Module, x: torch.Tensor) -> list[tuple[nn.Module, tuple[int, ...], tuple[int, ...]]]:
    """Run ``model(x)`` in eval mode without gradients; every leaf call with a 4-d input and output,
    in execution order, as (module, input shape, output shape)."""
    calls = []

    def hook(mod, args, out):
        inp = args[0] if args else None
        if isinstance(inp, torch.Tensor) and isinstance(out, torch.Tensor) and inp.ndim == 4 and out.ndim == 4:
            calls.append((mod, tuple(inp.shape), tuple(out.shape)))

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(hook) for m in leaves]
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        for m, training in modes:
            m.training = training
    return calls


def _probe(model: nn.Module, channels: int, cls: str) -> tuple[int, list]:
    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    errors = []
    for size in PROBE_SIZES:
        x = torch.randn(1, channels, size, size, generator=torch.Generator().manual_seed(0)).to(device, dtype)
        try:
            return size, _record(model, x)
        except Exception as exc:  # noqa: BLE001 - any failure: try the next size, report them all
            errors.append(f"{size}x{size}: {first_line(exc, limit=120)}")
    raise CifarStemError(f"{_cannot(cls)}: it does not run on a {channels}-channel probe image "
                         f"({'; '.join(errors[:2])})")


def _scan(model: nn.Module, channels: int) -> tuple[int, list, list[Downsampler]]:
    """(probe size, the 4-d leaf calls of the probe run, the downsamplers among them)."""
    cls = type(model).__name__
    size, calls = _probe(model, channels, cls)
    names = _names(model)
    found: list[Downsampler] = []
    seen: set[int] = set()
    for mod, inp, out in calls:
        (hi, wi), (ho, wo) = inp[2:], out[2:]
        if not (ho < hi and wo < wi) or id(mod) in seen:
            continue
        name, stride = names[id(mod)][0], getattr(mod, "stride", None)
        if isinstance(mod, nn.Conv2d):
            kind = "conv"
        elif isinstance(mod, _POOLS):
            kind = "pool"
        elif isinstance(stride, (int, tuple, list)) and not isinstance(stride, bool):
            kind = "strided"
        else:
            kind, stride = "unknown", 1
        stride = _square(stride, "stride", name, cls)
        if stride <= 1:
            if ho == 1 and wo == 1 or hi < 1.5 * ho:
                continue  # a global pooling (squeeze-excite, the head) or a trim (32 -> 30), not a downsampling
            kind, stride = "unknown", max(2, round(hi / ho))
        seen.add(id(mod))
        found.append(Downsampler(name, kind, stride, _log2(size / hi), (hi, wi), (ho, wo)))
    return size, calls, found


def find_downsamplers(model: nn.Module, channels: int = 3) -> tuple[int, list[Downsampler]]:
    """``(probe size, downsamplers in execution order)``: the leaf modules that reduce the spatial
    resolution of a ``channels x S x S`` probe image (S: the first of :data:`PROBE_SIZES` the model
    runs on). Global poolings (a 1x1 output from a non-strided module) are not downsamplers."""
    size, _, found = _scan(model, channels)
    return size, found


def plan(downsamplers: Sequence[Downsampler], factor: int = CIFAR_FACTOR) -> dict[str, int]:
    """Name -> new stride of each downsampler whose stride changes when the first ``factor`` of the
    downsampling is removed (levels below ``log2(factor)``)."""
    remove = _log2(factor)
    new = {}
    for d in downsamplers:
        if d.level >= remove:
            continue
        if 2 ** _log2(d.stride) != d.stride:
            new[d.name] = -1  # not a power of two: cannot be split
            continue
        keep = max(0, d.out_level - remove)  # what lies beyond the first `factor`
        new[d.name] = 2 ** keep
    return new


def _padding(mod: nn.Module) -> tuple[int, int] | None:
    pad = getattr(mod, "padding", 0)
    if isinstance(pad, str):
        return (0, 0) if pad == "valid" else None
    return (pad, pad) if isinstance(pad, int) else tuple(pad)


def _new_conv(conv: nn.Conv2d, stride: int, stem: bool, cls: str, name: str) -> nn.Conv2d:
    k, d = tuple(conv.kernel_size), tuple(conv.dilation)
    pad = _padding(conv)
    patchify = k == tuple(conv.stride) and pad == (0, 0)
    if stride == 1:
        if patchify or (stem and max(k) > 3) or any(kk % 2 == 0 for kk in k):
            k, pad, d = (3, 3), (1, 1), (1, 1)
        else:
            pad = tuple(di * (ki - 1) // 2 for ki, di in zip(k, d))
    elif patchify:
        k = (stride, stride)
    # timm's "same" convolutions pad in forward, by their stride: stride 1 pads statically like any
    # other (a plain nn.Conv2d for Conv2dSame); a remaining stride keeps the class and its rule
    same = type(conv).__name__ == "Conv2dSame"
    plain = type(conv) is nn.Conv2d or (same and stride == 1)
    kwargs = dict(stride=stride, padding=pad, dilation=d, groups=conv.groups, bias=conv.bias is not None)
    if stride > 1 and (same or getattr(conv, "same_pad", False)):
        kwargs["padding"] = 0 if same else "same"
    try:
        new = (nn.Conv2d if plain else type(conv))(conv.in_channels, conv.out_channels, k, **kwargs)
    except (TypeError, ValueError) as exc:
        raise CifarStemError(f"{_cannot(cls)}: cannot rebuild {type(conv).__name__} {name!r} with stride {stride}: "
                             f"{first_line(exc)}") from exc
    if plain and conv.padding_mode != "zeros":
        new.padding_mode = conv.padding_mode
    return new.to(device=conv.weight.device, dtype=conv.weight.dtype)


def _new_pool(pool: nn.Module, stride: int, cls: str, name: str) -> nn.Module:
    if stride == 1:
        return nn.Identity()
    if not isinstance(pool, _POOLS):
        raise CifarStemError(f"{_cannot(cls)}: {type(pool).__name__} {name!r} would need stride {stride}, and "
                             "only convolutions and poolings can be re-strided")
    new = copy.deepcopy(pool)
    k = _square(pool.kernel_size, "kernel", name, cls)
    if k == _square(pool.stride, "stride", name, cls) and _padding(pool) in ((0, 0), None):
        new.kernel_size = stride
    new.stride = stride
    return new


def _replace(model: nn.Module, names: list[str], new: nn.Module) -> None:
    for name in names:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, new)


def _deepest(calls, min_size: int = 2) -> int | None:
    """The smallest spatial side of a convolution output with at least ``min_size`` pixels a side."""
    sizes = [min(out[2:]) for mod, _, out in calls if isinstance(mod, nn.Conv2d) and min(out[2:]) >= min_size]
    return min(sizes) if sizes else None


def to_cifar_stem(model: nn.Module, input_size: Sequence[int] | None = None,
                  factor: int = CIFAR_FACTOR) -> nn.Module:
    """``model`` with the first ``factor`` of its spatial downsampling removed (see the module
    docstring), changed in place and returned; :class:`CifarStemError` (one line, the model left
    as it was) where the rule does not apply. ``input_size``: the (C, H, W) the adapted model must
    run on (default: ``DEFAULT_CFG.input_size``, the shipped GHNs' CIFAR-10 images)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"to_cifar_stem expects a torch.nn.Module, got {type(model).__name__}")
    input_size = resolve_input_size(input_size)
    cls = type(model).__name__
    channels = int(input_size[0])
    size, calls, downs = _scan(model, channels)
    total = max((d.out_level for d in downs), default=0)
    if total <= _log2(factor) + 1:
        raise CifarStemError(f"{_cannot(cls)}: it downsamples a {size}x{size} image only {2 ** total}x in all, "
                             f"so it looks built for small images already (a CIFAR stem removes {factor}x of the "
                             "early downsampling of 32x networks)")
    new_strides = plan(downs, factor)
    by_name = {d.name: d for d in downs}
    for name, stride in new_strides.items():
        d = by_name[name]
        if d.kind == "unknown" or stride < 1:
            raise CifarStemError(f"{_cannot(cls)}: {name!r} ({type(model.get_submodule(name)).__name__}) "
                                 f"reduces the resolution {d.in_size[0]}->{d.out_size[0]} but is not a convolution "
                                 "or pooling with a power-of-two stride this rule can change")
    names, undo = _names(model), []
    try:
        for name, stride in new_strides.items():
            d, mod = by_name[name], model.get_submodule(name)
            if stride == d.stride:
                continue
            if d.kind == "conv":
                stem = d.level == 0 and mod.in_channels == channels  # a convolution reading the image
                new = _new_conv(mod, stride, stem, cls, name)
            else:
                new = _new_pool(mod, stride, cls, name)
            _replace(model, names[id(mod)], new)
            undo.append((names[id(mod)], mod))
        _check(model, input_size, factor, size, calls, cls)
    except CifarStemError:
        for where, mod in reversed(undo):  # leave the model as it was
            _replace(model, where, mod)
        raise
    return model


def _check(model: nn.Module, input_size: Sequence[int], factor: int, size: int, calls: list, cls: str) -> None:
    """The adapted ``model`` runs on ``input_size``, and its deepest map grew by ``factor`` (relative to
    the original's ``calls`` on the ``size`` probe)."""
    param = next(iter(model.parameters()), None)
    x = torch.randn(1, *input_size, generator=torch.Generator().manual_seed(0))
    if param is not None:
        x = x.to(param.device, param.dtype if param.is_floating_point() else torch.float32)
    try:
        after = _record(model, x)
    except Exception as exc:  # noqa: BLE001
        hint = (" (a model with a fixed input size: build it for the size, e.g. create_model('timm:NAME', "
                "cifar_stem=True) passes img_size)" if hasattr(model, "patch_embed") or hasattr(model, "pos_embed")
                else "")
        raise CifarStemError(f"{_cannot(cls)}: after removing {factor}x of its early downsampling "
                             f"it does not run on {tuple(input_size)}: {first_line(exc, limit=160)}{hint}") from exc
    before, now = _deepest(calls), _deepest(after)
    if before is not None and now is not None:
        expected = before * factor * int(input_size[1]) / size
        if expected >= 2 and _log2(now / expected) != 0:
            raise CifarStemError(f"{_cannot(cls)}: its deepest feature map is {now}x{now} on "
                                 f"{tuple(input_size)} instead of about {expected:g}x{expected:g}; it downsamples "
                                 "outside modules (e.g. functional pooling), which this rule cannot change")
