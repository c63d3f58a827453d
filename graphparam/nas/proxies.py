"""Baselines for ranking candidate nets: the parameter count and the zero-cost proxies ``grad_norm`` and ``synflow``."""

from __future__ import annotations

import copy
import math
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm

from graphparam.data.augment import normalize
from graphparam.device import device_of
from graphparam.evaluate import logits_of
from graphparam.pretrained_cfg import resolve_input_size

__all__ = ["param_count", "grad_norm", "synflow"]


def param_count(model: nn.Module) -> int:
    """Number of parameter elements (shared tensors counted once)."""
    return sum(p.numel() for p in model.parameters())


def grad_norm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Zero-cost proxy: ``||d CE / d theta||_2`` over all parameters, on one batch.

    ``images``: a normalized float batch (or a uint8 batch, normalized here with the CIFAR-10
    statistics). The model runs in train mode (batch-statistics BN) on a deep copy, so neither
    its parameters, its buffers nor its gradients change.
    """
    net = copy.deepcopy(model)
    dev = device_of(net)
    x = normalize(images.to(dev)) if images.dtype == torch.uint8 else images.to(dev)
    net.train()
    net.zero_grad(set_to_none=True)
    loss = F.cross_entropy(logits_of(net(x)).float(), labels.to(dev))
    loss.backward()
    sq = torch.zeros((), dtype=torch.float64, device=dev)
    for p in net.parameters():
        if p.grad is not None:
            sq += p.grad.detach().double().pow(2).sum()
    return float(sq.sqrt().item())


def synflow(model: nn.Module, input_size: Sequence[int] | None = None) -> float:
    """Zero-cost proxy SynFlow: ``log10 sum |theta * dR/dtheta|`` with ``R = sum f_|theta|(1)``.

    Computed on a float64 deep copy whose parameters are replaced by their absolute values, on an
    all-ones input of ``input_size`` (C, H, W; default: the default config's, see
    :mod:`graphparam.pretrained_cfg`), with every module in eval mode (BatchNorm uses its running
    statistics: at a fresh or predicted initialization mean 0 / variance 1, i.e. an affine map). Returns the
    log10 of the saliency (``-inf`` when it is 0, e.g. nets whose LayerNorm zeroes a constant
    input, ``inf`` on overflow).
    """
    net = copy.deepcopy(model).double()
    dev = device_of(net)
    net.eval()
    for m in net.modules():  # fresh-init statistics, whatever the model carried
        if isinstance(m, _BatchNorm) and m.track_running_stats and m.running_mean is not None:
            m.reset_running_stats()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad(set_to_none=True)
    x = torch.ones((1, *resolve_input_size(input_size)), dtype=torch.float64, device=dev)
    out = logits_of(net(x))
    out.sum().backward()
    total = torch.zeros((), dtype=torch.float64, device=dev)
    for p in net.parameters():
        if p.grad is not None:
            total += (p.detach() * p.grad).abs().sum()
    value = float(total.item())
    if value == 0.0:
        return float("-inf")
    if not math.isfinite(value):
        return float("inf")
    return math.log10(value)
