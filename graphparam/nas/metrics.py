"""How well one ranking of candidates agrees with another: Kendall's tau and top-k precision."""

from __future__ import annotations

import math
from typing import Sequence

__all__ = ["kendall_tau", "top_k_precision"]


def kendall_tau(scores: Sequence[float], truth: Sequence[float]) -> float:
    """Kendall's tau-b between two score vectors (``nan`` if either is constant)."""
    from scipy.stats import kendalltau

    if len(scores) < 2:
        return float("nan")
    tau = kendalltau(list(map(float, scores)), list(map(float, truth))).statistic
    return float(tau) if tau is not None else float("nan")


def top_k_precision(scores: Sequence[float], truth: Sequence[float], k: int = 10) -> float:
    """Fraction of the ``k`` best candidates by ``scores`` that are among the ``k`` best by ``truth``.

    Ties are broken by position (stable sort). Non-finite scores rank last.
    """
    n = len(scores)
    k = min(k, n)
    if k == 0:
        return float("nan")

    def best(v):
        keyed = [(-(x if math.isfinite(x) else -math.inf), i) for i, x in enumerate(map(float, v))]
        return {i for _, i in sorted(keyed)[:k]}

    return len(best(scores) & best(truth)) / k
