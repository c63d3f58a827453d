"""Zero-shot ``val`` accuracy against training compute, over one run or a chain of runs.

    python experiments/learning_curve.py experiments/results/train_metrics.jsonl \\
        experiments/results/train_continued_metrics.jsonl --threads 1 1

Each file is a run's ``metrics.jsonl``; a later file is taken to continue from the earlier one's final
weights (``--init-from``), so its compute is added after the earlier run's. Compute is training
seconds (the ``elapsed`` of the train records, which excludes validation) times the thread count of
that run, in CPU core-hours. Writes ``experiments/results/learning_curve.{md,png}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def run_name(path: Path) -> str:
    """A run's label: its directory for ``DIR/metrics.jsonl``, else the file's stem."""
    return path.parent.name if path.name == "metrics.jsonl" else path.stem


def curve(path: Path, threads: int, offset_hours: float) -> tuple[list[dict], float]:
    """Val points of one run with their cumulative compute, and the compute at the run's end."""
    from graphparam.train.metrics import read_metrics

    if path.suffix == ".json":  # a compact copy kept under results/ ({"records": [...]}, default_training.py)
        rows = json.loads(path.read_text())["records"]
    else:
        rows = read_metrics(path)
    name = run_name(path)
    train = {r["step"]: r for r in rows if r.get("kind") == "train"}
    points = []
    for r in rows:
        if r.get("kind") == "val" and r["step"] in train:
            hours = offset_hours + train[r["step"]]["elapsed"] * threads / 3600
            points.append({"run": name, "step": r["step"], "core_hours": hours, "top1": 100 * r["top1"],
                           "top1_min": 100 * r["top1_min"], "top1_max": 100 * r["top1_max"], "nets": r["nets"],
                           "images": r["images"]})
    last = max(train.values(), key=lambda r: r["step"]) if train else {"elapsed": 0.0}
    return points, offset_hours + last["elapsed"] * threads / 3600


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="metrics.jsonl files (or compact .json copies with a "
                   "'records' list), in training order")
    p.add_argument("--threads", nargs="+", type=int, default=None, help="torch threads of each run (default 1)")
    args = p.parse_args(argv)
    threads = args.threads or [1] * len(args.runs)
    if len(threads) != len(args.runs):
        p.error("give one --threads value per run")
    points, offset, ends = [], 0.0, []
    for path, t in zip(args.runs, threads):
        pts, offset = curve(path, t, offset)
        points += pts
        ends.append((run_name(path), offset))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for name in dict.fromkeys(pt["run"] for pt in points):
        part = [pt for pt in points if pt["run"] == name]
        x = [pt["core_hours"] for pt in part]
        ax.plot(x, [pt["top1"] for pt in part], marker="o", label=name)
        ax.fill_between(x, [pt["top1_min"] for pt in part], [pt["top1_max"] for pt in part], alpha=0.2)
    ax.axhline(10, color="k", ls=":", lw=0.8, label="chance")
    ax.set_xlabel("training compute (CPU core-hours)")
    ax.set_ylabel("zero-shot val top-1 % (min–max band)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    RESULTS.mkdir(parents=True, exist_ok=True)
    fig.savefig(RESULTS / "learning_curve.png", dpi=120)
    command = "python experiments/learning_curve.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = ["# Learning curve: zero-shot val accuracy vs training compute", "", f"Command: `{command.strip()}`", "",
             "| run | step | CPU core-hours | val top-1 % | min | max | nets × images |", "|---|---|---|---|---|---|---|"]
    for pt in points:
        lines.append(f"| {pt['run']} | {pt['step']} | {pt['core_hours']:.2f} | {pt['top1']:.2f} | {pt['top1_min']:.1f} | "
                     f"{pt['top1_max']:.1f} | {pt['nets']} × {pt['images']} |")
    lines += ["", "Compute is the training loop's wall-clock time × threads: where other jobs shared the cores it "
              "overstates the compute actually used.", "", "Compute at the end of each run: " + ", ".join(f"{n} {h:.2f} core-hours" for n, h in ends) + ".",
              "", "![learning curve](learning_curve.png)", ""]
    (RESULTS / "learning_curve.md").write_text("\n".join(lines))
    print("\n".join(lines[4:-3]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
