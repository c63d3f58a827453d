"""Revive the GHN's bounded read-outs after training has saturated them.

Vector elements (biases, norm scales and shifts, layer scales) are ``bound * tanh(raw)`` and the per-slot
weight gains ``range ** tanh(g)`` (:mod:`graphparam.model.normalize`, :mod:`graphparam.model.decoder`).
Under plain cross-entropy, Adam pushed every one of them to its lower bound within the first thousand steps of
the shipped lineage (median raw value about -150 for the vectors and -5 for the gains after 15 core-hours),
where ``tanh`` has no gradient left: every norm of every net got scale 0.5 and shift -0.1 and nothing could
change it. Both read-outs are linear in their weights and biases (the vectors' ``phi(i) · m(c) + b(c)`` with
``(m, b) = read_e(c)``; the gains ``log_gain(c)``), so scaling a read-out's weight and bias by ``a`` scales
its raw outputs by ``a``: :func:`desaturate` picks ``a`` so that the median ``|raw|`` over a set of nets is
``target``, which keeps each output near its bound (``tanh(2) = 0.96``) and its gradient alive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from graphparam.graph.ir import ArchGraph

__all__ = ["Desaturation", "readout_raw", "desaturate"]


@dataclass(frozen=True)
class Desaturation:
    """The median ``|raw|`` of each read-out before and after, and the factor its weight and bias got."""

    vector_before: float
    vector_after: float
    vector_factor: float
    gain_before: float
    gain_after: float
    gain_factor: float


@torch.no_grad()
def readout_raw(ghn, graphs: Sequence[ArchGraph]) -> tuple[torch.Tensor, torch.Tensor]:
    """The raw (pre-``tanh``) vector elements and weight-gain outputs of ``ghn`` for ``graphs``."""
    batch = ghn.collate(graphs)
    vectors, gains = ghn.decoder.readouts(ghn.decoder.conditioning(ghn.encode(batch), batch), batch)
    return vectors.float(), gains[:, 0][batch.slot_std > 0].float()  # the gain applies to weight slots only


@torch.no_grad()
def desaturate(ghn, graphs: Sequence[ArchGraph], target: float = 2.0) -> Desaturation:
    """Scale ``ghn``'s vector read-out (``decoder.read_e``) and gain read-out (``decoder.log_gain``) in place so
    that the median ``|raw|`` of each over ``graphs`` is at most ``target``; a read-out already there is left
    as it is (factor 1)."""
    if not target > 0:
        raise ValueError(f"target must be positive, got {target}")
    dec = ghn.decoder
    before = readout_raw(ghn, graphs)
    factors = []
    for raw, layer in zip(before, (dec.read_e, dec.log_gain)):
        median = float(raw.abs().median()) if raw.numel() else 0.0
        factor = min(1.0, target / median) if median > 0 else 1.0
        layer.weight.mul_(factor)
        layer.bias.mul_(factor)
        factors.append(factor)
    after = readout_raw(ghn, graphs)

    def med(t: torch.Tensor) -> float:
        return round(float(t.abs().median()), 4) if t.numel() else 0.0

    return Desaturation(med(before[0]), med(after[0]), factors[0], med(before[1]), med(after[1]), factors[1])
