"""``FinetuneResult``: one fine-tuning run's curve, and reading it (``steps_to_reach``, ``eval_marks``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

from graphparam.errors import ArgumentValueError

__all__ = ["FinetuneResult", "steps_to_reach", "first_point_at", "eval_marks"]


@dataclass
class FinetuneResult:
    """Outcome of one fine-tuning run.

    ``test_top1[e]`` / ``test_loss[e]``: test accuracy (fraction) and loss after ``e`` epochs;
    index 0 is before any training (the starting point, e.g. the zero-shot accuracy of a GHN
    prediction), so both lists have ``epochs + 1`` entries (``nan`` at 0 when ``eval_initial``
    was off). ``train_loss[e - 1]``: mean training loss over epoch ``e`` (``epochs`` entries).

    ``eval_steps[i]`` / ``eval_top1[i]`` / ``eval_loss[i]``: every evaluation point (see the module
    docstring), by the number of training steps before it; index 0 is step 0. Results stored before
    these fields existed get the per-epoch points (``e * steps_per_epoch``) when read back.
    """

    init: str
    epochs: int
    steps_per_epoch: int
    test_top1: list[float]
    test_loss: list[float]
    train_loss: list[float]
    seconds: float
    train_seconds: float
    diverged: bool = False
    config: dict = field(default_factory=dict)
    eval_steps: list[int] = field(default_factory=list)
    eval_top1: list[float] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.eval_steps:  # per-epoch points only (a result of the old format, or built by hand)
            self.eval_steps = [e * self.steps_per_epoch for e in range(len(self.test_top1))]
            self.eval_top1 = list(self.test_top1)
            self.eval_loss = list(self.test_loss)
        if not len(self.eval_steps) == len(self.eval_top1) == len(self.eval_loss):
            raise ValueError(f"eval_steps, eval_top1 and eval_loss differ in length "
                             f"({len(self.eval_steps)}, {len(self.eval_top1)}, {len(self.eval_loss)})")

    @property
    def final_top1(self) -> float:
        return self.test_top1[-1]

    @property
    def eval_epochs(self) -> list[float]:
        """The evaluation points in epochs (``eval_steps / steps_per_epoch``)."""
        return [s / self.steps_per_epoch for s in self.eval_steps]

    def top1_after(self, epoch: int) -> float:
        """Test accuracy after ``epoch`` epochs (0 = before training)."""
        return self.test_top1[epoch]

    def top1_at_epoch(self, fraction: float) -> tuple[int, float]:
        """``(step, top-1)`` of the first evaluation point at or after ``fraction`` of an epoch
        (e.g. 0.25); a clear error when the run has none that late."""
        point = first_point_at(self.eval_steps, self.eval_top1, fraction * self.steps_per_epoch)
        if point is not None:
            return point
        raise ArgumentValueError(f"no evaluation point at or after {fraction} epochs: the run ends at "
                                 f"step {self.eval_steps[-1]} ({self.eval_epochs[-1]:g} epochs)")

    def steps_to_reach(self, top1: float) -> int | None:
        """Training steps this run needed to reach test accuracy ``top1`` (:func:`steps_to_reach`)."""
        return steps_to_reach(self.eval_steps, self.eval_top1, top1)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> "FinetuneResult":
        return cls(**dict(data))


def first_point_at(steps: Sequence[int], values: Sequence[float], step: float) -> tuple[int, float] | None:
    """``(step, value)`` of a curve's first evaluation point at or after ``step``; None if it ends before."""
    return next(((int(s), v) for s, v in zip(steps, values) if s >= step), None)


def steps_to_reach(steps: Sequence[int], top1: Sequence[float], target: float) -> int | None:
    """The step of the first evaluation point whose accuracy is at or above ``target``; None if no
    point reaches it. ``steps`` and ``top1`` are one curve's points in order (``nan`` never reaches).
    The answer is only as fine as the points: the true crossing lies after the previous point."""
    if len(steps) != len(top1):
        raise ArgumentValueError(f"steps and top1 differ in length ({len(steps)} vs {len(top1)})")
    for s, a in zip(steps, top1):
        if a >= target:
            return int(s)
    return None


def eval_marks(steps_per_epoch: int, evals_per_epoch: int) -> list[int]:
    """The step counts inside an epoch after which :func:`finetune` evaluates: ``ceil(j * S / k)``
    for ``j = 1..k``, without repeats; the last is ``S`` (the end of the epoch)."""
    if steps_per_epoch < 1:
        raise ArgumentValueError(f"steps per epoch must be >= 1, got {steps_per_epoch}")
    if evals_per_epoch < 1:
        raise ArgumentValueError(f"evals_per_epoch must be >= 1, got {evals_per_epoch}")
    return sorted({-(-j * steps_per_epoch // evals_per_epoch) for j in range(1, evals_per_epoch + 1)})
