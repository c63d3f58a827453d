"""A loss on a predicted net's *body*: how well a closed-form ridge probe separates its penultimate features.

The cross-entropy of a predicted net is easiest to lower through its classifier; the linear-probe diagnosis
(the retired ``experiments/linear_probe.py``: ``git show 56b868d:experiments/linear_probe.py``) showed the GHN
learning heads while its bodies probe no better than random ones. With ``--probe-weight W`` each net's loss adds ``W`` times the cross-entropy of a ridge regression
fitted, in closed form and differentiably, on the features entering the net's last ``nn.Linear`` for one
half of its image batch and scored on the other half (kernel form, so the cost is one n x n solve whatever
the feature width). Its gradient reaches only the layers below the head: it asks the body for features a
linear map can read, whatever head the GHN predicts.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["last_linear", "head_inputs", "ridge_probe_loss"]


def last_linear(net: nn.Module) -> tuple[str, nn.Linear]:
    """``(name, module)`` of the last ``nn.Linear`` of ``net``: the classifier of the nets graphparam predicts."""
    linears = [(name, m) for name, m in net.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(net).__name__} has no nn.Linear head to probe")
    return linears[-1]


@contextmanager
def head_inputs(net: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Within the block, each forward of ``net`` appends the (flattened) input of its last ``nn.Linear``
    to the yielded list; works under ``torch.func.functional_call``."""
    captured: list[torch.Tensor] = []
    hook = last_linear(net)[1].register_forward_hook(lambda m, args, out: captured.append(args[0].flatten(1)))
    try:
        yield captured
    finally:
        hook.remove()


def ridge_probe_loss(features: torch.Tensor, labels: torch.Tensor, num_classes: int = 10,
                     ridge: float = 1.0, scale: float = 10.0) -> torch.Tensor:
    """Cross-entropy, on the second half of the batch, of a kernel ridge regression onto centred one-hot
    labels fitted on the first half. Features are centred and L2-normalised per image, so the kernel's
    entries lie in [-1, 1] and ``scale`` sets the logits' range independently of the net's activations."""
    n = features.shape[0] // 2
    if n < 2:
        raise ValueError(f"the probe loss needs at least 4 images per net, got {features.shape[0]}")
    f = features.float()
    f = F.normalize(f - f.mean(0, keepdim=True), dim=1)
    fit, score = f[:n], f[n:2 * n]
    targets = F.one_hot(labels[:n], num_classes).float()
    targets = targets - targets.mean(0, keepdim=True)
    kernel = fit @ fit.T + ridge * torch.eye(n, device=f.device)
    alpha = torch.linalg.solve(kernel, targets)
    logits = scale * (score @ fit.T) @ alpha
    return F.cross_entropy(logits, labels[n:2 * n])
