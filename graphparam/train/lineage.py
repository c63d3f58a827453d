"""What a GHN cost to train, its ``--init-from`` ancestors included.

A run records its own cost in ``pretrained_cfg["training"]`` (``cpu_core_hours`` on a CPU,
``gpu_hours`` on an accelerator), the totals over its lineage (``total_*``) and its parent's record.
"""
from __future__ import annotations

from typing import Any

__all__ = ["COST_KEYS", "lineage_cost", "cost_record", "training_of"]

COST_KEYS = {"cpu_core_hours": 3, "gpu_hours": 4}  # key -> digits kept


def training_of(pretrained_cfg: Any) -> dict | None:
    """The ``training`` record of a GHN's ``pretrained_cfg``: a :class:`~graphparam.pretrained_cfg.PretrainedCfg`
    (its ``.training``), a checkpoint's JSON dict (its ``"training"``) or ``None`` (no record)."""
    from graphparam.pretrained_cfg import PretrainedCfg

    return PretrainedCfg.from_dict(pretrained_cfg).training


def lineage_cost(training: dict | None, key: str) -> float:
    """``key`` (``cpu_core_hours``, ``gpu_hours``) summed over a GHN's training and its ancestors,
    from its ``pretrained_cfg["training"]`` (a run records the total; older runs only their own)."""
    if not training:
        return 0.0
    if "total_" + key in training:
        return float(training["total_" + key])
    return float(training.get(key, 0.0)) + lineage_cost(training.get("parent"), key)


def cost_record(seconds: float, device_type: str, threads: int, world_size: int,
                parent: dict | None) -> dict:
    """This run's cost and the totals over its lineage, as written into ``pretrained_cfg["training"]``."""
    record: dict = {}
    if device_type == "cpu":
        record["cpu_core_hours"] = round(seconds * threads * world_size / 3600, COST_KEYS["cpu_core_hours"])
    else:
        record["gpu_hours"] = round(seconds * world_size / 3600, COST_KEYS["gpu_hours"])
    for key, digits in COST_KEYS.items():
        total = record.get(key, 0.0) + lineage_cost(parent, key)
        if key in record or total:
            record["total_" + key] = round(total, digits)
    return record
