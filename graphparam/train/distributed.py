"""Data-parallel meta-training across processes (``torchrun``).

Every rank draws the same M architectures and the same M image batches each step (the streams
are deterministic and advance identically everywhere); rank r trains the nets ``r, r+K, r+2K, ...``
of the step. The GHN is wrapped in ``DistributedDataParallel`` (gloo on CPU, nccl on CUDA), so the
gradients are averaged across ranks; each rank scales its loss so that the average equals the
mean over all M nets. Only rank 0 writes checkpoints, metrics and plots.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence, TypeVar

import torch
import torch.distributed as dist

from graphparam.device import resolve_device

__all__ = ["DistInfo", "setup", "teardown", "shard", "all_reduce", "agree", "wrap", "unwrap", "resolve_device"]

T = TypeVar("T")


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device_name: str = "auto") -> tuple[DistInfo, torch.device]:
    """Join the process group described by torchrun's environment (no-op for a single process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    info = DistInfo(rank, world, local)
    device = resolve_device(device_name, local)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if info.enabled and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo",
                                rank=rank, world_size=world)
    return info, device


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard(items: Sequence[T], info: DistInfo) -> list[T]:
    """This rank's share of ``items``: every ``world_size``-th item starting at ``rank``."""
    return list(items[info.rank::info.world_size])


def all_reduce(tensor: torch.Tensor, info: DistInfo, op: str = "sum") -> torch.Tensor:
    """In-place all-reduce (``sum`` or ``max``) of ``tensor``; identity for a single process."""
    if info.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX)
    return tensor


def agree(stop: bool, over: bool, elapsed: float, info: DistInfo, device: torch.device) -> tuple[bool, bool, float]:
    """The same control decision on every rank: ``(any rank was asked to stop, rank 0 ran over its time budget,
    rank 0's elapsed seconds)``. Rank 0's clock decides the budget, and every rank takes its elapsed time so the
    learning rate, which follows it, stays the same everywhere."""
    ctrl = torch.tensor([float(bool(stop)), float(over and info.is_main), elapsed if info.is_main else 0.0],
                        dtype=torch.float64)
    if info.enabled:
        ctrl = ctrl.to(device)
    all_reduce(ctrl, info)
    stop_any, over_any, elapsed = ctrl.tolist()
    return bool(stop_any), bool(over_any), float(elapsed)


def wrap(model: torch.nn.Module, info: DistInfo, device: torch.device) -> torch.nn.Module:
    """``model`` in DistributedDataParallel when running on several ranks."""
    if not info.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index] if device.type == "cuda" else None
    # Not every GHN parameter is used for every set of graphs (e.g. no vector slots of some kind).
    return DDP(model, device_ids=ids, output_device=ids[0] if ids else None, find_unused_parameters=True)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return getattr(model, "module", model)
