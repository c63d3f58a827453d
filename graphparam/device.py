"""Where tensors live: the device a module's tensors are on, and the device a name such as ``auto`` means."""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["device_of", "resolve_device"]


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
