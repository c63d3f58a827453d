"""Fine-tuning results as a text table and as curves."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

from graphparam.finetune.result import FinetuneResult

__all__ = ["format_results", "plot_curves"]


def format_results(results: Mapping[str, FinetuneResult]) -> str:
    """A plain-text table: test top-1 (%) per epoch and time, one row per initialization."""
    if not results:
        return ""
    epochs = max(len(r.test_top1) for r in results.values())
    width = max(6, *(len(k) for k in results))
    head = f"{'init':<{width}} " + " ".join(f"{'ep' + str(e):>6}" for e in range(epochs)) + "   seconds"
    rows = [head]
    for name, r in results.items():
        cells = " ".join(f"{100 * v:6.2f}" for v in r.test_top1)
        rows.append(f"{name:<{width}} {cells}   {r.seconds:7.1f}" + ("  (diverged)" if r.diverged else ""))
    return "\n".join(rows)


_COLORS = {"ghn": "tab:blue", "random": "tab:orange", "default": "tab:orange"}


def _plot_one(ax_acc, ax_loss, results: Mapping[str, FinetuneResult], title: str | None) -> None:
    for i, (name, r) in enumerate(results.items()):
        color = _COLORS.get(name, f"C{i + 2}")
        ax_acc.plot(r.eval_epochs, [100 * v for v in r.eval_top1], "o-", color=color, label=name, ms=3)
        if ax_loss is not None:
            ax_loss.plot(range(1, len(r.train_loss) + 1), r.train_loss, "o-", color=color, label=name, ms=3)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("test top-1 (%)")
    ax_acc.grid(alpha=0.3)
    if title:
        ax_acc.set_title(title, fontsize=9)
    if ax_loss is not None:
        ax_loss.set_xlabel("epoch")
        ax_loss.set_ylabel("train loss")
        ax_loss.grid(alpha=0.3)


def plot_curves(results: Mapping[str, FinetuneResult] | Mapping[str, Mapping[str, FinetuneResult]],
                path: str | Path, title: str | None = None) -> Path:
    """Write a PNG of test accuracy at every evaluation point (and training loss per epoch) against epochs.

    ``results``: ``{init: FinetuneResult}`` (one net: accuracy and loss panels) or
    ``{net: {init: FinetuneResult}}`` (one accuracy panel per net).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not results:
        raise ValueError("plot_curves needs at least one result")
    nested = all(isinstance(v, Mapping) for v in results.values())
    if not nested:
        fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
        _plot_one(a, b, results, title)
        a.legend()
    else:
        n = len(results)
        cols = min(5, n)
        rows = math.ceil(n / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
        for ax, (net, res) in zip(axes.flat, results.items()):
            _plot_one(ax, None, res, net)
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=8)
        if title:
            fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
