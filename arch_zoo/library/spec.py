"""The library spec and what draws it: :class:`LibrarySpec`, :class:`LibraryConfig`, the :data:`FAMILIES`
registry, the :data:`LIBRARY_STREAMS` and :func:`sample_library` (see :mod:`arch_zoo.library`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ..generator import _Draw
from .byob import TIMM_BYOBNET
from .convnets import TIMM_CONVNEXT, TIMM_DENSENET, TIMM_REGNET, TIMM_RESNET, TIMM_RESNET_VARIANT
from .csp import TIMM_CSPNET
from .draw import Family
from .lightweight import TIMM_GHOSTNET, TIMM_REXNET
from .mobile import TIMM_EFFICIENTNET, TIMM_MOBILENETV3, TV_MOBILENETV3, TV_SHUFFLENET
from .multipath import TIMM_DLA, TIMM_DPN
from .transformers import TIMM_METAFORMER, TIMM_MIXER, TIMM_SWIN, TIMM_VIT

__all__ = ["LibrarySpec", "LibraryConfig", "FAMILIES", "LIBRARY_STREAMS", "sample_library", "count_params"]


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


# ----------------------------------------------------------------------------------------------- spec


@dataclass(frozen=True)
class LibrarySpec:
    """A library-built net: ``family`` (a key of :data:`FAMILIES`) and ``args``, the canonical JSON of
    the drawn hyper-parameters its builder passes to the library constructor. Frozen, picklable, plain data."""

    family: str
    args: str

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown library family {self.family!r}; known: {', '.join(FAMILIES)}")
        try:
            parsed = json.loads(self.args)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"args must be a JSON object, got {self.args!r}") from exc
        if not isinstance(parsed, dict) or _canon(parsed) != self.args:
            raise ValueError("args must be canonical JSON of an object (use LibrarySpec.make)")

    @classmethod
    def make(cls, family: str, **args: Any) -> "LibrarySpec":
        return cls(family, _canon(args))

    @property
    def kwargs(self) -> dict:
        """The drawn hyper-parameters (a fresh dict)."""
        return json.loads(self.args)

    @property
    def source(self) -> str:
        """``timm`` or ``torchvision``."""
        return FAMILIES[self.family].source

    def to_json(self) -> str:
        return _canon({"family": self.family, "args": self.kwargs})

    @classmethod
    def from_json(cls, text: str) -> "LibrarySpec":
        obj = json.loads(text)
        return cls.make(obj["family"], **obj["args"])

    @property
    def hash(self) -> str:
        """Stable 16-hex-digit id: sha1 of the canonical JSON (as ``ArchSpec.hash``)."""
        return hashlib.sha1(self.to_json().encode()).hexdigest()[:16]

    def build(self, num_classes: int = 10):
        """A freshly initialised ``nn.Module`` for ``(B, 3, 32, 32)`` inputs giving ``(B, num_classes)``."""
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return FAMILIES[self.family].build(self.kwargs, num_classes)

    def describe(self) -> str:
        """One line: the family and its drawn hyper-parameters."""
        parts = []
        for k, v in self.kwargs.items():
            if isinstance(v, list) and v and isinstance(v[0], list):
                v = "|".join(",".join(map(str, s)) for s in v)
            elif isinstance(v, list):
                v = "-".join(map(str, v))
            parts.append(f"{k}={v}")
        return f"{self.family}: " + " ".join(parts)

    def __repr__(self) -> str:
        return f"LibrarySpec({self.describe()})"


def count_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------------------------- config


@dataclass(frozen=True)
class LibraryConfig:
    """What ``sample_library`` draws from.

    ``depth``: quantile range of every family's depth range (0: its shallowest, 1: its deepest, above 1
    extrapolates linearly); depth is uniform in it. ``max_params``: widths whose rough estimate exceeds it
    are not drawn (the estimate is within about 20 % of the real count). ``skew`` >= 1 pushes widths to the
    narrow end, as in :class:`arch_zoo.generator.GeneratorConfig`. ``native``: the probability that a drawn
    net keeps its library's native (ImageNet) stem and patching instead of the 32x32 adaptation (families
    without a native form, ``Family.native is None``, are always adapted); drawn after everything else and
    only when positive, so a config with ``native=0`` draws exactly what it drew before the option existed.
    """

    families: tuple[tuple[str, float], ...] = (
        ("timm_resnet", 0.22),
        ("timm_efficientnet", 0.14),
        ("timm_mobilenetv3", 0.07),
        ("timm_convnext", 0.10),
        ("timm_vit", 0.12),
        ("timm_mixer", 0.06),
        ("timm_metaformer", 0.06),
        ("timm_regnet", 0.08),
        ("timm_densenet", 0.05),
        ("tv_shufflenet", 0.05),
        ("tv_mobilenetv3", 0.05),
        # added later, about 28 % of the draws together: adding them changed which family each seed draws
        ("timm_byobnet", 0.08),
        ("timm_cspnet", 0.04),
        ("timm_ghostnet", 0.05),
        ("timm_swin", 0.06),
        ("timm_dla", 0.04),
        ("timm_resnet_variant", 0.05),
        ("timm_rexnet", 0.03),
        ("timm_dpn", 0.03),
    )
    depth: tuple[float, float] = (0.0, 1.0)
    max_params: int = 25_000_000
    skew: int = 2
    native: float = 0.0

    def __post_init__(self) -> None:
        for name, w in self.families:
            if name not in FAMILIES:
                raise ValueError(f"families: unknown library family {name!r}")
            if w < 0:
                raise ValueError("families: negative weight")
        lo, hi = self.depth
        if not 0 <= lo <= hi:
            raise ValueError(f"depth: need 0 <= low <= high, got {self.depth}")
        if self.skew < 1 or self.max_params < 100_000:
            raise ValueError("skew must be >= 1 and max_params >= 100k")
        if not 0 <= self.native <= 1:
            raise ValueError(f"native: need a probability in [0, 1], got {self.native}")


def sample_library(seed: int, key: str = "library", config: LibraryConfig | None = None) -> LibrarySpec:
    """The library net number ``seed`` of the keyed sequence ``key`` (config: ``LIBRARY_STREAMS['library']``)."""
    config = config or LIBRARY_STREAMS["library"]
    draw = _Draw(f"arch_zoo.library:{key}:{int(seed)}")
    family = draw.weighted(config.families)
    args = FAMILIES[family].sample(draw, config)
    # drawn last and only when asked for: native=0 configs (every stream before it) keep their draws and hashes
    to_native = FAMILIES[family].native
    if config.native and to_native is not None and draw.chance(config.native):
        args = to_native(args)
    return LibrarySpec.make(family, **args)


# ------------------------------------------------------------------------------------------- registry


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (TIMM_RESNET, TIMM_EFFICIENTNET, TIMM_MOBILENETV3, TIMM_CONVNEXT, TIMM_VIT, TIMM_MIXER, TIMM_METAFORMER,
              TIMM_REGNET, TIMM_DENSENET, TV_SHUFFLENET, TV_MOBILENETV3, TIMM_BYOBNET, TIMM_CSPNET, TIMM_GHOSTNET,
              TIMM_SWIN, TIMM_DLA, TIMM_RESNET_VARIANT, TIMM_REXNET, TIMM_DPN)
}
"""Library family name -> how to draw and build it (:mod:`.convnets`, :mod:`.mobile`, :mod:`.transformers`,
:mod:`.byob`, :mod:`.csp`, :mod:`.lightweight`, :mod:`.multipath`)."""


LIBRARY_STREAMS: dict[str, LibraryConfig] = {
    "library": LibraryConfig(),
    "library_shallow": LibraryConfig(depth=(0.0, 0.35)),
    "library_deep": LibraryConfig(depth=(0.5, 1.6)),
    "library_native": LibraryConfig(native=1.0),
}
"""Training streams of library nets (``arch_zoo.train_stream(stream=...)``): ``library``, every family over
its whole depth range (ResNets of 4-24 blocks: ResNet-50 has 16); ``library_shallow``, the first 35 % of
each range (a curriculum's first stage); ``library_deep``, from mid-range to 1.6x the deepest (ResNets of
14-36 blocks, ResNet-101 has 33; ViTs of 7-17 layers); ``library_native``, the ``library`` distribution with
every net in its native form (ImageNet stems and 16-pixel patches run at 32x32, as users often do: convnets
end on a 1x1 map, or 2x2 where the stage strides are drawn, ViTs see 4 tokens)."""
