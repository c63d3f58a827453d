"""The zero-shot evaluation protocol: the single definition used by every caller.

``evaluate(model, data)`` reports the top-1 accuracy and mean cross-entropy of
``model`` on an :class:`~graphparam.data.ImageSet`, with these rules:

Inputs
    The uint8 images are normalized with the channel mean/std of ``cfg``, the
    GHN's :class:`~graphparam.pretrained_cfg.PretrainedCfg` (default
    :data:`~graphparam.pretrained_cfg.DEFAULT_CFG`: CIFAR-10's)
    (:func:`graphparam.data.normalize`); no other transform, no test-time
    augmentation.

BatchNorm policy
    Parameters predicted by the hypernetwork come without BatchNorm running
    statistics, so every BatchNorm layer (any ``torch.nn.modules.batchnorm._BatchNorm``:
    BatchNorm1d/2d/3d, SyncBatchNorm, timm's BatchNormAct2d, ...) normalizes
    with the mean and variance of the evaluation batch itself, i.e. train-mode
    BatchNorm semantics. The running buffers (``running_mean``, ``running_var``,
    ``num_batches_tracked``) are neither read nor updated: during evaluation
    each such layer runs with ``training=True`` and ``track_running_stats=False``.
    Everything else (dropout, drop-path, ...) runs in eval mode. Afterwards
    every module's ``training`` flag and ``track_running_stats`` are restored.
    Layers with frozen statistics (e.g. FrozenBatchNorm2d) are left as they are.
    The same policy is applied to trained models, so numbers are comparable.

Batches
    Because batch statistics make a prediction depend on the other images in its
    batch, the batch composition is fixed by the data alone: images are first put
    in a canonical order (an exact integer hash of their pixels, ties broken by
    label), then visited in a fixed pseudo-random permutation (seed 0). Each
    batch is thus a class mix even for a class-sorted test set, and the result
    does not depend on the order in which the ImageSet stores the images. The
    ``N`` images are split into ``ceil(N / batch_size)`` batches whose sizes
    differ by at most one (no tiny last batch). Results depend on ``batch_size``
    (default 250): report it with the numbers.
"""

from __future__ import annotations

import math
import statistics
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm

from .data.augment import normalize
from .data.imageset import ImageSet
from .errors import ArgumentValueError, HeadMismatchError, InputSizeError, first_line
from .pretrained_cfg import DEFAULT_CFG, PretrainedCfg

__all__ = ["EvalResult", "evaluate", "summarize", "batch_statistics_bn", "evaluation_order", "first_images",
           "check_head", "EVAL_SEED", "EVAL_BATCH_SIZE"]

EVAL_SEED = 0
EVAL_BATCH_SIZE = 250
_HASH_SEED = 20240601


@dataclass(frozen=True)
class EvalResult:
    top1: float      # fraction of correct top-1 predictions, in [0, 1]
    n: int           # number of images evaluated
    loss: float      # mean cross-entropy (nats); may be nan/inf for broken parameters
    seconds: float   # wall-clock time of the evaluation

    @property
    def correct(self) -> int:
        return round(self.top1 * self.n)

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return f"top1 {100 * self.top1:.2f}% on {self.n} images, loss {self.loss:.4f}, {self.seconds:.1f}s"


@contextmanager
def batch_statistics_bn(model: torch.nn.Module):
    """Within the block: ``model`` in eval mode except BatchNorm layers, which use batch
    statistics and leave their running buffers untouched. Restores all modes on exit."""
    modes = [(m, m.training) for m in model.modules()]
    bns = [(m, m.track_running_stats) for m in model.modules() if isinstance(m, _BatchNorm)]
    try:
        model.eval()
        for m, _ in bns:
            m.training = True
            m.track_running_stats = False
        yield model
    finally:
        for m, tracked in bns:
            m.track_running_stats = tracked
        for m, training in modes:
            m.training = training


def _canonical_order(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Indices sorting the images by an exact integer hash of their pixels, then label."""
    n = images.shape[0]
    flat = images.reshape(n, -1)
    g = torch.Generator().manual_seed(_HASH_SEED)
    # weights < 2**31 and pixels < 256: sums of <= 2**24 terms cannot overflow int64
    w = torch.randint(0, 2 ** 31, (flat.shape[1],), generator=g, dtype=torch.int64).to(flat.device)
    keys = torch.empty(n, dtype=torch.int64, device=flat.device)
    chunk = max(1, (1 << 24) // max(1, flat.shape[1]))
    for a in range(0, n, chunk):
        keys[a:a + chunk] = (flat[a:a + chunk].to(torch.int64) * w).sum(1)
    order = np.lexsort((labels.cpu().numpy(), keys.cpu().numpy()))
    return torch.from_numpy(order.astype(np.int64))


def evaluation_order(data: ImageSet, seed: int = EVAL_SEED) -> torch.Tensor:
    """The order (CPU int64 indices into ``data``) in which :func:`evaluate` visits images."""
    canonical = _canonical_order(data.images, data.labels)
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    return canonical[perm]


def first_images(data: ImageSet, n: int | None) -> ImageSet:
    """The first ``n`` images of the evaluation order: a fixed class mix (the shared test set is sorted
    by class); ``data`` itself when ``n`` is None, 0 or at least its size."""
    if n is not None and n < 0:  # a negative n would silently mean "all but the last -n"
        raise ArgumentValueError(f"the number of images must be >= 0 (0: all), got {n}")
    if not n or n >= len(data):
        return data
    return data.subset(evaluation_order(data)[:n], name=f"{data.name}[:{n}]")


def _model_device_dtype(model: torch.nn.Module) -> tuple[torch.device | None, torch.dtype]:
    """Device of the model's first floating tensor (else any tensor) and its dtype."""
    tensors = list(model.parameters()) + list(model.buffers())
    for t in tensors:
        if t.is_floating_point():
            return t.device, t.dtype
    return (tensors[0].device if tensors else None), torch.float32


def logits_of(out) -> torch.Tensor:
    """The logits in a model's output: a tensor, the first of a tuple, or ``out["logits"]``."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]  # e.g. (logits, auxiliary logits)
    if isinstance(out, dict) and "logits" in out:
        return out["logits"]
    raise TypeError(f"model output of type {type(out).__name__} is not logits")


def check_head(logits: torch.Tensor, data: ImageSet) -> torch.Tensor:
    """``logits`` if it has one column per class of ``data``, else :class:`HeadMismatchError`.

    A narrower head would fail inside ``cross_entropy`` (``IndexError: Target 4 is out of bounds``);
    a wider one would report an accuracy for a model that can predict classes ``data`` does not have.
    """
    if logits.ndim == 2 and logits.shape[1] != data.num_classes:
        raise HeadMismatchError(int(logits.shape[1]), data.num_classes, data.name)
    return logits


def evaluate(model: torch.nn.Module, data: ImageSet, batch_size: int = EVAL_BATCH_SIZE,
             device: str | torch.device | None = None, progress: bool = True, *,
             cfg: PretrainedCfg | None = None) -> EvalResult:
    """Zero-shot top-1 accuracy and loss of ``model`` on ``data`` (see the module docstring).

    ``device``: where the images go; the model must already live there.
    None means the model's device (CPU for a model without tensors).
    ``cfg``: whose ``mean`` and ``std`` normalize the images (``ghn.pretrained_cfg`` of the GHN that
    predicted the model); None means :data:`~graphparam.pretrained_cfg.DEFAULT_CFG`.
    """
    cfg = cfg if cfg is not None else DEFAULT_CFG
    if len(data) == 0:
        raise ValueError("cannot evaluate on an empty ImageSet")
    if batch_size < 1:
        raise ArgumentValueError(f"batch size must be >= 1, got {batch_size}")
    start = time.perf_counter()
    model_device, dtype = _model_device_dtype(model)
    device = torch.device(device) if device is not None else (model_device or torch.device("cpu"))
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    if model_device is not None and model_device != device:
        raise ValueError(f"the model is on {model_device} but device={device}; move it first "
                         f"(model.to({str(device)!r}))")

    from tqdm.auto import tqdm

    order = evaluation_order(data).to(device)
    batches = torch.tensor_split(order, math.ceil(len(data) / batch_size))
    images = data.images.to(device, non_blocking=True)
    labels = data.labels.to(device, non_blocking=True)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    bar = None  # shown once the first batch passed check_head, so that a bad head's error stands alone
    with torch.inference_mode(), batch_statistics_bn(model):
        for idx in batches:
            x = normalize(images[idx], mean=cfg.mean, std=cfg.std, dtype=dtype)
            y = labels[idx]
            try:
                out = model(x)
            except Exception as exc:  # the first batch: the model does not take these images (e.g. a 224x224 ViT)
                if bar is not None:
                    raise
                raise InputSizeError(f"{type(model).__name__} does not run on the "
                                     f"{'x'.join(map(str, data.images.shape[1:]))} images of {data.name}: "
                                     f"{first_line(exc)}") from exc
            logits = check_head(logits_of(out).float(), data)
            loss_sum += F.cross_entropy(logits, y, reduction="sum").double()
            correct += (logits.argmax(1) == y).sum()
            if bar is None:
                bar = tqdm(total=len(batches), desc=f"eval {data.name}", unit="batch", leave=False,
                           disable=not progress)
            bar.update(1)
    if bar is not None:
        bar.close()
    n = len(data)
    top1 = correct.item() / n
    loss = loss_sum.item() / n
    return EvalResult(top1=top1, n=n, loss=loss, seconds=time.perf_counter() - start)


def summarize(accuracies: dict[str, float]) -> dict:
    """Statistics of per-architecture accuracies (name -> value) for one split.

    Returns n, mean, std (population, ddof=0), min, max, median, and the names
    argmin / argmax. Values keep the unit they were given in.
    """
    if not accuracies:
        raise ValueError("summarize() needs at least one accuracy")
    names = list(accuracies)
    vals = [float(accuracies[k]) for k in names]
    i_min = min(range(len(vals)), key=vals.__getitem__)
    i_max = max(range(len(vals)), key=vals.__getitem__)
    return {
        "n": len(vals),
        "mean": statistics.fmean(vals),
        "std": statistics.pstdev(vals),
        "min": vals[i_min],
        "max": vals[i_max],
        "median": statistics.median(vals),
        "argmin": names[i_min],
        "argmax": names[i_max],
    }
