"""Zero-shot ``val`` accuracy against training compute, over a campaign of runs (legs).

    python experiments/learning_curve.py experiments/results/train_metrics.jsonl \\
        experiments/results/train_continued_metrics.jsonl --threads 1 1
    python experiments/learning_curve.py long.json leg2.json leg3.json --parent leg2=long leg3=long

Each file is a run's ``metrics.jsonl`` (or a compact copy), in the order its compute was spent. A run
continues from its parent's final weights (``--init-from``): by default the file before it, or the run
named by ``--parent CHILD=PARENT`` (legs that branch from one checkpoint). Compute is training seconds
(the ``elapsed`` of the train records, which excludes validation) times the run's thread count, in CPU
core-hours. Two views: a point's *lineage* compute (its run plus its ancestors: what that GHN cost) and
the *campaign* compute (every run so far, dead ends included, in file order: what was spent to get there).
``--heldout RUN=FINGERPRINT`` adds a third view: the held-out real models' mean top-1 as built (the per-model
cache of ``real_zero_shot.py``, over the models measured for every run given) of each run's final GHN, against
its lineage compute. Writes ``experiments/results/learning_curve.{md,png}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, command_line, heldout_means, pyplot, write_results  # noqa: E402


def run_name(path: Path) -> str:
    """A run's label: its directory for ``DIR/metrics.jsonl``, else the file's stem."""
    return path.parent.name if path.name == "metrics.jsonl" else path.stem


def curve(path: Path, threads: int, offset_hours: float) -> tuple[list[dict], float]:
    """Val points of one run with their cumulative compute, and the compute at the run's end."""
    from graphparam.train.metrics import read_metrics

    if path.suffix == ".json":  # a compact copy kept under results/ ({"records": [...]}, e.g. by finish_run.py)
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


def campaign(names: list[str], paths: list[Path], threads: list[int], parents: dict[str, str]
             ) -> tuple[list[dict], dict[str, float], float]:
    """Val points of every run with their lineage (``core_hours``) and campaign (``campaign_hours``)
    compute, each run's lineage compute at its end, and the campaign's total."""
    points, ends, spent = [], {}, 0.0
    for name, path, t in zip(names, paths, threads):
        start = ends.get(parents.get(name), 0.0)
        pts, ends[name] = curve(path, t, start)
        for pt in pts:
            pt["campaign_hours"] = spent + pt["core_hours"] - start
        points += pts
        spent += ends[name] - start
    return points, ends, spent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="metrics.jsonl files (or compact .json copies with a "
                   "'records' list), in training order")
    p.add_argument("--threads", nargs="+", type=int, default=None, help="torch threads of each run (default 1)")
    p.add_argument("--parent", nargs="+", default=[], metavar="CHILD=PARENT",
                   help="the run a run continued from, by name (default: the run before it)")
    p.add_argument("--heldout", nargs="+", default=[], metavar="RUN=FINGERPRINT",
                   help="the fingerprint of a run's final GHN, for its held-out mean as built")
    p.add_argument("--cache", type=Path, default=RESULTS / "real_zero_shot_nets.jsonl",
                   help="real_zero_shot.py's per-model cache")
    args = p.parse_args(argv)
    threads = args.threads or [1] * len(args.runs)
    if len(threads) != len(args.runs):
        p.error("give one --threads value per run")
    names = [run_name(path) for path in args.runs]
    parents = {names[i]: names[i - 1] for i in range(1, len(names))}
    for item in args.parent:
        child, _, parent = item.partition("=")
        if child not in names or parent not in names or names.index(parent) >= names.index(child):
            p.error(f"--parent takes CHILD=PARENT, two runs given in order, got {item!r}")
        parents[child] = parent
    points, ends, spent = campaign(names, args.runs, threads, parents)
    fingerprints = {}
    for item in args.heldout:
        run, _, fp = item.partition("=")
        if run not in names or not fp:
            p.error(f"--heldout takes RUN=FINGERPRINT for a run given, got {item!r}")
        fingerprints[run] = fp
    held = heldout_means(args.cache, fingerprints).get("timm") if fingerprints else None
    if fingerprints and held is None:
        p.error(f"no held-out model is measured as built for every GHN of --heldout in {args.cache}")

    plt = pyplot()
    fig, axes = plt.subplots(1, 3 if held else 2, figsize=(16 if held else 11, 4.4))
    ax, spend = axes[0], axes[1]
    spend.sharey(ax)
    colors: dict[str, str] = {}
    for name in names:
        part = [pt for pt in points if pt["run"] == name]
        if not part:
            continue
        x = [pt["core_hours"] for pt in part]
        line, = ax.plot(x, [pt["top1"] for pt in part], marker="o", ms=3, label=name)
        colors[name] = line.get_color()
        ax.fill_between(x, [pt["top1_min"] for pt in part], [pt["top1_max"] for pt in part], alpha=0.1,
                        color=line.get_color())
        origin = [pt for pt in points if pt["run"] == parents.get(name)][-1:]
        if origin:  # the branch from the parent's last point
            ax.plot([origin[0]["core_hours"], x[0]], [origin[0]["top1"], part[0]["top1"]], ls="--", lw=0.8,
                    color=line.get_color())
        spend.plot([pt["campaign_hours"] for pt in part], [pt["top1"] for pt in part], marker="o", ms=3,
                   color=line.get_color())
    best, envelope = float("-inf"), []
    for pt in sorted(points, key=lambda pt: pt["campaign_hours"]):
        best = max(best, pt["top1"])
        envelope.append((pt["campaign_hours"], best))
    if envelope:
        spend.step(*zip(*envelope), where="post", color="k", lw=1, label="best so far")
    if held:
        plot_heldout(axes[2], held["mean"], ends, parents, colors)
        axes[2].set_title(f"held-out real models as built ({held['models']}), final GHNs", fontsize=9)
    for a in axes:
        a.axhline(10, color="k", ls=":", lw=0.8, label="chance")
    spend.legend(fontsize=7)
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=min(12, len(names) + 1), fontsize=7)
    ax.set_xlabel("lineage compute: the run and its ancestors (CPU core-hours)")
    ax.set_ylabel("zero-shot val top-1 % (min–max band)")
    spend.set_xlabel(f"campaign compute: all runs, in order ({spent:.2f} CPU core-hours in all)")
    fig.tight_layout(rect=(0, 0.1 + 0.03 * (len(names) // 12), 1, 1))
    command = command_line(__file__, argv)
    lines = ["# Learning curve: zero-shot val accuracy vs training compute", "", f"Command: `{command.strip()}`", "",
             "| run | parent | step | lineage core-hours | campaign core-hours | val top-1 % | min | max | nets × images |",
             "|---|---|---|---|---|---|---|---|---|"]
    for pt in points:
        lines.append(f"| {pt['run']} | {parents.get(pt['run'], '-')} | {pt['step']} | {pt['core_hours']:.2f} | "
                     f"{pt['campaign_hours']:.2f} | {pt['top1']:.2f} | {pt['top1_min']:.1f} | {pt['top1_max']:.1f} | "
                     f"{pt['nets']} × {pt['images']} |")
    lines += ["", "Compute is the training loop's wall-clock time × threads: where other jobs shared the cores it "
              "overstates the compute actually used.", "", "Lineage compute at the end of each run: " + ", ".join(f"{n} {h:.2f}" for n, h in ends.items())
              + f" core-hours. Campaign compute: **{spent:.2f} CPU core-hours** in all.",
              ""]
    if held:
        lines += [f"Held-out real models as built (`real_zero_shot.py`'s cache, the {held['models']} models measured "
                  f"for every GHN below, 2,000 test images), each run's final GHN:", "",
                  "| run | fingerprint | lineage core-hours | held-out as built % |", "|---|---|---|---|"]
        lines += [f"| {n} | `{fingerprints[n]}` | {ends[n]:.2f} | {held['mean'][n]:.2f} |" for n in fingerprints]
        lines.append("")
    lines += ["![learning curve](learning_curve.png)", ""]
    write_results(RESULTS / "learning_curve", markdown="\n".join(lines), plot=lambda path: fig.savefig(path, dpi=120))
    print("\n".join(lines[4:-3]))
    return 0


def plot_heldout(ax, means: dict[str, float], ends: dict[str, float], parents: dict[str, str],
                 colors: dict[str, str]) -> None:
    """Each run's held-out mean at its lineage compute, joined to its parent's by a dashed line."""
    for run, mean in means.items():
        ax.plot([ends[run]], [mean], marker="o", ms=5, color=colors.get(run, "k"))
        ax.annotate(run.replace("campaign", ""), (ends[run], mean), fontsize=6, xytext=(3, 3), textcoords="offset points")
        parent = parents.get(run)
        if parent in means:
            ax.plot([ends[parent], ends[run]], [means[parent], mean], ls="--", lw=0.8, color=colors.get(run, "k"))
    ax.set_xlabel("lineage compute (CPU core-hours)")
    ax.set_ylabel("zero-shot top-1 %, held-out as built")


if __name__ == "__main__":
    sys.exit(main())
