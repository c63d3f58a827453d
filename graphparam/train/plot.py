"""Training curves from ``metrics.jsonl`` to a PNG: loss, accuracy, learning rate, validation."""

from __future__ import annotations

import os
from pathlib import Path

from graphparam.train.metrics import read_metrics

__all__ = ["plot_curves"]


def _smooth(values: list[float], window: int) -> list[float]:
    out, acc, q = [], 0.0, []
    for v in values:
        q.append(v)
        acc += v
        if len(q) > window:
            acc -= q.pop(0)
        out.append(acc / len(q))
    return out


def plot_curves(metrics_path: str | os.PathLike, png_path: str | os.PathLike, title: str = "") -> Path | None:
    """Write the curves of ``metrics_path`` to ``png_path``; None when there is nothing to plot."""
    train = [r for r in read_metrics(metrics_path, "train") if isinstance(r.get("loss"), float)]
    val = read_metrics(metrics_path, "val")
    if not train:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in train]
    window = max(1, len(train) // 50)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    ax = axes[0]
    ax.plot(steps, [r["loss"] for r in train], color="tab:blue", alpha=0.25, lw=0.8, label="loss (step)")
    ax.plot(steps, _smooth([r["loss"] for r in train], window), color="tab:blue", label=f"loss (mean of {window})")
    if val:
        ax.plot([r["step"] for r in val], [r["loss"] for r in val], "o-", color="tab:red", label="val loss")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy")
    ax.set_yscale("log")
    ax.legend()
    ax = axes[1]
    ax.plot(steps, [100 * r["acc"] for r in train], color="tab:green", alpha=0.25, lw=0.8)
    ax.plot(steps, _smooth([100 * r["acc"] for r in train], window), color="tab:green",
            label="train batch top-1 (predicted params)")
    if val:
        ax.plot([r["step"] for r in val], [100 * r["top1"] for r in val], "o-", color="tab:red",
                label="val nets, held-out images")
    ax.set_xlabel("step")
    ax.set_ylabel("top-1 %")
    ax.legend()
    ax = axes[2]
    ax.plot(steps, [r["lr"] for r in train], color="tab:purple")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
    return png_path
