"""A distillation teacher for meta-training: a small CIFAR-10 classifier trained once, saved as
safetensors + JSON (the model reference that rebuilds it, e.g. ``zoo:123``, and how it was trained).

With ``--distill DIR`` the trainer computes the teacher's logits for every training image once, on the
un-augmented image (eval mode), and each net's loss becomes ``(1 - w) * CE + w * T^2 * KL(teacher_T ||
net_T)``: a soft target says *how wrong* a prediction is on every class, which a hard label does not,
and it costs nothing per step.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from graphparam.errors import CheckpointError

__all__ = ["TeacherInfo", "save_teacher", "load_teacher", "teacher_logits", "soft_targets", "distill_loss",
           "TEACHER_FILES"]

TEACHER_FILES = ("teacher.json", "model.safetensors")


@dataclass(frozen=True)
class TeacherInfo:
    """What rebuilds a teacher: ``model`` reference (see :func:`graphparam.sources.create_model`),
    ``cifar_stem``, ``num_classes``; ``test_top1`` and ``training`` describe it."""

    model: str
    cifar_stem: bool = False
    num_classes: int = 10
    test_top1: float | None = None
    training: dict | None = None


def save_teacher(model: nn.Module, info: TeacherInfo, directory: str | Path) -> Path:
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / "model.safetensors"))
    (directory / "teacher.json").write_text(json.dumps(asdict(info), indent=1) + "\n")
    return directory


def load_teacher(directory: str | Path) -> tuple[nn.Module, TeacherInfo]:
    """The teacher saved in ``directory`` (eval mode, CPU) and its :class:`TeacherInfo`."""
    from safetensors.torch import load_file

    from graphparam.sources import create_model

    directory = Path(directory)
    missing = [name for name in TEACHER_FILES if not (directory / name).is_file()]
    if missing:
        raise CheckpointError(f"{directory} is not a distillation teacher (missing {', '.join(missing)}; "
                              "make one with experiments/train_teacher.py)")
    info = TeacherInfo(**json.loads((directory / "teacher.json").read_text()))
    model = create_model(info.model, num_classes=info.num_classes, cifar_stem=info.cifar_stem)
    model.load_state_dict(load_file(str(directory / "model.safetensors")))
    return model.eval(), info


@torch.no_grad()
def teacher_logits(model: nn.Module, images, batch_size: int = 500, device: torch.device | str = "cpu") -> torch.Tensor:
    """N x classes float32 logits of ``model`` (eval mode) on the un-augmented ``images`` (an ImageSet)."""
    from graphparam.data.augment import normalize
    from graphparam.evaluate import logits_of

    model = model.to(device).eval()
    out = []
    for start in range(0, len(images), batch_size):
        x = normalize(images.images[start:start + batch_size].to(device))
        out.append(logits_of(model(x)).float())
    return torch.cat(out)


def soft_targets(directory: str | Path, images, device: torch.device | str = "cpu",
                 verbose: bool = True) -> torch.Tensor:
    """The logits of the teacher saved in ``directory`` for every image of ``images`` (computed once, un-augmented);
    ``verbose``: say on stderr how long it took and the teacher's top-1 on ``images``."""
    start = time.perf_counter()
    teacher, info = load_teacher(directory)
    logits = teacher_logits(teacher, images, device=device)
    if verbose:
        top1 = (logits.argmax(1).cpu() == images.labels).float().mean().item()
        print(f"distillation teacher {info.model} ({directory}): logits of {len(images)} training images in "
              f"{time.perf_counter() - start:.0f}s, train top-1 {100 * top1:.1f}%", file=sys.stderr)
    return logits


def distill_loss(logits: torch.Tensor, target_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``T^2 * KL(softmax(target / T) || softmax(logits / T))``, batch mean (Hinton et al.'s scaling keeps
    its gradient the size of a cross-entropy's as T changes)."""
    t = float(temperature)
    return F.kl_div(F.log_softmax(logits / t, dim=1), F.log_softmax(target_logits / t, dim=1),
                    log_target=True, reduction="batchmean") * (t * t)
