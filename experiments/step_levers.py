"""What makes a meta-training core-hour count? Equal-compute races of the step's levers (issue 11).

Every variant is ``python -m graphparam.train`` from scratch with the library's defaults, 1 thread, the
same seed and the same wall-clock training budget (``--time-budget``, the cosine anneals over it), plus the
variant's flags. After training, the exported GHN is scored with the Trainer's validation: zero-shot top-1
on the first 20 ``val`` nets, BatchNorm with batch statistics, the 1,000 held-out training images. So a
lever that makes steps cheaper wins only if the extra steps buy more than the smaller steps lose.

    python experiments/step_levers.py --run default b32 m16b32 cap250k   # one after the other
    python experiments/step_levers.py --report                          # results/step_levers.md/.png

Budget, per variant: ``--budget`` (default 12m of training; validation and start-up come on top).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_data_arg, require_data  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
RUNS = HERE.parent / "runs" / "levers"
TEACHER = HERE.parent / "runs" / "teacher"
VAL_NETS = 20
LAST = 50  # train top-1 over the last this many steps

VARIANTS: dict[str, tuple[list[str], str]] = {
    "default": ([], "M = 8 nets x 64 images (the defaults)"),
    "b32": (["-b", "32"], "M = 8 x 32 images: half the images per step"),
    "m16b32": (["-M", "16", "-b", "32"], "M = 16 x 32 images: more nets, same images per step"),
    "b16m16": (["-M", "16", "-b", "16"], "M = 16 x 16 images: a quarter of the images, twice the nets"),
    "cap250k": (["--max-params", "250000"], "training nets capped at 250k parameters"),
    "distill": (["--distill", str(TEACHER)], "distillation from a small CIFAR-10 teacher (loss: CE + KL, T = 4)"),
}


def _run_one(name: str, budget: str, data: str) -> dict:
    flags, _ = VARIANTS[name]
    out = RUNS / name
    cmd = [sys.executable, "-m", "graphparam.train", *flags, "--time-budget", budget, "--eval-every", "0",
           "--seed", "0", "--threads", "1", "--data", data, "--out", str(out), "--checkpoint-minutes", "5",
           "--no-progress"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    wall = time.perf_counter() - start

    import torch

    from graphparam.model import GHN
    from graphparam.train.data import training_images
    from graphparam.train.metrics import read_metrics
    from graphparam.train.validate import Validator

    torch.set_num_threads(1)
    _, val_images = training_images(data, 1000)
    val = Validator(val_images, VAL_NETS, torch.device("cpu"))(GHN.from_pretrained(out / "ghn"))
    recs = read_metrics(out / "metrics.jsonl")
    train = [r for r in recs if r.get("kind") == "train"]
    last = train[-LAST:]
    result = {"name": name, "flags": flags, "budget": budget, "steps": max((r["step"] for r in recs
                                                                            if r.get("kind") in ("train", "skip")),
                                                                           default=0),
              "skipped": sum(r.get("kind") == "skip" for r in recs), "training_seconds": train[-1]["elapsed"],
              "process_cpu_seconds": cpu, "process_wall_seconds": wall,
              "train_top1_last": 100 * sum(r["acc"] for r in last) / len(last),
              "val": {k: (100 * v if k.startswith("top1") else v) for k, v in val.items()},
              "curve": [[r["elapsed"], r["acc"]] for r in train]}
    RESULTS.joinpath("step_levers").mkdir(parents=True, exist_ok=True)
    (RESULTS / "step_levers" / f"{name}.json").write_text(json.dumps(result) + "\n")
    print(f"{name}: {result['steps']} steps, val top-1 {result['val']['top1']:.2f} %", file=sys.stderr)
    return result


def report() -> None:
    found = [json.loads((RESULTS / "step_levers" / f"{n}.json").read_text()) for n in VARIANTS
             if (RESULTS / "step_levers" / f"{n}.json").exists()]
    lines = ["# Step levers: zero-shot per core-hour (issue 11)", "",
             "Command: `python experiments/step_levers.py --run NAME ...`, then `--report` (this file). Each run: "
             "`python -m graphparam.train` from scratch with the defaults plus the variant's flags, "
             "`--time-budget B --eval-every 0 --seed 0 --threads 1` (the cosine anneals over B); then zero-shot "
             f"top-1 of its GHN on the first {VAL_NETS} `val` nets (batch statistics, 1,000 held-out training "
             "images). 2 shared CPU cores, one run at a time, another training job on the other core.", "",
             f"| variant | flags | budget | steps | s / step | train top-1 last {LAST} steps % | val top-1 % (min-max) "
             "| process CPU s |", "|---|---|---|---|---|---|---|---|"]
    for r in found:
        v = r["val"]
        lines.append(f"| {r['name']}: {VARIANTS[r['name']][1]} | `{' '.join(r['flags']) or '-'}` | {r['budget']} | "
                     f"{r['steps']} | {r['training_seconds'] / max(r['steps'], 1):.2f} | {r['train_top1_last']:.1f} | "
                     f"**{v['top1']:.2f}** ({v['top1_min']:.1f}-{v['top1_max']:.1f}) | "
                     f"{r['process_cpu_seconds']:.0f} |")
    lines += ["", "Train top-1 is not comparable across batch sizes one to one (a smaller batch is a noisier "
              "estimate); the val column is the comparison. One seed per variant: differences of about a point "
              "are within the spread between nets and runs.", "", "![curves](step_levers.png)", ""]
    (RESULTS / "step_levers.md").write_text("\n".join(lines))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for r in found:
            xs = [t / 60 for t, _ in r["curve"]]
            acc = [100 * a for _, a in r["curve"]]
            k = 25
            smooth = [sum(acc[max(0, i - k + 1):i + 1]) / len(acc[max(0, i - k + 1):i + 1]) for i in range(len(acc))]
            ax.plot(xs, smooth, label=f"{r['name']} (val {r['val']['top1']:.1f} %)")
        ax.set_xlabel("training minutes (1 CPU thread)")
        ax.set_ylabel(f"train top-1 %, mean of 25 steps")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(RESULTS / "step_levers.png", dpi=120)
    except ImportError:
        pass


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", nargs="+", choices=sorted(VARIANTS), default=[])
    p.add_argument("--budget", default="12m")
    add_data_arg(p)
    p.add_argument("--report", action="store_true")
    args = p.parse_args(argv)
    if args.run:
        args.data = require_data(p, args.data)
    for name in args.run:
        _run_one(name, args.budget, args.data)
    if args.report or args.run:
        report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
