"""GHNs side by side on what was measured for each: the held-out real set and the zoo splits.

    python experiments/compare_ghns.py --name channel_order \\
        --what "leg 31 decoded in order against with channel order" \\
        --ghns in-order=7b0f0084cd16d9dd channel-order=4f5e1453139839c1

Reads the per-model caches of ``real_zero_shot.py`` (held-out, 2,000 images, both forms) and
``zero_shot_table.py`` (zoo splits, 10,000 images) and, per form and split, gives each GHN's mean top-1
over the models or nets measured for every one, how many differ and by how much, and the models that
moved. A GHN is its fingerprint: the same weights decoded with another ``GHNConfig`` (``--channel-order``,
``--tile-layout``) are another one. Writes ``experiments/results/NAME.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, command_line, heldout_means, means_over_common, pairs, write_results  # noqa: E402

ZOO_SPLITS = ("test", "deep", "wide", "dense", "bnfree")
ZOO_IMAGES = 10000
MOVED = 0.5  # points: a model "moved" when its top-1 changed by more than this


def zoo_means(cache: Path, fingerprints: dict[str, str]) -> dict[str, dict]:
    """Per zoo split: each GHN's mean top-1 (%) over the nets measured for every one, and their per-net top-1."""
    rows: dict[tuple[str, str], dict[str, float]] = {}
    with open(cache) as f:
        for line in f:
            r = json.loads(line)
            if r.get("images") == ZOO_IMAGES and r["split"] in ZOO_SPLITS and r.get("result"):
                rows.setdefault((r["split"], r["ghn"]), {})[r["name"]] = r["result"]["top1"]
    return means_over_common(rows, ZOO_SPLITS, fingerprints)


def moved(block: dict, first: str, other: str) -> list[tuple[str, float, float]]:
    a, b = block["per_model"][first], block["per_model"][other]
    return [(m, 100 * a[m], 100 * b[m]) for m in a if abs(a[m] - b[m]) * 100 > MOVED]


def report(name: str, what: str, fingerprints: dict[str, str], sets: dict[str, dict], command: str) -> str:
    labels = list(fingerprints)
    first = labels[0]
    lines = [f"# {name}", "", what, "", "```", command, "```", "",
             "GHNs: " + ", ".join(f"{k} = `{v}`" for k, v in fingerprints.items()) + ".", "",
             "| set | models | " + " | ".join(f"{k} %" for k in labels) + " | "
             + " | ".join(f"{k} − {first}: moved (up)" for k in labels[1:]) + " |",
             "|---|---:|" + "---:|" * len(labels) + "---|" * (len(labels) - 1)]
    for key, block in sets.items():
        cells = [f"{block['mean'][k]:.2f}" for k in labels]
        shifts = []
        for k in labels[1:]:
            m = moved(block, first, k)
            shifts.append(f"{len(m)} ({sum(b > a for _, a, b in m)})")
        lines.append(f"| {key} | {block['models']} | " + " | ".join(cells) + " | " + " | ".join(shifts) + " |")
    lines += ["", f"A model moved when its top-1 changed by more than {MOVED} points; the sets are the held-out",
              "real set (`heldout/FORM`, 2,000 test images) and the zoo splits (10,000 images)."]
    for k in labels[1:]:
        for key, block in sets.items():
            m = moved(block, first, k)
            if m:
                lines += ["", f"## {key}: models that moved, {first} → {k}", "",
                          "| model | " + f"{first} % | {k} % | change |", "|---|---:|---:|---:|"]
                lines += [f"| {n} | {a:.1f} | {b:.1f} | {b - a:+.1f} |"
                          for n, a, b in sorted(m, key=lambda x: x[2] - x[1])]
                change = statistics.mean(b - a for _, a, b in m)
                lines.append(f"\nMean change over the moved models: {change:+.2f} points.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True, help="result stem under experiments/results")
    p.add_argument("--what", default="", help="one line: what differs between the GHNs")
    p.add_argument("--ghns", nargs="+", required=True, metavar="LABEL=FINGERPRINT",
                   help="two or more GHN fingerprints, the first is the reference")
    p.add_argument("--heldout-cache", default=str(RESULTS / "real_zero_shot_nets.jsonl"))
    p.add_argument("--zoo-cache", default=str(RESULTS / "zero_shot_nets.jsonl"))
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    fingerprints = pairs(args.ghns, "--ghns")
    if len(fingerprints) < 2:
        p.error("--ghns needs at least two GHNs")
    sets = {f"heldout/{form}": block for form, block in heldout_means(Path(args.heldout_cache), fingerprints).items()}
    sets.update(zoo_means(Path(args.zoo_cache), fingerprints))
    if not sets:
        raise SystemExit("no model was measured for every one of these GHNs: run real_zero_shot.py or "
                         "zero_shot_table.py for each first")
    command = command_line(__file__, argv)
    write_results(Path(args.out) / args.name,
                  {"what": args.what, "command": command, "ghns": fingerprints, "sets": sets},
                  report(args.name, args.what, fingerprints, sets, command))
    print(f"wrote {Path(args.out) / args.name}.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
