"""``TrainConfig``: every setting of a meta-training run, its JSON form and its command-line flags."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

__all__ = ["TrainConfig", "parse_duration", "format_duration", "add_arguments", "from_args", "parse_args",
           "RESUME_KEYS"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([smh]?)")


def parse_duration(text: str | float | int) -> float:
    """Seconds in ``text``: ``"90"``/``"90s"``, ``"9m"``, ``"1.5h"``, ``"1h30m"``; numbers are seconds.

    Raises ``ValueError`` for anything else (empty, zero or negative, unknown or repeated unit, junk).
    """
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        s = str(text).strip().lower().replace(" ", "")
        tokens, pos = [], 0
        while pos < len(s):
            m = _PART.match(s, pos)
            if not m:
                raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 9m, 1.5h or 1h30m)")
            tokens.append((float(m.group(1)), m.group(2)))
            pos = m.end()
        if not tokens:
            raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 9m, 1.5h or 1h30m)")
        if len(tokens) > 1:
            order = [_ORDER.get(unit, -1) for _, unit in tokens]
            if -1 in order or any(a <= b for a, b in zip(order, order[1:])):
                raise ValueError(f"not a duration: {text!r} (parts must be h, m, s in that order, each once)")
        seconds = sum(value * _UNITS[unit or "s"] for value, unit in tokens)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"a duration must be positive and finite, got {text!r}")
    return seconds


_ORDER = {"h": 2, "m": 1, "s": 0}


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


@dataclass
class TrainConfig:
    """Settings of one meta-training run (see ``python -m graphparam.train --help``)."""

    # model
    ghn: str = "small"                         # GHNConfig preset name
    ghn_overrides: dict = dataclasses.field(default_factory=dict)  # GHNConfig fields to override
    init_from: str | None = None               # start from this GHN checkpoint (name or directory) instead
    # what one step sees
    meta_batch: int = 8                        # architectures per step (split across ranks)
    batch_size: int = 64                       # images per architecture per step
    max_params: int | None = None              # skip training nets with more parameters (None: keep all)
    arch_pool: int | None = None               # cycle over the first N train seeds (None: endless stream)
    max_output_std: float | None = None        # skip nets whose logits explode at default init (None: keep all)
    stream: str = "train"                      # arch_zoo training stream (arch_zoo.generator.STREAMS)
    shared_images: bool = False                # all M nets of a step see the same image batch
    # length
    steps: int | None = None                   # number of steps (None: run until the time budget)
    time_budget: float | None = None           # seconds of training (summed over resumes)
    # optimisation
    lr: float = 1e-3
    weight_decay: float = 1e-2
    warmup_steps: int = 50
    min_lr_ratio: float = 0.05                 # cosine decays to lr * min_lr_ratio
    grad_clip: float = 5.0                     # max global grad norm (0: off)
    param_penalty: float = 1e-4                # weight of the predicted-parameter norm penalty
    loss_cap: float = 0.0                      # per-net loss above this has its gradient scaled down (0: off)
    seed: int = 0
    # data and devices
    data: str | None = None                    # CIFAR-10 source (None: shared copy); "embedded": smoke tests only
    val_images: int = 1000                     # training images held out for validation (0: none)
    device: str = "auto"                       # auto, cpu, cuda, cuda:1, ...
    threads: int | None = None                 # torch.set_num_threads (None: leave as is)
    amp: bool = True                           # bf16 autocast on CUDA (ignored on CPU)
    # output
    out: str = "runs/train"
    checkpoint_minutes: float = 10.0           # checkpoint every this many minutes (0: only at exit)
    checkpoint_every: int = 0                  # ... and every this many steps (0: off)
    keep_checkpoints: int = 2
    eval_every: int = 100                      # validation every this many steps (0: off)
    val_nets: int = 16                         # first N nets of the 'val' split used for validation
    log_every: int = 1                         # metrics.jsonl line every this many steps
    export: str | None = None                  # also save the final GHN here
    cache_size: int = 256                      # LRU entries of built+traced architectures
    progress: bool = True
    resume: bool = True                        # continue from out/checkpoints when present

    def __post_init__(self) -> None:
        if self.meta_batch < 1:
            raise ValueError(f"meta_batch must be >= 1, got {self.meta_batch}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.steps is None and self.time_budget is None:
            raise ValueError("give steps or time_budget (or both)")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if isinstance(self.time_budget, str):
            self.time_budget = parse_duration(self.time_budget)
        if self.time_budget is not None and not self.time_budget > 0:
            raise ValueError(f"time_budget must be positive, got {self.time_budget}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.warmup_steps < 0 or self.checkpoint_every < 0 or self.eval_every < 0 or self.val_images < 0:
            raise ValueError("warmup_steps, checkpoint_every, eval_every and val_images must be >= 0")
        if self.keep_checkpoints < 1:
            raise ValueError("keep_checkpoints must be >= 1")
        if self.arch_pool is not None and self.arch_pool < 1:
            raise ValueError(f"arch_pool must be >= 1, got {self.arch_pool}")

    # ---- JSON -----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s): {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> "TrainConfig":
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            text = Path(text_or_path).read_text()
        return cls.from_dict(json.loads(text))

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


RESUME_KEYS = ("ghn", "ghn_overrides", "init_from", "meta_batch", "batch_size", "max_params", "arch_pool", "max_output_std", "stream",
               "shared_images", "lr",
               "weight_decay", "warmup_steps", "min_lr_ratio", "grad_clip", "param_penalty", "loss_cap", "seed",
               "data", "val_images")
"""Fields that define the training trajectory: a resumed run must use the checkpoint's values."""


def _optional_int(text: str) -> int | None:
    return None if text.lower() in ("none", "0", "") else int(text)


def _optional_float(text: str) -> float | None:
    return None if text.lower() in ("none", "0", "") else float(text)


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _json_dict(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add every training flag to ``p`` (shared by ``python -m graphparam.train`` and ``graphparam train``)."""
    d = TrainConfig.__dataclass_fields__
    dflt = lambda name: d[name].default  # noqa: E731
    p.add_argument("--config", help="JSON file of TrainConfig fields; flags given explicitly override it")
    g = p.add_argument_group("model")
    g.add_argument("--ghn", default=dflt("ghn"), help="GHN preset: tiny, small, base, large (default: %(default)s)")
    g.add_argument("--ghn-overrides", type=_json_dict, default=None, metavar="JSON",
                   help='GHNConfig fields to override, e.g. \'{"layers": 3}\'')
    g.add_argument("--init-from", default=None, metavar="CKPT",
                   help="start from the weights of this GHN checkpoint (a registered name such as cifar10, or a "
                        "directory); its config replaces --ghn/--ghn-overrides; optimizer and schedule start fresh")
    g = p.add_argument_group("steps")
    g.add_argument("--meta-batch", "-M", type=int, default=dflt("meta_batch"),
                   help="architectures per step, split across ranks (default: %(default)s)")
    g.add_argument("--batch-size", "-b", type=int, default=dflt("batch_size"),
                   help="images per architecture per step (default: %(default)s)")
    g.add_argument("--max-params", type=_optional_int, default=None,
                   help="skip training nets with more parameters than this (default: keep all)")
    g.add_argument("--arch-pool", type=_optional_int, default=None,
                   help="cycle over the first N training seeds instead of the endless stream")
    g.add_argument("--max-output-std", type=_optional_float, default=dflt("max_output_std"),
                   help="skip training nets whose logits at PyTorch's default init have a larger std on a probe "
                        "batch (they explode whatever the GHN predicts; 0/none: keep all; default: %(default)s)")
    g.add_argument("--stream", default=dflt("stream"),
                   help="architecture stream: train (the val/test distribution), cells (BatchNorm conv cells) "
                        "or mixed (default: %(default)s)")
    g.add_argument("--shared-images", action=argparse.BooleanOptionalAction, default=dflt("shared_images"),
                   help="give all M nets of a step the same image batch (default: %(default)s)")
    g.add_argument("--steps", type=_optional_int, default=None, help="number of steps")
    g.add_argument("--time-budget", type=_duration, default=None, metavar="DURATION",
                   help="training time, e.g. 90s, 9m, 1.5h, 1h30m (summed over resumes)")
    g = p.add_argument_group("optimisation")
    g.add_argument("--lr", type=float, default=dflt("lr"), help="peak learning rate (default: %(default)s)")
    g.add_argument("--weight-decay", "--wd", type=float, default=dflt("weight_decay"))
    g.add_argument("--warmup-steps", type=int, default=dflt("warmup_steps"))
    g.add_argument("--min-lr-ratio", type=float, default=dflt("min_lr_ratio"))
    g.add_argument("--grad-clip", type=float, default=dflt("grad_clip"), help="0 disables clipping")
    g.add_argument("--param-penalty", type=float, default=dflt("param_penalty"),
                   help="weight of the penalty on predicted-parameter norms (default: %(default)s)")
    g.add_argument("--loss-cap", type=float, default=dflt("loss_cap"),
                   help="a net's loss above this contributes the gradient of a loss of this size, so one net "
                        "with exploding logits cannot steer a step (0: off; default: %(default)s)")
    g.add_argument("--seed", type=int, default=dflt("seed"))
    g = p.add_argument_group("data and devices")
    g.add_argument("--data", default=None,
                   help="CIFAR-10 source: npz, directory or torchvision root (default: the shared copy); "
                        "'embedded' trains on the 1k shipped test images (smoke tests only)")
    g.add_argument("--val-images", type=int, default=dflt("val_images"),
                   help="training images held out for validation (default: %(default)s)")
    g.add_argument("--device", default=dflt("device"), help="auto, cpu, cuda, cuda:N (default: %(default)s)")
    g.add_argument("--threads", type=_optional_int, default=None, help="torch.set_num_threads")
    g.add_argument("--no-amp", dest="amp", action="store_false", default=True,
                   help="disable bf16 autocast on CUDA")
    g = p.add_argument_group("output")
    g.add_argument("--out", default=dflt("out"), help="run directory (default: %(default)s)")
    g.add_argument("--checkpoint-minutes", type=float, default=dflt("checkpoint_minutes"))
    g.add_argument("--checkpoint-every", type=int, default=dflt("checkpoint_every"), help="steps; 0: off")
    g.add_argument("--keep-checkpoints", type=int, default=dflt("keep_checkpoints"))
    g.add_argument("--eval-every", type=int, default=dflt("eval_every"), help="steps; 0: off")
    g.add_argument("--val-nets", type=int, default=dflt("val_nets"),
                   help="validate on the first N nets of the 'val' split (default: %(default)s)")
    g.add_argument("--log-every", type=int, default=dflt("log_every"))
    g.add_argument("--export", default=None, metavar="DIR", help="also save the final GHN to DIR")
    g.add_argument("--cache-size", type=int, default=dflt("cache_size"))
    g.add_argument("--no-progress", dest="progress", action="store_false", default=True)
    g.add_argument("--no-resume", dest="resume", action="store_false", default=True,
                   help="refuse to continue from an existing checkpoint in --out")
    return p


def from_args(args: argparse.Namespace) -> TrainConfig:
    """A ``TrainConfig`` from flags parsed by a parser built with :func:`add_arguments`."""
    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    if values.get("ghn_overrides") is None:
        values["ghn_overrides"] = {}
    return TrainConfig.from_dict(values)


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv``; a ``--config`` JSON file supplies defaults that explicit flags override."""
    pre, _ = parser.parse_known_args(argv)
    if getattr(pre, "config", None):
        data = json.loads(Path(pre.config).read_text())
        TrainConfig.from_dict({**TrainConfig(steps=1).to_dict(), **data})  # validate names early
        parser.set_defaults(**data)
    return parser.parse_args(argv)
