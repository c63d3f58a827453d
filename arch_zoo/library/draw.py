"""What the library families share: the :class:`Family` record each one fills, and the draw helpers
(depth in a quantile range, blocks spread over stages, a width that fits the parameter cap, strides for
32x32 inputs, the native form's arguments) and build helpers (a fresh 3x3 stem convolution, timm
activations by name)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..generator import _Draw

if TYPE_CHECKING:
    from .spec import LibraryConfig

__all__ = ["Family"]


@dataclass(frozen=True)
class Family:
    """How one library family is drawn and built.

    ``sample(draw, config)`` draws the constructor arguments of the 32x32-adapted form; ``build(args,
    num_classes)`` calls the constructor and adapts the net to 32x32 unless ``args`` has ``native``.
    ``native(args)`` turns drawn arguments into those of the native form (the library's ImageNet stem and
    patching kept, ``native: true`` added); ``None`` where the family has no native form.
    """

    name: str
    source: str
    sample: Callable[[_Draw, LibraryConfig], dict]
    build: Callable[[dict, int], Any]
    depth: tuple[int, int]
    description: str
    native: Callable[[dict], dict] | None = None


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


def _native(args: dict) -> dict:
    """The native form's arguments: the drawn ones, marked ``native`` (the builder skips the 32x32 adaptation)."""
    return {**args, "native": True}


def _native_patch16(args: dict) -> dict:
    """The native form of a patch-embedding family: ``native`` and 16-pixel patches (timm's ImageNet default;
    at 32x32 the net sees 2x2 = 4 tokens)."""
    return {**args, "native": True, "patch_size": 16}


def _conv3x3(conv, stride: int = 1):
    """A fresh 3x3 convolution (padding 1) with ``conv``'s channels, groups and bias."""
    from torch import nn

    return nn.Conv2d(conv.in_channels, conv.out_channels, 3, stride, 1, groups=conv.groups,
                     bias=conv.bias is not None)


def _act(name: str):
    from timm.layers import get_act_layer

    return get_act_layer(name)
