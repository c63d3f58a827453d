"""What meta-training and fine-tuning share about optimisation: weight-decay groups and the
warmup + cosine learning-rate schedule."""

from __future__ import annotations

import math
from typing import Iterable

import torch
import torch.nn as nn

__all__ = ["decay_groups", "warmup_cosine", "WarmupCosine"]


def decay_groups(model: nn.Module | Iterable[nn.Parameter], weight_decay: float) -> list[dict]:
    """Optimizer parameter groups: weight decay on tensors of dimension >= 2 only (not on biases,
    norm scales and shifts); trainable tensors once each, in order; no empty no-decay group."""
    params = model.parameters() if isinstance(model, nn.Module) else model
    decay, no_decay, seen = [], [], set()
    for p in params:
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def warmup_cosine(step: int, warmup_steps: int = 0, total_steps: int | None = None, min_ratio: float = 0.0,
                  progress: float | None = None) -> float:
    """Multiplier of the peak rate for (0-based) ``step``: linear warmup over ``warmup_steps``, then a
    cosine from 1 to ``min_ratio`` over the steps up to ``total_steps``, or over ``progress`` in [0, 1]
    when there is no ``total_steps`` (neither: 1)."""
    if warmup_steps and step < warmup_steps:
        return (step + 1) / warmup_steps
    if total_steps is not None:
        span = max(1, total_steps - warmup_steps)
        t = (step - warmup_steps) / span
    elif progress is not None:
        t = progress
    else:
        return 1.0
    t = min(1.0, max(0.0, t))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))


class WarmupCosine:
    """:func:`warmup_cosine` applied to an optimizer, with the horizon saved in checkpoints.

    The horizon is ``total_steps`` when the run has a step count; a run with only a time budget
    anneals over time instead: after warmup the cosine follows ``progress`` = training seconds so
    far / budget (the seconds are saved in checkpoints, so a resumed run continues where it
    stopped). On a machine whose speed varies (shared cores) this ends the decay exactly when the
    budget does, where a step horizon estimated early would not.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, peak_lr: float, warmup_steps: int = 0,
                 total_steps: int | None = None, min_ratio: float = 0.0):
        self.optimizer = optimizer
        self.peak_lr = float(peak_lr)
        self.warmup_steps = int(warmup_steps)
        self.total_steps = None if total_steps is None else int(total_steps)
        self.min_ratio = float(min_ratio)

    def factor(self, step: int, progress: float | None = None) -> float:
        """Multiplier of the peak rate for (0-based) ``step``; ``progress`` in [0, 1] is used when
        there is no ``total_steps`` (None then: the peak rate)."""
        return warmup_cosine(step, self.warmup_steps, self.total_steps, self.min_ratio, progress)

    def lr(self, step: int, progress: float | None = None) -> float:
        return self.peak_lr * self.factor(step, progress)

    def apply(self, step: int, progress: float | None = None) -> float:
        """Set the rate of every parameter group for ``step``; returns it."""
        lr = self.lr(step, progress)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def set_total(self, total_steps: int) -> None:
        self.total_steps = max(int(total_steps), self.warmup_steps + 1)

    def state_dict(self) -> dict:
        return {"total_steps": -1 if self.total_steps is None else self.total_steps}

    def load_state_dict(self, state: dict) -> None:
        total = int(state["total_steps"])
        self.total_steps = None if total < 0 else total
