"""Where tensors live: the device a module's tensors are on, and the device a name such as ``auto`` means."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn as nn

__all__ = ["device_of", "resolve_device", "prediction_threads", "PREDICT_THREADS_ENV"]

#: environment variable that overrides the intra-op CPU threads of a GHN prediction (default 1)
PREDICT_THREADS_ENV = "GRAPHPARAM_PREDICT_THREADS"


def device_of(module: nn.Module) -> torch.device:
    """The device of ``module``'s first parameter, else of its first buffer, else CPU."""
    for t in module.parameters():
        return t.device
    for t in module.buffers():
        return t.device
    return torch.device("cpu")


def resolve_device(name: str | torch.device | None = "auto", local_rank: int = 0) -> torch.device:
    """``auto`` (or None) → ``cuda:<local_rank>`` when CUDA is available, else CPU; ``cuda`` gets the local rank."""
    if name is None or name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device


@contextmanager
def prediction_threads(threads: int | None = None) -> Iterator[int]:
    """Run the block with at most ``threads`` intra-op CPU threads (default: ``$GRAPHPARAM_PREDICT_THREADS``,
    else 1), then restore torch's setting; yields the count in force.

    A GHN prediction is thousands of small ops. With a second thread, each op ends in an OpenMP barrier that
    waits for that thread; on a loaded 2-core machine ResNet-50 trace + predict took 16-82x PyTorch's default
    init on 2 threads, 3.2-3.4x on one, busy core or not (``experiments/results/predict_load.md``); one thread
    was no slower than two on a quieter machine either (``experiments/results/predict.md``).
    """
    n = int(threads or os.environ.get(PREDICT_THREADS_ENV) or 1)
    old = torch.get_num_threads()
    if n >= old:
        yield old
        return
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(old)
