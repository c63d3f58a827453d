"""The candidates :func:`~graphparam.nas.rank` scores, built into models with their names."""

from __future__ import annotations

from typing import Mapping

import torch
import torch.nn as nn

__all__ = ["materialize"]


def materialize(candidates, num_classes: int, seed: int) -> tuple[list[str], list[nn.Module]]:
    """Names and models of ``candidates`` (a sequence, or a ``name -> candidate`` mapping).

    A candidate is an ``nn.Module`` (used as it is), an ``arch_zoo`` ``ArchSpec``, a real-model name
    (``arch_zoo.real``) or a callable returning a model; candidate ``i`` is built under
    ``torch.manual_seed(seed + i)``. Unnamed candidates are named ``candidate{i}``, a spec's hash or the
    real model's name.
    """
    if isinstance(candidates, Mapping):
        items = list(candidates.items())
    else:
        items = [(None, c) for c in candidates]
    names, models = [], []
    for i, (name, c) in enumerate(items):
        torch.manual_seed(seed + i)
        if isinstance(c, nn.Module):
            m, default = c, f"candidate{i}"
        elif isinstance(c, str):
            from arch_zoo import real

            m, default = real.build(c, num_classes=num_classes), c
        elif hasattr(c, "build") and hasattr(c, "hash"):  # arch_zoo.ArchSpec
            m, default = c.build(num_classes=num_classes), c.hash
        elif callable(c):
            m, default = c(), f"candidate{i}"
        else:
            raise TypeError(f"candidate {i}: expected an nn.Module, ArchSpec, real-model name or a "
                            f"callable returning a model, got {type(c).__name__}")
        names.append(str(name) if name is not None else default)
        models.append(m)
    return names, models
