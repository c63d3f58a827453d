"""Learning-rate schedule: linear warmup, then cosine decay to ``min_ratio`` of the peak.

A pure function of the step and the horizon, so it needs no state beyond ``total_steps``. With a
time budget and no step count the horizon is unknown at the start: it stays open (the peak rate
after warmup) until the loop has measured its speed and calls :meth:`WarmupCosine.set_total`;
the horizon is then fixed and saved in checkpoints, so a resumed run follows the same schedule.
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

    def factor(self, step: int) -> float:
        """Multiplier of the peak rate for (0-based) ``step``."""
        if self.warmup_steps and step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.total_steps is None:
            return 1.0
        span = max(1, self.total_steps - self.warmup_steps)
        t = min(1.0, max(0.0, (step - self.warmup_steps) / span))
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))

    def lr(self, step: int) -> float:
        return self.peak_lr * self.factor(step)

    def apply(self, step: int) -> float:
        """Set the rate of every parameter group for ``step``; returns it."""
        lr = self.lr(step)
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
