"""The ``embedding`` score: ridge regression from pooled GHN node states to trained accuracy."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import torch

from graphparam.pretrained_cfg import resolve_input_size

__all__ = ["graph_features", "EmbeddingScorer"]


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
    def features(self, ghn, models_or_graphs: Iterable, input_size: Sequence[int] | None = None) -> torch.Tensor:
        """Features of models (traced at ``input_size``, default: the size ``ghn`` was trained at) or
        ArchGraphs, for this scorer."""
        from graphparam.graph import ArchGraph, trace

        size = resolve_input_size(input_size, ghn)
        graphs = [g if isinstance(g, ArchGraph) else trace(g, size) for g in models_or_graphs]
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

    def score(self, ghn, models_or_graphs: Iterable, input_size: Sequence[int] | None = None) -> list[float]:
        """Predicted accuracy of each model/graph (models traced at ``input_size``, as in :meth:`features`)."""
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
