"""Ranking candidate nets: :func:`rank` initializes every candidate and scores it; the result is a :class:`Ranking`."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
import torch.nn as nn

from graphparam.data.imageset import ImageSet
from graphparam.evaluate import EVAL_BATCH_SIZE
from graphparam.nas.candidates import materialize
from graphparam.nas.embedding import EmbeddingScorer
from graphparam.nas.scores import SCORE_TABLE, SCORES, Scoring
from graphparam.predict import GHNInitializer

__all__ = ["rank", "Ranking", "held_out_subset"]


@dataclass
class Ranking:
    """Scores of candidate architectures, best first by the primary score ``score``.

    ``names[i]`` / ``scores[s][i]``: candidate ``i`` and its value of score ``s`` (higher is
    better). ``order``: candidate indices, best first (ties kept in input order, non-finite last).
    ``models[i]``: the initialized model of candidate ``i`` (``None`` for candidates outside the
    kept top ``k``). ``details``: extra per-candidate values (e.g. zero-shot loss) and timings.
    """

    names: list[str]
    score: str
    scores: dict[str, list[float]]
    order: list[int]
    models: list[nn.Module | None] = field(repr=False)
    k: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def top(self, k: int | None = None) -> list[str]:
        """Names of the ``k`` best candidates (default: the ``k`` of the ranking, else all)."""
        k = k if k is not None else (self.k if self.k is not None else len(self.order))
        return [self.names[i] for i in self.order[:k]]

    @property
    def ranks(self) -> list[int]:
        """Position (0 = best) of each candidate."""
        pos = [0] * len(self.order)
        for r, i in enumerate(self.order):
            pos[i] = r
        return pos

    def as_dict(self) -> dict:
        return {"names": self.names, "score": self.score, "scores": self.scores, "order": self.order,
                "k": self.k, "details": self.details, "seconds": self.seconds}


_GHN_SCORES = {name for name, s in SCORE_TABLE.items() if s.needs_ghn}


def _order(values: Sequence[float]) -> list[int]:
    return sorted(range(len(values)), key=lambda i: (0, -values[i]) if math.isfinite(values[i]) else (1, 0))


def held_out_subset(data: ImageSet, n: int | None, seed: int = 0) -> ImageSet:
    """``n`` images of ``data`` drawn with a seeded permutation (all of it when ``n`` is None or larger)."""
    if n is None or n >= len(data):
        return data
    idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
    return data.subset(idx, name=f"{data.name}[{n}]")


def rank(candidates, data: ImageSet, *, ghn=None, score: str | Sequence[str] = "zero_shot", k: int | None = None,
         scorer: EmbeddingScorer | None = None, input_size: Sequence[int] | None = None,
         eval_images: int | None = 500, eval_batch_size: int = EVAL_BATCH_SIZE, proxy_batch: int = 64,
         ghn_batch: int | None = 16, device: str | torch.device | None = None, seed: int = 0,
         progress: bool = False) -> Ranking:
    """Initialize and score every candidate; rank by the first of ``score``.

    candidates: a sequence (or a ``name -> candidate`` mapping) of ``nn.Module``s, ``arch_zoo``
        ``ArchSpec``s, real-model names (``arch_zoo.real``) or callables returning a model. Specs,
        names and callables are built under ``torch.manual_seed(seed + i)``.
    data: held-out images; ``eval_images`` of them (seeded subset) are used for the zero-shot
        scores, the first ``proxy_batch`` of that subset for ``grad_norm``.
    ghn: required for ``zero_shot``, ``zero_shot_loss`` and ``embedding``. When given, every
        candidate's parameters are predicted (``GHNInitializer.many``, ``ghn_batch`` graphs per
        pass) and all scores are computed on those parameters.
    scorer: a fitted :class:`EmbeddingScorer`, required for ``embedding``.
    k: keep the models of the ``k`` best candidates only (``None``: keep all).
    device: where models are scored (default: the GHN's device, else CPU); models end there.
    """
    start = time.perf_counter()
    scores_wanted = [score] if isinstance(score, str) else list(score)
    unknown = [s for s in scores_wanted if s not in SCORES]
    if unknown or not scores_wanted:
        raise ValueError(f"unknown score(s) {unknown}; known: {', '.join(SCORES)}")
    if ghn is None and _GHN_SCORES & set(scores_wanted):
        raise ValueError(f"scores {sorted(_GHN_SCORES & set(scores_wanted))} need a GHN (ghn=...)")
    if "embedding" in scores_wanted and (scorer is None or not scorer.fitted):
        raise ValueError("score 'embedding' needs a fitted EmbeddingScorer (scorer=...)")
    size = tuple(input_size) if input_size is not None else (3, *data.image_size)
    dev = torch.device(device) if device is not None else (ghn.device if ghn is not None else torch.device("cpu"))

    names, models = materialize(candidates, data.num_classes, seed)
    timings: dict[str, float] = {}
    details: dict[str, Any] = {}
    t = time.perf_counter()
    for m in models:
        m.to(dev)
    if ghn is not None:
        GHNInitializer(ghn, size, batch_size=ghn_batch).many(models)
        timings["ghn_init"] = time.perf_counter() - t

    held = held_out_subset(data, eval_images, seed)
    run = Scoring(models, held, size, ghn, scorer, eval_batch_size, proxy_batch, progress, timings, details)
    scores: dict[str, list[float]] = {}
    for name, entry in SCORE_TABLE.items():  # table order, whatever the order asked for
        if name in scores_wanted:
            t = time.perf_counter()
            scores[name] = entry.compute(run)
            if entry.timed:
                timings[name] = time.perf_counter() - t
    scores = {s: [float(v) for v in scores[s]] for s in scores_wanted}
    order = _order(scores[scores_wanted[0]])
    if k is not None:
        keep = set(order[:k])
        models = [m if i in keep else None for i, m in enumerate(models)]
    details["timings"] = timings
    details["init"] = "ghn" if ghn is not None else "default"
    return Ranking(names=names, score=scores_wanted[0], scores=scores, order=order, models=models, k=k,
                   details=details, seconds=time.perf_counter() - start)
