"""``finetune``: the one fine-tuning recipe (see :mod:`graphparam.finetune`), its optimizer and schedule."""

from __future__ import annotations

import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from graphparam.data.imageset import ImageSet
from graphparam.data.stream import BatchStream
from graphparam.device import resolve_device
from graphparam.errors import ArgumentValueError
from graphparam.evaluate import EVAL_BATCH_SIZE, check_head, evaluate, logits_of
from graphparam.finetune.result import FinetuneResult, eval_marks
from graphparam.optim import decay_groups, warmup_cosine

__all__ = ["finetune", "make_optimizer", "lr_at", "default_device", "OPTIMIZERS"]

OPTIMIZERS = ("sgd", "adamw")


def default_device() -> torch.device:
    return resolve_device("auto")


def make_optimizer(model: nn.Module, optimizer: str, lr: float, weight_decay: float | None = None,
                   momentum: float = 0.9) -> torch.optim.Optimizer:
    """SGD (Nesterov momentum, default weight decay 5e-4) or AdamW (default weight decay 0.05);
    weight decay only on tensors of dimension >= 2."""
    name = optimizer.lower()
    if name == "sgd":
        wd = 5e-4 if weight_decay is None else weight_decay
        return torch.optim.SGD(decay_groups(model, wd), lr=lr, momentum=momentum, nesterov=momentum > 0)
    if name == "adamw":
        wd = 0.05 if weight_decay is None else weight_decay
        return torch.optim.AdamW(decay_groups(model, wd), lr=lr)
    raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")


def lr_at(step: int, total: int, lr: float, warmup: int = 0, schedule: str = "cosine") -> float:
    """Learning rate of ``step`` (0-based) of ``total``: linear warmup, then cosine to 0 (or constant)."""
    warming = warmup > 0 and step < warmup
    if not warming and schedule == "constant":
        return lr
    if not warming and schedule != "cosine":
        raise ValueError(f"unknown schedule {schedule!r}; choose 'cosine' or 'constant'")
    return lr * warmup_cosine(step, warmup, total)


def check_recipe(epochs: int, lr: float, batch_size: int, evals_per_epoch: int) -> None:
    """Refuse settings no run can use (:class:`ArgumentValueError`), before any data is loaded."""
    if epochs < 1:
        raise ArgumentValueError(f"epochs must be >= 1, got {epochs}")
    if evals_per_epoch < 1:
        raise ArgumentValueError(f"evals_per_epoch must be >= 1, got {evals_per_epoch}")
    if lr <= 0:
        raise ArgumentValueError(f"lr must be positive, got {lr}")
    if batch_size < 1:
        raise ArgumentValueError(f"batch size must be >= 1, got {batch_size}")


def finetune(model: nn.Module, train: ImageSet, test: ImageSet, *, epochs: int, lr: float,
             batch_size: int = 128, optimizer: str = "sgd", weight_decay: float | None = None,
             momentum: float = 0.9, schedule: str = "cosine", warmup_steps: int = 0,
             grad_clip: float | None = None, label_smoothing: float = 0.0, seed: int = 0,
             device: str | torch.device | None = None, max_steps_per_epoch: int | None = None,
             eval_batch_size: int = EVAL_BATCH_SIZE, eval_initial: bool = True, augment: bool = True,
             amp: bool | None = None, init: str = "", progress: bool = True,
             evals_per_epoch: int = 1) -> FinetuneResult:
    """Train ``model`` in place on ``train`` and measure ``test`` accuracy after every epoch.

    See the module docstring for the recipe, the BatchNorm policy and the evaluation points
    (``evals_per_epoch`` per epoch, the last at its end). ``device``: where to
    train (default CUDA if available); the model is moved there and stays there. ``amp``:
    bfloat16 autocast for the forward pass (default: on for CUDA, off on CPU). ``init`` is only a
    label stored in the result.
    """
    check_recipe(epochs, lr, batch_size, evals_per_epoch)
    device = torch.device(device) if device is not None else default_device()
    amp = (device.type == "cuda") if amp is None else bool(amp)
    start = time.perf_counter()
    model.to(device)
    full = math.ceil(len(train) / batch_size)
    steps_per_epoch = full if max_steps_per_epoch is None else max(1, min(full, int(max_steps_per_epoch)))
    total = epochs * steps_per_epoch
    marks = eval_marks(steps_per_epoch, evals_per_epoch)
    config = dict(epochs=epochs, lr=lr, batch_size=batch_size, optimizer=optimizer,
                  weight_decay=weight_decay, momentum=momentum, schedule=schedule, warmup_steps=warmup_steps,
                  grad_clip=grad_clip, label_smoothing=label_smoothing, seed=seed, device=str(device),
                  steps_per_epoch=steps_per_epoch, full_epoch_steps=full, train_images=len(train),
                  test_images=len(test), eval_batch_size=eval_batch_size, augment=augment, amp=amp,
                  train_data=train.name, test_data=test.name, evals_per_epoch=evals_per_epoch)

    def test_eval() -> tuple[float, float]:
        r = evaluate(model, test, batch_size=eval_batch_size, progress=False)
        return r.top1, r.loss

    nan = float("nan")
    top1, tloss = [nan], [nan]
    if eval_initial:
        top1[0], tloss[0] = test_eval()
    opt = make_optimizer(model, optimizer, lr, weight_decay, momentum)
    stream = BatchStream(train, batch_size, device=device, seed=seed, augment=augment)
    params = [p for g in opt.param_groups for p in g["params"]]
    torch.manual_seed(seed)  # dropout / drop-path draws (seeds every device)

    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=f"finetune {init or type(model).__name__}", unit="step", leave=False,
               disable=not progress)
    train_losses: list[float] = []
    eval_steps, eval_top1, eval_loss = [0], [top1[0]], [tloss[0]]
    diverged = False
    train_seconds = 0.0
    step = 0

    def reach_epoch_end(first: int, a: float, b: float) -> None:
        """Record ``(a, b)`` at every point of the epoch starting at step ``first`` not yet recorded: its end,
        and after a divergence every point the epoch did not reach."""
        for m in marks:
            if first + m > eval_steps[-1]:
                eval_steps.append(first + m)
                eval_top1.append(a)
                eval_loss.append(b)

    for epoch in range(epochs):
        first = epoch * steps_per_epoch
        if diverged:
            train_losses.append(nan)
            top1.append(top1[-1])
            tloss.append(tloss[-1])
            reach_epoch_end(first, top1[-1], tloss[-1])
            continue
        t0 = time.perf_counter()
        eval_seconds = 0.0
        model.train()
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        done = 0
        inner = set(marks[:-1])  # points before the end of the epoch
        for _ in range(steps_per_epoch):
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total, lr, warmup_steps, schedule)
            x, y = next(stream)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                logits = logits_of(model(x))
            loss = F.cross_entropy(check_head(logits.float(), train), y, label_smoothing=label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, grad_clip)
            opt.step()
            loss_sum += loss.detach().double()
            done += 1
            step += 1
            bar.update(1)
            if done % 10 == 0 or done == steps_per_epoch or done in inner:  # sync rarely
                if not math.isfinite(loss_sum.item()):
                    diverged = True
                    break
            if done in inner:
                t1 = time.perf_counter()
                a, b = test_eval()  # restores train mode; reads no random generator
                eval_steps.append(step)
                eval_top1.append(a)
                eval_loss.append(b)
                eval_seconds += time.perf_counter() - t1
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        train_seconds += time.perf_counter() - t0 - eval_seconds
        mean_loss = loss_sum.item() / max(1, done)
        train_losses.append(mean_loss if math.isfinite(mean_loss) else nan)
        a, b = test_eval()
        top1.append(a)
        tloss.append(b)
        reach_epoch_end(first, a, b)
        bar.set_postfix(epoch=epoch + 1, loss=f"{mean_loss:.3f}", top1=f"{100 * a:.1f}")
    bar.close()
    return FinetuneResult(init=init, epochs=epochs, steps_per_epoch=steps_per_epoch, test_top1=top1,
                          test_loss=tloss, train_loss=train_losses, seconds=time.perf_counter() - start,
                          train_seconds=train_seconds, diverged=diverged, config=config,
                          eval_steps=eval_steps, eval_top1=eval_top1, eval_loss=eval_loss)
