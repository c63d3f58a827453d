"""Neural architecture search helpers: fast ranking of candidate nets.

``GHNInitializer(ghn)`` (from :mod:`graphparam.predict`, also importable here) is a drop-in
replacement for a search loop's own initialization::

    init = GHNInitializer(GHN.from_pretrained("cifar10"))
    model = init(spec.build())            # one net, parameters predicted in place
    models = init.many([s.build() for s in specs])   # batched through ghn.predict_many

``rank(candidates, data, ghn=ghn, score=("zero_shot", "params"))`` predicts the parameters of all
candidates (batched GHN passes) and scores each one; the result is a :class:`Ranking`.

Scores (higher is better for every one):

``zero_shot``       top-1 accuracy of the GHN-predicted net on a small held-out image set, with the
                    zero-shot protocol of :func:`graphparam.evaluate.evaluate` (batch-statistics BN).
``zero_shot_loss``  minus the cross-entropy of the same evaluation (a finer-grained, tie-free variant).
``embedding``       prediction of an :class:`EmbeddingScorer` (ridge regression on mean- and
                    max-pooled GHN node states, fitted on (architecture, trained accuracy) pairs).
``params``          log10 of the parameter count (baseline).
``grad_norm``       zero-cost proxy: L2 norm of the gradient of the cross-entropy on one batch.
``synflow``         zero-cost proxy: log10 of the SynFlow saliency (Tanaka et al., 2020).

The proxies are plain functions (:func:`grad_norm`, :func:`synflow`, :func:`param_count`); in
:func:`rank` they are computed on the candidates as initialized there, i.e. on the GHN prediction
when a GHN is given, else on the default initialization (the usual zero-cost setting).
"""

from __future__ import annotations

import copy
import json
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm

from graphparam.data.augment import normalize
from graphparam.data.imageset import ImageSet
from graphparam.device import device_of
from graphparam.evaluate import EVAL_BATCH_SIZE, evaluate, logits_of
from graphparam.predict import GHNInitializer

__all__ = ["GHNInitializer", "rank", "Ranking", "EmbeddingScorer", "SCORES", "SCORE_TABLE", "Score", "param_count",
           "grad_norm", "synflow", "graph_features", "kendall_tau", "top_k_precision",
           "held_out_subset"]


# ---------------------------------------------------------------------------------------------
# baselines: parameter count and zero-cost proxies
# ---------------------------------------------------------------------------------------------
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


def synflow(model: nn.Module, input_size: Sequence[int] = (3, 32, 32)) -> float:
    """Zero-cost proxy SynFlow: ``log10 sum |theta * dR/dtheta|`` with ``R = sum f_|theta|(1)``.

    Computed on a float64 deep copy whose parameters are replaced by their absolute values, on an
    all-ones input, with every module in eval mode (BatchNorm uses its running statistics: at a
    fresh or predicted initialization mean 0 / variance 1, i.e. an affine map). Returns the
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
    x = torch.ones((1, *input_size), dtype=torch.float64, device=dev)
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


# ---------------------------------------------------------------------------------------------
# ranking metrics
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# embedding scorer
# ---------------------------------------------------------------------------------------------
@torch.no_grad()
def graph_features(ghn, graphs: Sequence, batch_size: int = 16) -> torch.Tensor:
    """Per graph: ``[mean over nodes, max over nodes]`` of the GHN's final node states.

    Returns a CPU float64 tensor ``len(graphs) x 2*hidden``.
    """
    rows = []
    graphs = list(graphs)
    for a in range(0, len(graphs), batch_size):
        for states in ghn.embed(graphs[a:a + batch_size]):
            s = states.detach().double().cpu()
            rows.append(torch.cat([s.mean(0), s.max(0).values]))
    return torch.stack(rows) if rows else torch.zeros((0, 2 * ghn.config.hidden), dtype=torch.float64)


class EmbeddingScorer:
    """Ridge regression from pooled GHN node states to trained accuracy.

    Features are standardized (mean/std from the fitting set); the ridge penalty is chosen among
    ``alphas`` (multiplied by the number of features) by exact leave-one-out error on the fitting
    set. ``save(dir)`` writes ``scorer.safetensors`` (tensors) and ``scorer.json`` (metadata,
    format_version 1); ``load`` reads them without unpickling anything.
    """

    FORMAT_VERSION = 1
    WEIGHTS = "scorer.safetensors"
    META = "scorer.json"
    DEFAULT_ALPHAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)

    def __init__(self, alphas: Sequence[float] = DEFAULT_ALPHAS):
        self.alphas = tuple(float(a) for a in alphas)
        self.alpha: float | None = None
        self.mean: torch.Tensor | None = None
        self.std: torch.Tensor | None = None
        self.weight: torch.Tensor | None = None
        self.bias: float = 0.0
        self.loo_rmse: float | None = None
        self.ghn_fingerprint: str | None = None
        self.n_fit: int = 0

    @property
    def fitted(self) -> bool:
        return self.weight is not None

    # -- features -----------------------------------------------------------------------------
    def features(self, ghn, models_or_graphs: Iterable, input_size: Sequence[int] = (3, 32, 32)) -> torch.Tensor:
        """Features of models (traced at ``input_size``) or ArchGraphs, for this scorer."""
        from graphparam.graph import ArchGraph, trace

        graphs = [g if isinstance(g, ArchGraph) else trace(g, tuple(input_size)) for g in models_or_graphs]
        seen = ghn.fingerprint() if self.ghn_fingerprint is not None else None
        if seen is not None and seen != self.ghn_fingerprint:
            warnings.warn("EmbeddingScorer: this GHN differs from the one the scorer was fitted with "
                          f"(fingerprint {seen} != {self.ghn_fingerprint}); scores are "
                          "unreliable", stacklevel=2)
        return graph_features(ghn, graphs)

    # -- fit / predict --------------------------------------------------------------------------
    def fit(self, X: torch.Tensor, y: Sequence[float], ghn=None) -> "EmbeddingScorer":
        """Fit on features ``X`` (n x d) and targets ``y`` (n). ``ghn``: record its fingerprint."""
        X = torch.as_tensor(X, dtype=torch.float64).cpu()
        y = torch.as_tensor(list(map(float, y)), dtype=torch.float64)
        if X.dim() != 2 or X.shape[0] != y.shape[0] or X.shape[0] < 2:
            raise ValueError(f"need X n x d and y n with n >= 2, got {tuple(X.shape)} and {tuple(y.shape)}")
        n, d = X.shape
        self.mean = X.mean(0)
        self.std = X.std(0, unbiased=False).clamp_min(1e-8)
        Z = (X - self.mean) / self.std
        ym = float(y.mean())
        yc = y - ym
        U, S, Vh = torch.linalg.svd(Z, full_matrices=False)
        uty = U.T @ yc
        best = None
        for a in self.alphas:
            lam = a * d
            shrink = S ** 2 / (S ** 2 + lam)
            fit = U @ (shrink * uty)
            h = (U ** 2) @ shrink + 1.0 / n  # leverage, intercept included
            loo = (yc - fit) / (1.0 - h).clamp_min(1e-8)
            err = float(loo.pow(2).mean().sqrt())
            if best is None or err < best[0]:
                best = (err, a)
        self.loo_rmse, self.alpha = best
        lam = self.alpha * d
        self.weight = Vh.T @ ((S / (S ** 2 + lam)) * uty)
        self.bias = ym
        self.n_fit = n
        if ghn is not None:
            self.ghn_fingerprint = ghn.fingerprint()
        return self

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        if not self.fitted:
            raise RuntimeError("EmbeddingScorer is not fitted: call fit() or load()")
        X = torch.as_tensor(X, dtype=torch.float64).cpu()
        return ((X - self.mean) / self.std) @ self.weight + self.bias

    def score(self, ghn, models_or_graphs: Iterable, input_size: Sequence[int] = (3, 32, 32)) -> list[float]:
        """Predicted accuracy of each model/graph."""
        return self.predict(self.features(ghn, models_or_graphs, input_size)).tolist()

    # -- persistence -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        from safetensors.torch import save_file

        if not self.fitted:
            raise RuntimeError("cannot save an unfitted EmbeddingScorer")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        tensors = {"mean": self.mean, "std": self.std, "weight": self.weight}
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path / self.WEIGHTS),
                  metadata={"format_version": str(self.FORMAT_VERSION)})
        meta = {"format_version": self.FORMAT_VERSION, "kind": "ridge", "features": "mean+max pooled node states",
                "alpha": self.alpha, "alphas": list(self.alphas), "bias": self.bias, "loo_rmse": self.loo_rmse,
                "n_fit": self.n_fit, "dim": int(self.weight.shape[0]), "ghn_fingerprint": self.ghn_fingerprint}
        (path / self.META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "EmbeddingScorer":
        from safetensors.torch import load_file

        path = Path(path)
        meta_file, weights = path / cls.META, path / cls.WEIGHTS
        if not meta_file.is_file() or not weights.is_file():
            raise FileNotFoundError(f"{path} is not an EmbeddingScorer directory (needs {cls.META} and {cls.WEIGHTS})")
        meta = json.loads(meta_file.read_text())
        if meta.get("format_version") != cls.FORMAT_VERSION:
            raise ValueError(f"{meta_file}: unsupported format_version {meta.get('format_version')!r}")
        try:
            t = load_file(str(weights), device="cpu")
        except Exception as exc:
            raise ValueError(f"{weights} is not a valid safetensors file ({exc})") from exc
        if set(t) != {"mean", "std", "weight"} or not (t["mean"].shape == t["std"].shape == t["weight"].shape
                                                       == (int(meta["dim"]),)):
            raise ValueError(f"{weights}: tensors do not match {meta_file}")
        s = cls(meta["alphas"])
        s.alpha, s.bias, s.loo_rmse = meta["alpha"], float(meta["bias"]), meta["loo_rmse"]
        s.n_fit, s.ghn_fingerprint = int(meta["n_fit"]), meta.get("ghn_fingerprint")
        s.mean, s.std, s.weight = (t[k].to(torch.float64) for k in ("mean", "std", "weight"))
        return s


# ---------------------------------------------------------------------------------------------
# ranking
# ---------------------------------------------------------------------------------------------
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


@dataclass
class _Scoring:
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


def _param_score(run: _Scoring) -> list[float]:
    counts = [param_count(m) for m in run.models]
    run.details["param_count"] = counts
    return [math.log10(max(1, c)) for c in counts]


def _grad_norm_score(run: _Scoring) -> list[float]:
    idx = torch.arange(min(run.proxy_batch, len(run.held)))
    x, y = run.held.images[idx], run.held.labels[idx]
    return [grad_norm(m, x, y) for m in run.models]


@dataclass(frozen=True)
class Score:
    """One way to score candidates (higher is better): ``compute(run)`` gives one value per model.

    ``needs_ghn``: only defined on GHN predictions; ``timed``: its seconds go to ``details["timings"]``.
    """

    name: str
    compute: Callable[[_Scoring], list[float]]
    needs_ghn: bool = False
    timed: bool = True


#: every score :func:`rank` knows, in the order they are computed (see the module docstring)
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
_GHN_SCORES = {name for name, s in SCORE_TABLE.items() if s.needs_ghn}


def _order(values: Sequence[float]) -> list[int]:
    return sorted(range(len(values)), key=lambda i: (0, -values[i]) if math.isfinite(values[i]) else (1, 0))


def held_out_subset(data: ImageSet, n: int | None, seed: int = 0) -> ImageSet:
    """``n`` images of ``data`` drawn with a seeded permutation (all of it when ``n`` is None or larger)."""
    if n is None or n >= len(data):
        return data
    idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
    return data.subset(idx, name=f"{data.name}[{n}]")


def _materialize(candidates, num_classes: int, seed: int) -> tuple[list[str], list[nn.Module]]:
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

    names, models = _materialize(candidates, data.num_classes, seed)
    timings: dict[str, float] = {}
    details: dict[str, Any] = {}
    t = time.perf_counter()
    for m in models:
        m.to(dev)
    if ghn is not None:
        GHNInitializer(ghn, size, batch_size=ghn_batch).many(models)
        timings["ghn_init"] = time.perf_counter() - t

    held = held_out_subset(data, eval_images, seed)
    run = _Scoring(models, held, size, ghn, scorer, eval_batch_size, proxy_batch, progress, timings, details)
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
