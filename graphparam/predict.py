"""One-line prediction with the shipped GHN (``graphparam.predict(model)``, ``predict_onnx``),
:func:`load_ghn` (a GHN by name or directory) and :class:`GHNInitializer`, a GHN as a drop-in
initialization (fine-tuning, search loops). Without ``input_size`` a model is traced at the size the
GHN was trained at (its :class:`~graphparam.pretrained_cfg.PretrainedCfg`)."""

from __future__ import annotations

import os
import warnings
from functools import lru_cache
from typing import Sequence

import torch.nn as nn

from graphparam.device import device_of, prediction_threads
from graphparam.model import GHN
from graphparam.pretrained_cfg import resolve_input_size

DEFAULT_GHN = "cifar10"


@lru_cache(maxsize=4)
def _cached(name: str, device: str | None) -> GHN:
    return GHN.from_pretrained(name, device=device).eval()


def load_ghn(name_or_path: str | os.PathLike = DEFAULT_GHN, device: str | None = None) -> GHN:
    """The GHN a registered name (:func:`~graphparam.model.list_pretrained`; ``"cifar10"`` is shipped
    in the package) or a checkpoint directory refers to, in eval mode and cached (one instance per
    name and device: do not train it in place)."""
    return _cached(str(name_or_path), None if device is None else str(device))


def load(name: str = DEFAULT_GHN, device: str | None = None) -> GHN:
    """Deprecated alias of :func:`load_ghn` (kept for one release)."""
    warnings.warn("graphparam.load is deprecated; use graphparam.load_ghn", DeprecationWarning, stacklevel=2)
    return load_ghn(name, device)


def predict(model: nn.Module, input_size: Sequence[int] | None = None, *,
            ghn: GHN | str | None = None) -> nn.Module:
    """Fill ``model``'s parameters in place with the GHN's prediction and return it (on CPU with
    :func:`~graphparam.device.prediction_threads`: one thread unless ``$GRAPHPARAM_PREDICT_THREADS`` says).
    ``input_size`` (C, H, W) to trace the model at: by default the GHN's ``pretrained_cfg.input_size``."""
    ghn = ghn if isinstance(ghn, GHN) else load_ghn(ghn or DEFAULT_GHN)
    with prediction_threads():
        return ghn.predict(model, input_size=resolve_input_size(input_size, ghn))


def predict_onnx(src: str | os.PathLike, dst: str | os.PathLike, *, ghn: GHN | str | None = None) -> str:
    """Write a copy of the ONNX model ``src`` to ``dst`` with every parameter initializer predicted."""
    from graphparam.graph.onnx import trace_onnx, write_initializers

    ghn = ghn if isinstance(ghn, GHN) else load_ghn(ghn or DEFAULT_GHN)
    with prediction_threads():
        graph = trace_onnx(src)
        tensors = {name: t.detach().cpu() for name, t in ghn.predict_tensors(graph).items()}
    write_initializers(src, tensors, dst)
    return str(dst)


class GHNInitializer:
    """``init(model) -> model``: predict every parameter of ``model`` with ``ghn``, in place.

    The model is moved to the GHN's device for the prediction and back to its own device
    afterwards. ``init.many(models)`` does the same for a list of models with batched GHN
    passes of at most ``batch_size`` graphs (``None``: all in one pass). Models are traced at
    ``input_size`` (C, H, W), by default the GHN's ``pretrained_cfg.input_size``.
    BatchNorm running statistics are not predicted: evaluate such nets with batch statistics
    (:func:`graphparam.evaluate.evaluate`) or in train mode.
    """

    def __init__(self, ghn, input_size: Sequence[int] | None = None, batch_size: int | None = 16):
        self.ghn = ghn
        self.input_size = resolve_input_size(input_size, ghn)
        self.batch_size = batch_size

    def __call__(self, model: nn.Module) -> nn.Module:
        return self.many([model])[0]

    def many(self, models: Sequence[nn.Module]) -> list[nn.Module]:
        models = list(models)
        if not models:
            return []
        target = self.ghn.device
        homes = [device_of(m) for m in models]
        step = len(models) if not self.batch_size else int(self.batch_size)
        for a in range(0, len(models), step):
            chunk = models[a:a + step]
            for m in chunk:
                m.to(target)
            with prediction_threads():
                self.ghn.predict_many(chunk, input_size=self.input_size)
            for m, home in zip(chunk, homes[a:a + step]):
                m.to(home)
        return models

    def __repr__(self) -> str:
        return f"GHNInitializer(input_size={self.input_size}, batch_size={self.batch_size})"
