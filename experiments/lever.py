"""Legs one lever apart, at one CPU budget: did the lever help?

    python experiments/lever.py --name lever_lr --what "peak lr 5e-4 (control) against 1e-3" \\
        --legs campaign21=5e-4 campaign22=1e-3 --ghns campaign21=FINGERPRINT campaign22=FINGERPRINT

Each leg is a compact record ``experiments/results/LEG.json`` (``finish_run.py``). Legs from one parent with the
same ``--stream``, ``--seed``, ``--arch-start`` and step shape (nets x images) see the same nets and images at every step, so
their train top-1 can be compared step by step: the table gives it per 50-step window, and the paired difference
over the second half of the shorter leg (legs that draw other nets than the control's are not paired; the plot puts
every leg on its CPU hours). Beside it: process CPU core-hours, steps, the final zoo ``val`` top-1 and, for each GHN
fingerprint given, the held-out real set's mean from the per-model cache of ``real_zero_shot.py`` (models
measured for every leg only). Writes ``experiments/results/NAME.{md,json,png}``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HELDOUT_FORMS, RESULTS, command_line, heldout_means, pairs, pyplot, write_results  # noqa: E402

WINDOW = 50


def leg_summary(record: dict) -> dict:
    """Train top-1 per window, the per-step accuracies, cost and final val of one leg's compact record."""
    train = sorted((r for r in record["records"] if r.get("kind") == "train"), key=lambda r: r["step"])
    vals = [r for r in record["records"] if r.get("kind") == "val"]
    windows = {}
    for a in range(0, len(train) - WINDOW + 1, WINDOW):
        part = train[a:a + WINDOW]
        windows[f"{part[0]['step']}-{part[-1]['step']}"] = 100 * sum(r["acc"] for r in part) / WINDOW
    stop = record.get("stop") or {}
    config = record.get("config") or {}
    clock_s = train[-1]["elapsed"] if train else 0.0
    # a --clock cpu leg's own clock counts every process it ran in; the stop events miss a process that was killed
    cpu_s = (clock_s if config.get("clock") == "cpu" else 0.0) or stop.get("process_cpu_s") or clock_s
    return {"steps": len(train), "windows": windows, "acc": {r["step"]: r["acc"] for r in train},
            "shape": (config.get("meta_batch", 8), config.get("batch_size", 64)),
            "draws": (config.get("stream"), config.get("seed"), config.get("arch_start"), config.get("arch_pool")),
            "window_hours": [r["elapsed"] / 3600 for r in train[WINDOW - 1::WINDOW]],
            "cpu_core_hours": cpu_s / 3600, "val_top1": 100 * vals[-1]["top1"] if vals else None,
            "val_nets": vals[-1]["nets"] if vals else None}


def same_nets(a: dict, b: dict) -> bool:
    """Whether two legs' steps draw the same nets and images: one stream, seed, ``--arch-start``, pool and step shape."""
    return a["shape"] == b["shape"] and a["draws"] == b["draws"]


def paired(a: dict[int, float], b: dict[int, float]) -> dict:
    """Mean and standard error of ``b - a`` train top-1 (points) over the second half of their common steps."""
    steps = sorted(set(a) & set(b))
    steps = steps[len(steps) // 2:]
    d = [100 * (b[s] - a[s]) for s in steps]
    if len(d) < 2:
        return {"steps": len(d), "mean": None, "se": None}
    mean = sum(d) / len(d)
    se = math.sqrt(sum((x - mean) ** 2 for x in d) / (len(d) - 1) / len(d))
    return {"steps": len(d), "first": steps[0], "last": steps[-1], "mean": mean, "se": se}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True, help="results stem under experiments/results")
    p.add_argument("--what", required=True, help="the lever, in words")
    p.add_argument("--legs", nargs="+", required=True, metavar="LEG=SETTING",
                   help="compact records experiments/results/LEG.json with the lever's setting; the first is the control")
    p.add_argument("--ghns", nargs="*", default=[], metavar="LEG=FINGERPRINT",
                   help="each leg's exported GHN, for its held-out means")
    p.add_argument("--reference", nargs="*", default=[], metavar="LABEL=FINGERPRINT",
                   help="other GHNs (the legs' parent, the shipped one) whose held-out means go beside the legs'")
    p.add_argument("--cache", type=Path, default=RESULTS / "real_zero_shot_nets.jsonl")
    args = p.parse_args(argv)
    settings = pairs(args.legs, "--legs")
    fingerprints = pairs(args.ghns, "--ghns")
    references = pairs(args.reference, "--reference")
    legs = {}
    for leg in settings:
        path = RESULTS / f"{leg}.json"
        if not path.is_file():
            p.error(f"no record {path}; write it with experiments/finish_run.py")
        legs[leg] = leg_summary(json.loads(path.read_text()))
    names = list(legs)
    control = names[0]
    held = heldout_means(args.cache, {**fingerprints, **references}) if fingerprints else {}
    diffs = {leg: paired(legs[control]["acc"], legs[leg]["acc"]) for leg in names[1:]
             if same_nets(legs[leg], legs[control])}

    shapes = ", ".join(f"{leg} {legs[leg]['shape'][0]} nets x {legs[leg]['shape'][1]} images" for leg in names)
    head = "| | " + " | ".join(f"{leg} ({settings[leg]})" for leg in names) + " |"
    lines = [f"# Lever: {args.what}", "", f"Command: `{command_line(__file__, argv)}`", "",
             f"Legs (records `experiments/results/LEG.json`); the first is the control. Train top-1 is the meta-batch's "
             f"({shapes}); legs of one shape see the same nets at each step when their stream, seed and `--arch-start` "
             f"are the same, and only those are paired.", "",
             head, "|---" * (len(names) + 1) + "|"]
    keys = list(legs[control]["windows"])
    for k in keys:
        lines.append(f"| train top-1 %, steps {k} | " + " | ".join(
            f"{legs[leg]['windows'][k]:.1f}" if k in legs[leg]["windows"] else "" for leg in names) + " |")
    lines.append("| steps | " + " | ".join(f"{legs[leg]['steps']:,}" for leg in names) + " |")
    lines.append("| CPU core-hours | " + " | ".join(f"{legs[leg]['cpu_core_hours']:.2f}" for leg in names) + " |")
    lines.append("| zoo val top-1 % | " + " | ".join(
        "" if legs[leg]["val_top1"] is None else f"{legs[leg]['val_top1']:.2f} ({legs[leg]['val_nets']} nets)"
        for leg in names) + " |")
    for form, h in held.items():
        lines.append(f"| held-out {HELDOUT_FORMS[form]} % ({h['models']} models) | " + " | ".join(
            f"{h['mean'][leg]:.2f}" if leg in h["mean"] else "" for leg in names) + " |")
    lines.append("")
    for form, h in held.items():
        for label in references:
            lines.append(f"Held-out {HELDOUT_FORMS[form]}, on the same models: {label} (`{references[label]}`) "
                         f"{h['mean'][label]:.2f} %.")
    for leg, d in diffs.items():
        if d["mean"] is not None:
            lines.append(f"Paired train top-1, {leg} minus {control}, steps {d['first']}-{d['last']}: "
                         f"**{d['mean']:+.2f} ± {d['se']:.2f}** points (mean ± standard error over {d['steps']} steps).")
    for form, h in held.items():
        for leg in names[1:]:
            if leg in h["per_model"] and control in h["per_model"]:
                up = sum(h["per_model"][leg][m] > h["per_model"][control][m] for m in h["per_model"][leg])
                lines.append(f"Held-out {HELDOUT_FORMS[form]}: {leg} above {control} on {up} of {h['models']} models.")
    lines += ["", f"![{args.name}]({args.name}.png)", ""]

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    for leg in names:
        w = legs[leg]["windows"]
        ax.plot(legs[leg]["window_hours"], list(w.values()), "o-", ms=3, label=f"{leg} ({settings[leg]})")
    ax.set_xlabel("CPU core-hours of the leg (its --clock cpu budget)")
    ax.set_ylabel(f"train top-1 % per {WINDOW}-step window")
    ax.set_title(textwrap.fill(args.what, 100), fontsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    data = {"command": command_line(__file__, argv), "what": args.what, "settings": settings,
            "legs": {leg: {k: v for k, v in s.items() if k != "acc"} for leg, s in legs.items()},
            "paired": diffs, "heldout": held, "fingerprints": fingerprints, "references": references}
    write_results(RESULTS / args.name, data=data, markdown="\n".join(lines), plot=lambda path: fig.savefig(path, dpi=120))
    print("\n".join(lines[6:-3]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
