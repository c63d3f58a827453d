"""One-line prediction with the shipped GHN: ``graphparam.predict(model)`` and ``predict_onnx``."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Sequence

import torch.nn as nn

from graphparam.model import GHN

DEFAULT_GHN = "cifar10"


@lru_cache(maxsize=4)
def _cached(name: str, device: str | None) -> GHN:
    return GHN.from_pretrained(name, device=device).eval()


def load(name: str = DEFAULT_GHN, device: str | None = None) -> GHN:
    """The GHN a name or directory refers to (``"cifar10"`` is shipped in the package), cached."""
    return _cached(str(name), None if device is None else str(device))


def predict(model: nn.Module, input_size: Sequence[int] = (3, 32, 32), *, ghn: GHN | str | None = None) -> nn.Module:
    """Fill ``model``'s parameters in place with the GHN's prediction and return it."""
    ghn = ghn if isinstance(ghn, GHN) else load(ghn or DEFAULT_GHN)
    return ghn.predict(model, input_size=input_size)


def predict_onnx(src: str | os.PathLike, dst: str | os.PathLike, *, ghn: GHN | str | None = None) -> str:
    """Write a copy of the ONNX model ``src`` to ``dst`` with every parameter initializer predicted."""
    from graphparam.graph.onnx import trace_onnx, write_initializers

    ghn = ghn if isinstance(ghn, GHN) else load(ghn or DEFAULT_GHN)
    graph = trace_onnx(src)
    tensors = {name: t.detach().cpu() for name, t in ghn.predict_tensors(graph).items()}
    write_initializers(src, tensors, dst)
    return str(dst)
