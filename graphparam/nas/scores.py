"""The scores :func:`~graphparam.nas.rank` knows (:data:`SCORE_TABLE`) and what they read (:class:`Scoring`)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn as nn

from graphparam.data.imageset import ImageSet
from graphparam.evaluate import evaluate
from graphparam.nas.embedding import EmbeddingScorer
from graphparam.nas.proxies import grad_norm, param_count, synflow

__all__ = ["Score", "SCORE_TABLE", "SCORES", "Scoring"]


@dataclass
class Scoring:
    """What the scores of one :func:`rank` call read; the zero-shot evaluation runs once for both of its scores."""

    models: list[nn.Module]
    held: ImageSet
    size: tuple[int, ...]
    ghn: Any
    scorer: EmbeddingScorer | None
    eval_batch_size: int
    proxy_batch: int
    progress: bool
    timings: dict[str, float]
    details: dict[str, Any]
    _zero_shot: tuple[list[float], list[float]] | None = None

    def zero_shot(self) -> tuple[list[float], list[float]]:
        """Top-1 and loss of every model under the zero-shot protocol."""
        if self._zero_shot is None:
            from tqdm.auto import tqdm

            t = time.perf_counter()
            top1, loss = [], []
            for m in tqdm(self.models, desc="zero-shot", disable=not self.progress, leave=False):
                r = evaluate(m, self.held, batch_size=self.eval_batch_size, progress=False)
                top1.append(r.top1)
                loss.append(r.loss)
            self.timings["zero_shot"] = time.perf_counter() - t
            self.details["zero_shot_loss"] = loss
            self.details["eval_images"] = len(self.held)
            self._zero_shot = (top1, loss)
        return self._zero_shot


def _param_score(run: Scoring) -> list[float]:
    counts = [param_count(m) for m in run.models]
    run.details["param_count"] = counts
    return [math.log10(max(1, c)) for c in counts]


def _grad_norm_score(run: Scoring) -> list[float]:
    idx = torch.arange(min(run.proxy_batch, len(run.held)))
    x, y = run.held.images[idx], run.held.labels[idx]
    return [grad_norm(m, x, y) for m in run.models]


@dataclass(frozen=True)
class Score:
    """One way to score candidates (higher is better): ``compute(run)`` gives one value per model.

    ``needs_ghn``: only defined on GHN predictions; ``timed``: its seconds go to ``details["timings"]``.
    """

    name: str
    compute: Callable[[Scoring], list[float]]
    needs_ghn: bool = False
    timed: bool = True


#: every score :func:`rank` knows, in the order they are computed (see :mod:`graphparam.nas`)
SCORE_TABLE: dict[str, Score] = {s.name: s for s in (
    Score("zero_shot", lambda run: run.zero_shot()[0], needs_ghn=True, timed=False),
    Score("zero_shot_loss", lambda run: [-v if math.isfinite(v) else -math.inf for v in run.zero_shot()[1]],
          needs_ghn=True, timed=False),
    Score("embedding", lambda run: run.scorer.score(run.ghn, run.models, run.size), needs_ghn=True),
    Score("params", _param_score, timed=False),
    Score("grad_norm", _grad_norm_score),
    Score("synflow", lambda run: [synflow(m, run.size) for m in run.models]),
)}
SCORES = tuple(SCORE_TABLE)
