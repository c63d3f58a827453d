"""Validation during training: predict the first nets of the ``val`` split, evaluate each on held-out
training images with the zero-shot protocol (:func:`graphparam.evaluate.evaluate`)."""

from __future__ import annotations

import statistics
import time

import torch

from graphparam.data import ImageSet
from graphparam.evaluate import evaluate
from graphparam.train.build import Arch, build_arch

__all__ = ["Validator", "val_archs", "describe_val"]


def val_archs(num_nets: int, device: torch.device | str, num_classes: int, input_size: tuple[int, ...]) -> list[Arch]:
    """The first ``num_nets`` nets of the ``val`` split, built for ``num_classes`` and ``input_size``."""
    import arch_zoo

    return [build_arch(i, spec, device, num_classes, input_size)
            for i, spec in enumerate(arch_zoo.split("val")[:num_nets])]


class Validator:
    def __init__(self, images: ImageSet, num_nets: int, device: torch.device, amp: bool = True):
        self.images = images
        self.num_nets = int(num_nets)
        self.device = device
        self.amp = amp
        self._archs: list[Arch] | None = None

    @property
    def enabled(self) -> bool:
        return self.images is not None and self.num_nets > 0

    def archs(self) -> list[Arch]:
        if self._archs is None:
            # built for the held-out images' label count and shape (those of the training data)
            self._archs = val_archs(self.num_nets, self.device, self.images.num_classes,
                                    tuple(self.images.images.shape[1:]))
        return self._archs

    @torch.no_grad()
    def __call__(self, ghn: torch.nn.Module) -> dict:
        """Mean/min/max top-1 and mean loss of the GHN's predictions for the validation nets, and the
        top-1 of each net (``top1_nets``, in split order) for per-net comparisons across runs."""
        from graphparam.model import fill

        start = time.perf_counter()
        was_training = ghn.training
        ghn.eval()
        try:
            top1, losses = [], []
            for arch in self.archs():
                with torch.autocast(self.device.type, dtype=torch.bfloat16,
                                    enabled=self.amp and self.device.type == "cuda"):
                    params = ghn([arch.graph])[0]
                fill(arch.net, params)
                res = evaluate(arch.net, self.images, batch_size=min(250, len(self.images)),
                               device=self.device, progress=False)
                top1.append(res.top1)
                losses.append(res.loss)
        finally:
            ghn.train(was_training)
        finite = [v for v in losses if v == v and abs(v) != float("inf")]
        return {"top1": statistics.fmean(top1), "top1_min": min(top1), "top1_max": max(top1),
                "loss": statistics.fmean(finite) if finite else float("nan"), "nets": len(top1),
                "top1_nets": [round(v, 4) for v in top1],
                "images": len(self.images), "seconds": time.perf_counter() - start}


def describe_val(step: int, val: dict) -> str:
    """One line for a validation result (the trainer's progress bar, experiments/finish_run.py)."""
    return (f"step {step}: val top1 {100 * val['top1']:.2f}% loss {val['loss']:.3f} "
            f"({val['nets']} nets, {val['images']} images, {val['seconds']:.0f}s)")
