"""What a GHN was trained on: the one home of the input size, class count, mean and std.

Like timm's ``pretrained_cfg``, every data default comes from here. A checkpoint stores it as JSON
(``config.json["pretrained_cfg"]``); :meth:`PretrainedCfg.from_dict` reads it back, so ``predict``,
``evaluate``, the command line and :class:`~graphparam.predict.GHNInitializer` default to the input
size the GHN was trained at, and a trainer writes the one its data gives (:meth:`PretrainedCfg.for_images`).

``ghn.pretrained_cfg`` is always a :class:`PretrainedCfg` (:data:`DEFAULT_CFG` for a GHN built fresh);
read its attributes (``ghn.pretrained_cfg.input_size``). Older callers that read it as the checkpoint's
JSON dict (``cfg["training"]``, ``cfg.get("training", {})``, ``dict(cfg)``) still work: see
:meth:`PretrainedCfg.get`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping, Sequence

from graphparam.data.augment import CIFAR10_MEAN, CIFAR10_STD

__all__ = ["PretrainedCfg", "DEFAULT_CFG", "cfg_of", "resolve_input_size"]


@dataclass(frozen=True)
class PretrainedCfg:
    """Input and label space of a GHN's training data; ``training`` is the run's lineage record."""

    input_size: tuple[int, int, int] = (3, 32, 32)
    num_classes: int = 10
    mean: tuple[float, ...] = CIFAR10_MEAN
    std: tuple[float, ...] = CIFAR10_STD
    dataset: str = "cifar10"
    batch_norm: str = "batch statistics (train mode)"
    training: dict[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_size", tuple(int(d) for d in self.input_size))
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))
        if len(self.input_size) != 3:
            raise ValueError(f"input_size must be (C, H, W), got {self.input_size}")

    @classmethod
    def from_dict(cls, data: "Mapping[str, Any] | PretrainedCfg | None") -> "PretrainedCfg":
        """From a checkpoint's JSON (unknown keys ignored, missing keys defaulted; ``None``: the default;
        a :class:`PretrainedCfg`: itself)."""
        if isinstance(data, PretrainedCfg):
            return data
        if not data:
            return cls()
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["input_size"], out["mean"], out["std"] = list(self.input_size), list(self.mean), list(self.std)
        if out["training"] is None:
            del out["training"]
        return out

    def for_images(self, shape: Sequence[int], num_classes: int, dataset: str,
                   mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> "PretrainedCfg":
        """This config for images of ``shape`` (C, H, W) with ``num_classes`` labels (what a trainer writes)."""
        changes: dict[str, Any] = {"input_size": tuple(shape), "num_classes": int(num_classes), "dataset": dataset}
        if mean is not None:
            changes["mean"] = tuple(mean)
        if std is not None:
            changes["std"] = tuple(std)
        return replace(self, **changes)

    # ---- read as the JSON dict, for older callers ------------------------------------------------
    # Before this class, ``ghn.pretrained_cfg`` was the checkpoint's JSON dict (or None). These three
    # methods keep code written against that dict working; new code reads the attributes.

    def get(self, key: str, default: Any = None) -> Any:
        """``self.to_dict().get(key, default)``: the value as the checkpoint's JSON has it (lists for
        tuples; ``training`` absent when None), for callers that read ``pretrained_cfg`` as a dict."""
        return self.to_dict().get(key, default)

    def __getitem__(self, key: str) -> Any:
        """``self.to_dict()[key]`` (``KeyError`` for a key the JSON does not have), for older callers."""
        return self.to_dict()[key]

    def keys(self):
        """The JSON dict's keys, so that ``dict(cfg)`` gives :meth:`to_dict` (for older callers)."""
        return self.to_dict().keys()


DEFAULT_CFG = PretrainedCfg()
"""CIFAR-10 at 32x32: what every shipped GHN was trained on, and the default of a GHN without a record."""


def cfg_of(ghn: Any = None) -> PretrainedCfg:
    """The :class:`PretrainedCfg` of ``ghn`` (a GHN, or anything with a ``pretrained_cfg``), else the default."""
    return PretrainedCfg.from_dict(getattr(ghn, "pretrained_cfg", None))


def resolve_input_size(input_size: Sequence[int] | None, ghn: Any = None) -> tuple[int, ...]:
    """``input_size`` if given, else the size ``ghn`` was trained at (the default config's without one)."""
    return tuple(int(d) for d in input_size) if input_size is not None else cfg_of(ghn).input_size
