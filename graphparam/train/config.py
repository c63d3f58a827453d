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
           "RESUME_KEYS", "trajectory_changes"]

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

SCRATCH_LR = 2e-3
"""Peak lr from scratch: over steps 151-200 of seed 1 it gave 16.8 % train top-1 against 14.7 at 1e-3
(experiments/results/seed_race.md)."""
CONTINUE_LR = 5e-4
"""Peak lr when continuing from a trained GHN (``--init-from``), whose Adam moments start fresh: legs 10-14
held or gained at 5e-4 or 3e-4; leg 16 at 1e-3 fell from 20.3 to 15.3 % train top-1 within 131 steps
(experiments/results/campaign*.json)."""


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


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


MODEL, STEPS, OPTIM, DATA, OUTPUT = "model", "steps", "optimisation", "data and devices", "output"


def setting(default: Any, group: str, help: str, *, flags: tuple[str, ...] = (), type: Any = None,
            metavar: str | None = None, trajectory: bool = False, negate: bool = False, factory=None):
    """One training setting, declared once: its default, its command-line flag and whether it defines the
    training trajectory (a resumed run must keep it; ``RESUME_KEYS``). ``negate``: a boolean that a
    ``--no-NAME`` flag turns off; other booleans get ``--NAME/--no-NAME``."""
    meta = {"group": group, "help": help, "flags": flags, "type": type, "metavar": metavar,
            "trajectory": trajectory, "negate": negate}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    """Settings of one meta-training run (see ``python -m graphparam.train --help``)."""

    # model
    ghn: str = setting("small", MODEL, "GHN preset: tiny, small, base, large", trajectory=True)
    ghn_overrides: dict = setting(None, MODEL, 'GHNConfig fields to override, e.g. \'{"layers": 3}\'',
                                  type=_json_dict, metavar="JSON", trajectory=True, factory=dict)
    init_from: str | None = setting(None, MODEL, "start from the weights of this GHN checkpoint (a registered name "
                                    "such as cifar10, or a directory); its config replaces --ghn, --ghn-overrides change "
                                    "it where they keep every tensor's shape (e.g. tile_layout); optimizer and "
                                    "schedule start fresh", metavar="CKPT", trajectory=True)
    desaturate: float = setting(0.0, MODEL, "with --init-from: scale the GHN's bounded read-outs (vector elements and "
                                "weight gains) so that their median raw output on the first 8 val nets is at most "
                                "this, where tanh has gradient again (graphparam/train/desaturate.py; 0: off)",
                                trajectory=True)
    # what one step sees
    meta_batch: int = setting(8, STEPS, "architectures per step, split across ranks", flags=("--meta-batch", "-M"),
                              trajectory=True)
    batch_size: int = setting(64, STEPS, "images per architecture per step", flags=("--batch-size", "-b"),
                              trajectory=True)
    max_params: int | None = setting(None, STEPS, "skip training nets with more parameters than this (none: keep all)",
                                     type=_optional_int, trajectory=True)
    arch_start: int = setting(0, STEPS, "first seed of the architecture stream (a continued --init-from run "
                              "starts past the nets its parent saw)", trajectory=True)
    arch_pool: int | None = setting(None, STEPS, "cycle over the first N training seeds instead of the endless stream",
                                    type=_optional_int, trajectory=True)
    max_output_std: float | None = setting(None, STEPS, "skip training nets whose logits at PyTorch's default init "
                                           "have a larger std on a probe batch (they explode whatever the GHN "
                                           "predicts; 0/none: keep all)", type=_optional_float, trajectory=True)
    stream: str = setting("train", STEPS, "architecture stream: train (the val/test distribution), shallow (train "
                          "with 3-6 cells), cells (BatchNorm conv cells), mixed, one family (resnet, dag, others), "
                          "library nets built by timm's and torchvision's constructors (library, library_shallow, "
                          "library_deep, library_native: their ImageNet stems kept), real_mix (half library, half "
                          "train), user_mix (thirds of library, library_native and train), library_mix (halves of "
                          "library and library_native) or zoo_mix (user_mix with half its nets train); "
                          "arch_zoo.stream_names() lists them",
                          trajectory=True)
    activation_budget: int | None = setting(32_000_000, STEPS, "a net runs as many of its batch's images as keep its "
                                           "op outputs (values per image x images) within this, at least 8; "
                                           "bounds a step's time and memory (none: all images)",
                                           type=_optional_int, trajectory=True)
    shared_images: bool = setting(False, STEPS, "give all M nets of a step the same image batch", trajectory=True)
    # length
    steps: int | None = setting(None, STEPS, "number of steps (none: run until the time budget)", type=_optional_int)
    clock: str = setting("wall", STEPS, "what --time-budget and a run's elapsed time count: wall (seconds on the clock) "
                         "or cpu (this process's CPU seconds: its core-seconds, fair on a shared machine)")
    time_budget: float | None = setting(None, STEPS, "training time, e.g. 90s, 9m, 1.5h, 1h30m (summed over resumes)",
                                        type=_duration, metavar="DURATION")
    # optimisation
    lr: float | None = setting(None, OPTIM, "peak learning rate (default: 2e-3 from scratch, 5e-4 with --init-from, "
                               "where 1e-3 took the shipped GHN's train top-1 from 20 to 15 %% in 131 steps)", type=float,
                               trajectory=True)
    weight_decay: float = setting(1e-5, OPTIM, "AdamW weight decay of the GHN's matrices",
                                  flags=("--weight-decay", "--wd"), trajectory=True)
    warmup_steps: int = setting(0, OPTIM, "linear warm-up steps", trajectory=True)
    min_lr_ratio: float = setting(0.05, OPTIM, "the cosine decays to lr * this", trajectory=True)
    grad_clip: float = setting(5.0, OPTIM, "max global grad norm (0: off)", trajectory=True)
    param_penalty: float = setting(0.0, OPTIM, "weight of the penalty on predicted-parameter norms", trajectory=True)
    seed: int = setting(0, OPTIM, "seed of the GHN init, data order and augmentation", trajectory=True)
    logit_norm: float = setting(0.0, OPTIM, "train on the cross-entropy of each net's logits standardized per image "
                                "and multiplied by this (0: the plain logits): blind to the logits' scale, so the GHN "
                                "cannot lower its loss by shrinking every net's outputs", trajectory=True)
    logit_scale_weight: float = setting(0.0, OPTIM, "with --logit-norm: weight of a penalty holding the std of each "
                                        "image's logits near the --logit-norm value (the scale-blind loss leaves it "
                                        "free, and it grows; 0: off)", trajectory=True)
    # data and devices
    data: str | None = setting(None, DATA, "CIFAR-10 source: npz, directory or torchvision root (default: "
                               "$GRAPHPARAM_DATA, else a previous download); 'embedded' trains on the 1k shipped test images (smoke tests only)",
                               trajectory=True)
    val_images: int = setting(1000, DATA, "training images held out for validation", trajectory=True)
    device: str = setting("auto", DATA, "auto, cpu, cuda, cuda:N")
    threads: int | None = setting(None, DATA, "torch.set_num_threads (none: leave as is)", type=_optional_int)
    arch_workers: int = setting(0, DATA, "build and trace the next training nets in this many worker processes "
                                "(the same nets; pays on a GPU, where building is most of a step; 0: in the "
                                "training process)")
    amp: bool = setting(True, DATA, "disable bf16 autocast on CUDA (ignored on CPU)", negate=True)
    # output
    out: str = setting("runs/train", OUTPUT, "run directory")
    checkpoint_minutes: float = setting(10.0, OUTPUT, "checkpoint every this many minutes (0: only at exit)")
    checkpoint_every: int = setting(0, OUTPUT, "... and every this many steps (0: off)")
    keep_checkpoints: int = setting(2, OUTPUT, "checkpoints kept")
    eval_every: int = setting(100, OUTPUT, "validation every this many steps (0: off)")
    val_nets: int = setting(16, OUTPUT, "validate on the first N nets of the 'val' split")
    log_every: int = setting(1, OUTPUT, "a metrics.jsonl line every this many steps")
    export: str | None = setting(None, OUTPUT, "also save the final GHN to DIR", metavar="DIR")
    cache_size: int = setting(256, OUTPUT, "LRU entries of built and traced architectures")
    progress: bool = setting(True, OUTPUT, "no progress bar", negate=True)
    resume: bool = setting(True, OUTPUT, "refuse to continue from an existing checkpoint in --out", negate=True)

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
        if self.clock not in ("wall", "cpu"):
            raise ValueError(f"clock must be 'wall' or 'cpu', got {self.clock!r}")
        if self.lr is None:
            self.lr = CONTINUE_LR if self.init_from else SCRATCH_LR
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.warmup_steps < 0 or self.checkpoint_every < 0 or self.eval_every < 0 or self.val_images < 0:
            raise ValueError("warmup_steps, checkpoint_every, eval_every and val_images must be >= 0")
        if self.keep_checkpoints < 1:
            raise ValueError("keep_checkpoints must be >= 1")
        if min(self.logit_norm, self.desaturate, self.logit_scale_weight) < 0:
            raise ValueError("logit_norm, desaturate and logit_scale_weight must be >= 0")
        if self.logit_scale_weight and not self.logit_norm:
            raise ValueError("logit_scale_weight holds the scale that --logit-norm leaves free: give --logit-norm too")
        if self.desaturate and not self.init_from:
            raise ValueError("desaturate revives the read-outs of a loaded GHN: give --init-from too")
        if self.arch_start < 0:
            raise ValueError(f"arch_start must be >= 0, got {self.arch_start}")
        if self.arch_workers < 0:
            raise ValueError(f"arch_workers must be >= 0, got {self.arch_workers}")
        if self.arch_pool is not None and self.arch_pool < 1:
            raise ValueError(f"arch_pool must be >= 1, got {self.arch_pool}")

    # ---- JSON -----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        """The config saved by a run; a retired field (:data:`RETIRED`) at its off value is dropped, so that the
        runs of older code still load."""
        data = dict(data)
        for name, (off, commit) in RETIRED.items():
            if name in data and data.pop(name) != off:
                raise ValueError(f"this run set {name}, which is retired: train it with the code of commit {commit}")
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


RETIRED: dict[str, tuple[Any, str]] = {
    # studies of the early sessions that did not help (experiments/results/train.md, "What did not help"):
    # logit distillation from a trained teacher (leg 3), the ridge-probe body loss (leg 4), the loss cap
    "loss_cap": (0.0, "fa19488"),
    "distill": (None, "fa19488"),
    "distill_weight": (0.5, "fa19488"),
    "distill_temperature": (4.0, "fa19488"),
    "probe_weight": (0.0, "fa19488"),
    # the restoring pull on the decoder's saturated read-outs: lost three paired comparisons (legs 30, 41, 42;
    # experiments/results/train.md, lever_vector_pull.md)
    "readout_limit": (0.0, "f1d5359"),
    "vector_pull": (1.0, "f1d5359"),
    "gain_pull": (1.0, "f1d5359"),
    "pull_readout_only": (False, "f1d5359"),
}
"""Settings removed from :class:`TrainConfig`: their off value, and a commit whose code still has them."""

RESUME_KEYS = tuple(f.name for f in fields(TrainConfig) if f.metadata["trajectory"])
"""Fields that define the training trajectory: a resumed run must use the checkpoint's values."""


def trajectory_changes(saved: TrainConfig, config: TrainConfig) -> str:
    """``"name=value, ..."`` of ``saved``'s trajectory settings (``RESUME_KEYS``) that ``config`` changes
    (empty when it may resume ``saved``)."""
    return ", ".join(f"{k}={getattr(saved, k)!r}" for k in RESUME_KEYS if getattr(saved, k) != getattr(config, k))


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add every training flag to ``p`` (shared by ``python -m graphparam.train`` and ``graphparam train``),
    one per ``TrainConfig`` field, from the field's declaration."""
    p.add_argument("--config", help="JSON file of TrainConfig fields; flags given explicitly override it")
    groups: dict[str, argparse._ArgumentGroup] = {}
    for f in fields(TrainConfig):
        m = f.metadata
        if m["group"] not in groups:
            groups[m["group"]] = p.add_argument_group(m["group"])
        group = groups[m["group"]]
        flag = "--" + f.name.replace("_", "-")
        default = None if f.default is dataclasses.MISSING else f.default
        if m["negate"]:
            group.add_argument("--no-" + flag[2:], dest=f.name, action="store_false", default=default, help=m["help"])
            continue
        kwargs: dict[str, Any] = {"dest": f.name, "default": default, "help": m["help"]}
        if isinstance(default, bool):
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            if m["type"] is not None:
                kwargs["type"] = m["type"]
            elif default is not None:
                kwargs["type"] = type(default)
            if m["metavar"]:
                kwargs["metavar"] = m["metavar"]
        if default is not None and "default:" not in m["help"]:
            kwargs["help"] = m["help"] + " (default: %(default)s)"
        group.add_argument(*(m["flags"] or (flag,)), **kwargs)
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
