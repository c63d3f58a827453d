"""Learning-rate schedule of meta-training: :class:`graphparam.optim.WarmupCosine` (linear warmup,
then cosine decay to ``min_ratio`` of the peak, over steps or over the time budget)."""

from graphparam.optim import WarmupCosine

__all__ = ["WarmupCosine"]
