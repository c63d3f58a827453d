"""Fine-tuning a network from a GHN prediction versus from its default initialization.

``finetune(model, train, test, epochs=..., lr=...)`` trains ``model`` in place with one fixed
recipe and reports the test accuracy after every epoch (and, with ``evals_per_epoch=k``, at every
``1/k`` of an epoch, to see how fast a start pays off); ``compare_inits`` runs that recipe on
fresh copies of one architecture started from different initializations (by default the GHN
prediction and the model's own default initialization) with identical data order, so the only
difference between the runs is the starting point.

Recipe
    Cross-entropy on augmented batches (random crop with 4-pixel padding and horizontal flip,
    :class:`graphparam.data.BatchStream`), SGD with Nesterov momentum or AdamW, weight decay on
    weights of dimension >= 2 only (not on biases and norm scales/shifts), learning rate with an
    optional linear warmup and then a per-step cosine decay to zero over all steps, optional
    gradient-norm clipping. An "epoch" is ``ceil(len(train) / batch_size)`` steps, or
    ``max_steps_per_epoch`` steps when that is smaller (then an "epoch" is not a full pass over the
    training set: report it that way).

Determinism and fairness
    The batch order and the augmentation draws come from seeded CPU generators
    (``BatchStream(seed=seed)``) and dropout/drop-path from ``torch.manual_seed(seed)``: two runs
    with the same seed see exactly the same images in the same order, whatever the initialization.

BatchNorm policy (one choice, used everywhere)
    Parameters predicted by the GHN come without BatchNorm running statistics. Training runs in
    train mode (batch statistics; running buffers are updated but never read). Test accuracy,
    before training ("epoch 0") and after every epoch, is measured with the standard zero-shot
    protocol :func:`graphparam.evaluate.evaluate`: every BatchNorm layer normalizes with the
    statistics of its evaluation batch (``eval_batch_size`` images, 250 by default), everything
    else in eval mode. The numbers are therefore directly comparable to zero-shot numbers, for
    both initializations. Running statistics are never used for evaluation here.

Evaluation points
    Test accuracy is measured before training (step 0) and after step ``ceil(j * S / k)`` of every
    epoch for ``j = 1..k`` (``S`` steps per epoch, ``k = evals_per_epoch``; repeated steps, when
    ``k > S``, count once), so the last point of an epoch is its end. An evaluation reads no random
    generator and restores every module's mode, so extra points leave the training run unchanged:
    with ``k = 1`` the run and its numbers are those of per-epoch evaluation.
    :func:`steps_to_reach` reads such a curve: the steps a run needs to reach a given accuracy.

Divergence
    If a training loss is not finite, training stops; the remaining evaluation points repeat the
    test accuracy measured after divergence (the model is broken) and ``FinetuneResult.diverged`` is set.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from graphparam.data.imageset import ImageSet
from graphparam.data.stream import BatchStream
from graphparam.device import resolve_device
from graphparam.optim import decay_groups, warmup_cosine
from graphparam.errors import ArgumentValueError
from graphparam.evaluate import EVAL_BATCH_SIZE, check_head, evaluate, logits_of

__all__ = ["FinetuneResult", "finetune", "compare_inits", "plot_curves", "format_results", "make_optimizer",
           "lr_at", "default_device", "eval_marks", "steps_to_reach"]

OPTIMIZERS = ("sgd", "adamw")


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
        for s, a in zip(self.eval_steps, self.eval_top1):
            if s >= fraction * self.steps_per_epoch:
                return s, a
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
    if epochs < 1:
        raise ArgumentValueError(f"epochs must be >= 1, got {epochs}")
    if evals_per_epoch < 1:
        raise ArgumentValueError(f"evals_per_epoch must be >= 1, got {evals_per_epoch}")
    if lr <= 0:
        raise ArgumentValueError(f"lr must be positive, got {lr}")
    if batch_size < 1:
        raise ArgumentValueError(f"batch size must be >= 1, got {batch_size}")
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
    for epoch in range(epochs):
        first = epoch * steps_per_epoch
        if diverged:
            train_losses.append(nan)
            top1.append(top1[-1])
            tloss.append(tloss[-1])
            for m in marks:
                eval_steps.append(first + m)
                eval_top1.append(top1[-1])
                eval_loss.append(tloss[-1])
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
        for m in marks:  # the end of the epoch, and after a divergence every point it did not reach
            if first + m > eval_steps[-1]:
                eval_steps.append(first + m)
                eval_top1.append(a)
                eval_loss.append(b)
        bar.set_postfix(epoch=epoch + 1, loss=f"{mean_loss:.3f}", top1=f"{100 * a:.1f}")
    bar.close()
    return FinetuneResult(init=init, epochs=epochs, steps_per_epoch=steps_per_epoch, test_top1=top1,
                          test_loss=tloss, train_loss=train_losses, seconds=time.perf_counter() - start,
                          train_seconds=train_seconds, diverged=diverged, config=config,
                          eval_steps=eval_steps, eval_top1=eval_top1, eval_loss=eval_loss)


InitFn = Callable[[nn.Module], nn.Module]


def _resolve_inits(inits, ghn, input_size) -> dict[str, InitFn | None]:
    """Names or a mapping name -> callable(model) -> model; ``None`` keeps the default init."""
    if isinstance(inits, Mapping):
        return dict(inits)
    out: dict[str, InitFn | None] = {}
    for name in inits:
        if name in ("random", "default"):
            out[name] = None
        elif name == "ghn":
            if ghn is None:
                raise ValueError("init 'ghn' needs a GHN (ghn=...)")
            from graphparam.predict import GHNInitializer

            out[name] = GHNInitializer(ghn, input_size=input_size)
        else:
            raise ValueError(f"unknown init {name!r}: use 'ghn', 'random' (= 'default') or pass a mapping "
                             "name -> callable(model) -> model")
    return out


def compare_inits(make_model: Callable[[], nn.Module], ghn=None, train: ImageSet | None = None,
                  test: ImageSet | None = None, *, inits: Sequence[str] | Mapping[str, InitFn | None] = ("ghn", "random"),
                  seed: int = 0, input_size: Sequence[int] | None = None, **finetune_kwargs) -> dict[str, FinetuneResult]:
    """Fine-tune fresh copies of one architecture from several initializations with one recipe.

    ``make_model()`` must return a freshly built model; it is called under
    ``torch.manual_seed(seed)``, so the "random" (default-initialization) run is reproducible.
    ``inits``: names (``"ghn"``: ``ghn.predict`` on the fresh model; ``"random"`` / ``"default"``:
    the model's own initialization) or a mapping ``name -> callable(model) -> model`` (``None``
    keeps the default init). Every run gets the same ``seed``, hence the same data order and
    augmentation. Other keyword arguments go to :func:`finetune` (``epochs`` and ``lr`` are required).
    """
    if train is None or test is None:
        raise ValueError("compare_inits needs train and test ImageSets")
    size = tuple(input_size) if input_size is not None else (3, *train.image_size)
    results: dict[str, FinetuneResult] = {}
    for name, fn in _resolve_inits(inits, ghn, size).items():
        torch.manual_seed(seed)
        model = make_model()
        t0 = time.perf_counter()
        if fn is not None:
            model = fn(model)
        init_seconds = time.perf_counter() - t0
        res = finetune(model, train, test, seed=seed, init=name, **finetune_kwargs)
        res.config["init_seconds"] = init_seconds
        results[name] = res
        del model
    return results


def format_results(results: Mapping[str, FinetuneResult]) -> str:
    """A plain-text table: test top-1 (%) per epoch and time, one row per initialization."""
    if not results:
        return ""
    epochs = max(len(r.test_top1) for r in results.values())
    width = max(6, *(len(k) for k in results))
    head = f"{'init':<{width}} " + " ".join(f"{'ep' + str(e):>6}" for e in range(epochs)) + "   seconds"
    rows = [head]
    for name, r in results.items():
        cells = " ".join(f"{100 * v:6.2f}" for v in r.test_top1)
        rows.append(f"{name:<{width}} {cells}   {r.seconds:7.1f}" + ("  (diverged)" if r.diverged else ""))
    return "\n".join(rows)


_COLORS = {"ghn": "tab:blue", "random": "tab:orange", "default": "tab:orange"}


def _plot_one(ax_acc, ax_loss, results: Mapping[str, FinetuneResult], title: str | None) -> None:
    for i, (name, r) in enumerate(results.items()):
        color = _COLORS.get(name, f"C{i + 2}")
        ax_acc.plot(r.eval_epochs, [100 * v for v in r.eval_top1], "o-", color=color, label=name, ms=3)
        if ax_loss is not None:
            ax_loss.plot(range(1, len(r.train_loss) + 1), r.train_loss, "o-", color=color, label=name, ms=3)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("test top-1 (%)")
    ax_acc.grid(alpha=0.3)
    if title:
        ax_acc.set_title(title, fontsize=9)
    if ax_loss is not None:
        ax_loss.set_xlabel("epoch")
        ax_loss.set_ylabel("train loss")
        ax_loss.grid(alpha=0.3)


def plot_curves(results: Mapping[str, FinetuneResult] | Mapping[str, Mapping[str, FinetuneResult]],
                path: str | Path, title: str | None = None) -> Path:
    """Write a PNG of test accuracy at every evaluation point (and training loss per epoch) against epochs.

    ``results``: ``{init: FinetuneResult}`` (one net: accuracy and loss panels) or
    ``{net: {init: FinetuneResult}}`` (one accuracy panel per net).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not results:
        raise ValueError("plot_curves needs at least one result")
    nested = all(isinstance(v, Mapping) for v in results.values())
    if not nested:
        fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
        _plot_one(a, b, results, title)
        a.legend()
    else:
        n = len(results)
        cols = min(5, n)
        rows = math.ceil(n / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
        for ax, (net, res) in zip(axes.flat, results.items()):
            _plot_one(ax, None, res, net)
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=8)
        if title:
            fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
