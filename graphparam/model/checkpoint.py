"""Saving and loading GHNs: a directory with ``model.safetensors`` and ``config.json``. No pickle.

``config.json`` (format version 2)::

    {"format_version": 2,
     "config": {...GHNConfig fields that shape the model (no runtime memory knobs)...},
     "vocab": {"kinds": [...], "roles": [...], "transforms": [...], "features": "node-v1/117"},
     "pretrained_cfg": {"input_size": [C, H, W], "mean": [...], "std": [...], "num_classes": 10, ...},
     "num_parameters": 1234567, "graphparam_version": "0.1.0"}

The vocabulary names every embedding row, so a registry that gains kinds still loads the
checkpoint (:mod:`graphparam.model.vocab`). ``pretrained_cfg`` says what the GHN was trained on
(inputs, normalization, training run), apart from the model's arguments, as timm keeps
``pretrained_cfg`` apart from a model's kwargs; it is read into a
:class:`~graphparam.pretrained_cfg.PretrainedCfg` (``ghn.pretrained_cfg``). Config fields of removed
options are dropped when they hold the value this code always uses
(:data:`graphparam.model.config.REMOVED_FIELDS`);
format version 1 (no vocabulary; the removed low-rank decoder) is no longer read.

Loading never calls ``torch.load``: tensors are read with :mod:`safetensors` only, so a file that
is not a safetensors file (e.g. a pickle renamed to ``model.safetensors``) is refused with a
:class:`CheckpointError` and never executed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import torch

from graphparam.errors import CheckpointError
from graphparam.model.config import RUNTIME_FIELDS, ConfigError, GHNConfig
from graphparam.model.vocab import Vocab, VocabError
from graphparam.pretrained_cfg import PretrainedCfg

if TYPE_CHECKING:
    from graphparam.model.ghn import GHN

FORMAT_VERSION = 2
READABLE_VERSIONS = (2,)
WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
_CHECKPOINT_ROOT = Path(__file__).resolve().parent.parent / "checkpoints"
#: every GHN shipped in the package: registered name -> its checkpoint directory (no aliases today;
#: an alias would be one more row naming the same directory)
PRETRAINED: dict[str, Path] = {"cifar10": _CHECKPOINT_ROOT / "cifar10"}


def list_pretrained() -> list[str]:
    """The names of the GHNs shipped in the package (``load_ghn(name)`` loads one), sorted."""
    return sorted(PRETRAINED)


def resolve(name_or_path: str | Path) -> Path:
    """A registered name (see ``PRETRAINED``) or a directory path → the checkpoint directory."""
    path = Path(name_or_path)
    if not path.exists() and isinstance(name_or_path, str) and name_or_path in PRETRAINED:
        path = PRETRAINED[name_or_path]
        if not (path / WEIGHTS_NAME).is_file():
            raise CheckpointError(f"the pretrained GHN {name_or_path!r} is not shipped with this installation "
                                  f"(expected {path / WEIGHTS_NAME}); train one with graphparam's training "
                                  "loop and load it by its directory")
        return path
    if not path.exists():
        known = ", ".join(sorted(PRETRAINED))
        raise CheckpointError(f"no GHN checkpoint at {str(name_or_path)!r} (not a directory, and not one of the "
                              f"registered names: {known})")
    if path.is_file():
        raise CheckpointError(f"{path} is a file; a GHN checkpoint is a directory with {WEIGHTS_NAME} and {CONFIG_NAME}")
    return path


def save(ghn: "GHN", path: str | Path, pretrained_cfg: PretrainedCfg | Mapping[str, Any] | None = None) -> Path:
    """Write ``path/model.safetensors`` and ``path/config.json``; ``pretrained_cfg`` (a
    :class:`PretrainedCfg` or its JSON dict) defaults to the GHN's own."""
    from safetensors.torch import save_file

    from graphparam import __version__

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in ghn.state_dict().items()}
    save_file(state, str(path / WEIGHTS_NAME), metadata={"format_version": str(FORMAT_VERSION)})
    config = {k: v for k, v in ghn.config.to_dict().items() if k not in RUNTIME_FIELDS}
    meta = {"format_version": FORMAT_VERSION, "config": config, "vocab": ghn.vocab.to_dict(),
            "pretrained_cfg": PretrainedCfg.from_dict(pretrained_cfg if pretrained_cfg is not None
                                                      else ghn.pretrained_cfg).to_dict(),
            "num_parameters": ghn.num_parameters(), "graphparam_version": __version__}
    (path / CONFIG_NAME).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return path


def read_config(path: Path) -> tuple[GHNConfig, dict]:
    """The checkpoint's GHNConfig and its whole ``config.json`` (with ``vocab`` as a :class:`Vocab`)."""
    cfg_file = path / CONFIG_NAME
    if not cfg_file.is_file():
        raise CheckpointError(f"{path} has no {CONFIG_NAME}")
    try:
        meta = json.loads(cfg_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{cfg_file} is not valid JSON: {exc}") from exc
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if version == 1:
        raise CheckpointError(f"{cfg_file}: format_version 1 checkpoints (the low-rank decoder, no saved vocabulary) "
                              "are no longer supported")
    if version not in READABLE_VERSIONS:
        raise CheckpointError(f"{cfg_file}: unsupported format_version {version if isinstance(meta, dict) else meta!r}"
                              f" (this graphparam reads format_version {', '.join(map(str, READABLE_VERSIONS))})")
    try:
        config = GHNConfig.from_dict(dict(meta.get("config", {})))
        meta["vocab"] = Vocab.from_dict(meta.get("vocab") or {})
        meta["vocab"].check_features()
    except (ConfigError, VocabError, TypeError) as exc:
        raise CheckpointError(f"{cfg_file}: invalid config: {exc}") from exc
    return config, meta


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    weights = path / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"{path} has no {WEIGHTS_NAME}")
    try:
        return load_file(str(weights), device="cpu")
    except Exception as exc:  # safetensors raises its own SafetensorError and OS errors
        raise CheckpointError(f"{weights} is not a valid safetensors file ({type(exc).__name__}: {exc}); "
                              "pickled checkpoints (torch.save) are refused and never unpickled") from exc


def load(name_or_path: str | Path, device: torch.device | str | None = None,
         config_overrides: Mapping[str, Any] | None = None) -> "GHN":
    from graphparam.model.ghn import GHN

    path = resolve(name_or_path)
    config, meta = read_config(path)
    if config_overrides:  # an unknown field is refused by from_dict, a changed shape by the checks below
        config = GHNConfig.from_dict({**config.to_dict(), **config_overrides})
    tensors = read_tensors(path)
    ghn = GHN(config, meta["vocab"])
    ghn.pretrained_cfg = PretrainedCfg.from_dict(meta.get("pretrained_cfg"))
    expected = ghn.state_dict()
    for key, ref in expected.items():
        if key not in tensors:
            raise CheckpointError(f"{path}: tensor {key!r} of shape {tuple(ref.shape)} required by config.json "
                                  f"is missing from {WEIGHTS_NAME}")
        if tuple(tensors[key].shape) != tuple(ref.shape):
            raise CheckpointError(f"{path}: tensor {key!r} has shape {tuple(tensors[key].shape)} in {WEIGHTS_NAME} "
                                  f"but config.json implies {tuple(ref.shape)}: config and weights do not match")
    extra = sorted(set(tensors) - set(expected))
    if extra:
        raise CheckpointError(f"{path}: {WEIGHTS_NAME} has tensor {extra[0]!r} that config.json does not define "
                              f"({len(extra)} unexpected in all): config and weights do not match")
    ghn.load_state_dict({k: tensors[k].to(expected[k].dtype) for k in expected}, strict=True)
    count = meta.get("num_parameters")
    if count is not None and count != ghn.num_parameters():
        raise CheckpointError(f"{path}: config.json says {count} parameters, the weights hold {ghn.num_parameters()}")
    if device is not None:
        ghn.to(device)
    return ghn.eval()
