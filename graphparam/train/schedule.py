"""Learning-rate schedule: linear warmup, then cosine decay to ``min_ratio`` of the peak.

A pure function of the step and the horizon. The horizon is ``total_steps`` when the run has a
step count; a run with only a time budget anneals over time instead: after warmup the cosine
follows ``progress`` = training seconds so far / budget (the seconds are saved in checkpoints,
so a resumed run continues where it stopped). On a machine whose speed varies (shared cores)
this ends the decay exactly when the budget does, where a step horizon estimated early would not.
"""

from __future__ import annotations

import math

import torch

__all__ = ["WarmupCosine"]


class WarmupCosine:
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
        if self.warmup_steps and step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.total_steps is not None:
            span = max(1, self.total_steps - self.warmup_steps)
            t = (step - self.warmup_steps) / span
        elif progress is not None:
            t = progress
        else:
            return 1.0
        t = min(1.0, max(0.0, t))
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))

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
