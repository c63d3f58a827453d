"""Does the library's default meta-training learn? The three checks of issue 10, with the defaults only.

    python experiments/default_training.py --run race      # --steps 200, the issue's command
    python experiments/default_training.py --run goal      # --steps 250, for the 201-250 window
    python experiments/default_training.py --run long      # --steps 1000, val zero-shot every 250 steps
    python experiments/default_training.py --report        # writes results/default_training.md

Every run is ``python -m graphparam.train -M 8 -b 64 --threads 1`` with no other training flag (the
race reuses ``runs/race/defaults`` of ``learning_race.py``). Train top-1 is the meta-batch's, before the
step's update, per 50-step window; zero-shot is the Trainer's validation: 20 ``val`` nets, batch
statistics, the 1,000 held-out training images. Compute: training seconds (validation excluded) × 1
thread, in CPU core-hours.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import add_data_arg, require_data  # noqa: E402
from learning_race import GHN2, WINDOW, windows as race_windows  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
RUNS = HERE.parent / "runs"
RUNS_BY_NAME = {
    "race": (RUNS / "race" / "defaults", ["--steps", "200", "--eval-every", "0", "--seed", "0"]),
    "goal": (RUNS / "must250", ["--steps", "250", "--eval-every", "0"]),
    "long": (RUNS / "default1000", ["--steps", "1000", "--eval-every", "250", "--val-nets", "20",
                                    "--checkpoint-minutes", "5"]),
}


def command(name: str, data: str) -> list[str]:
    out, flags = RUNS_BY_NAME[name]
    return ["-M", "8", "-b", "64", *flags, "--data", data, "--threads", "1", "--out", str(out), "--no-progress"]


def _records(name: str) -> list[dict]:
    from graphparam.train.metrics import compact_records, read_metrics

    path = RUNS_BY_NAME[name][0] / "metrics.jsonl"
    saved = RESULTS / "default_training" / f"{name}.json"
    if path.exists():
        keep = compact_records(read_metrics(path))
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps({"run": name, "argv": command(name, "DATA"), "records": keep}) + "\n")
        return keep
    return json.loads(saved.read_text())["records"] if saved.exists() else []


def windows(recs: list[dict]) -> dict[str, float | None]:
    return race_windows(recs, max((r["step"] for r in recs if r["kind"] == "train"), default=0))


def report() -> None:
    found = {name: _records(name) for name in RUNS_BY_NAME}
    cols = [f"{a + 1}-{a + WINDOW}" for a in range(0, 1000, WINDOW)]
    used = [c for c in cols if c in GHN2 or any(windows(r).get(c) is not None for r in found.values())]
    lines = ["# Default meta-training: does it learn? (issue 10)", "",
             "Command: `python experiments/default_training.py --run race|goal|long`, then `--report` (this file). "
             "Each run is `python -m graphparam.train` with the flags below and the library's defaults otherwise; "
             "1 thread, 2 shared CPU cores, no GPU, CIFAR-10 (JPEG q75 copy).", "",
             "## Train top-1 of the meta-batch per 50-step window (%)", "",
             "| run | " + " | ".join(used) + " |", "|---|" + "---|" * len(used),
             "| GHN-2 (its code, this CPU) | " + " | ".join(f"{GHN2[c]:.1f}" if c in GHN2 else "" for c in used) + " |"]
    for name, recs in found.items():
        if not recs:
            continue
        w = windows(recs)
        lines.append(f"| {name}: `{' '.join(command(name, 'DATA')[:-5])}` | "
                     + " | ".join("" if w.get(c) is None else f"{w[c]:.1f}" for c in used) + " |")
    lines += ["", "## Zero-shot on 20 unseen `val` nets (batch statistics, 1,000 held-out images)", "",
              "| run | step | CPU core-hours | val top-1 % | min | max |", "|---|---|---|---|---|---|"]
    for name, recs in found.items():
        elapsed = {r["step"]: r["elapsed"] for r in recs if r["kind"] == "train" and r.get("elapsed") is not None}
        for r in recs:
            if r["kind"] == "val":
                hours = elapsed.get(r["step"], 0.0) / 3600
                lines.append(f"| {name} | {r['step']} | {hours:.2f} | {100 * r['top1']:.2f} | "
                             f"{100 * r['top1_min']:.1f} | {100 * r['top1_max']:.1f} |")
    lines += ["", "Core-hours are the training loop's wall-clock seconds × 1 thread; the other core ran other jobs "
              "(a second run, tests), so they overstate the compute actually used. Records: "
              "`results/default_training/<run>.json`."]
    (RESULTS / "default_training.md").write_text("\n".join(lines) + "\n")
    print((RESULTS / "default_training.md").read_text())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", choices=list(RUNS_BY_NAME), help="run (or resume) one of the checks")
    p.add_argument("--report", action="store_true", help="write results/default_training.md")
    add_data_arg(p)
    args = p.parse_args(argv)
    if args.run:
        args.data = require_data(p, args.data)
        from graphparam.train.run import main as train

        argv = command(args.run, args.data)
        print(f"[{args.run}] python -m graphparam.train {' '.join(argv)}", flush=True)
        train(argv)
    if args.report:
        report()
    if not (args.run or args.report):
        p.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
