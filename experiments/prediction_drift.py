"""How far meta-training moved a GHN's predictions, body against head.

For the first ``--nets`` nets of the ``val`` split, each GHN (and a freshly initialised GHN of the first one's
config, seed 0) predicts every tensor; the table gives the mean cosine similarity between two GHNs'
predictions of the same weight matrices (ndim >= 2), split into the classifier (the net's last ``nn.Linear``)
and the body (everything else). A body cosine near 1 between a trained GHN and its untrained twin means the
training left the bodies where the initialisation put them (experiments/results/linear_probe.md).

    python experiments/prediction_drift.py cifar10 runs/campaign4/ghn --names shipped leg4
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from itertools import combinations
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command_line  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def head_names(net: nn.Module) -> set[str]:
    from graphparam.train.probe_loss import last_linear

    name, head = last_linear(net)
    return {f"{name}.{p}" for p, _ in head.named_parameters()}


def cosines(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], head: set[str]) -> dict[str, float]:
    groups: dict[str, list[float]] = {"body": [], "head": []}
    for name, t in a.items():
        if t.ndim >= 2:
            cos = torch.nn.functional.cosine_similarity(t.flatten().double(), b[name].flatten().double(), dim=0)
            groups["head" if name in head else "body"].append(float(cos))
    return {k: statistics.fmean(v) for k, v in groups.items() if v}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ghns", nargs="+", help="GHN checkpoint directories or registered names")
    p.add_argument("--names", nargs="+", help="labels of the GHNs (default: as given)")
    p.add_argument("--nets", type=int, default=5, help="first N nets of the val split")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(RESULTS / "prediction_drift"), help="output stem")
    args = p.parse_args(argv)
    if args.names and len(args.names) != len(args.ghns):
        p.error("--names needs one label per GHN")
    torch.set_num_threads(args.threads)

    import arch_zoo
    from graphparam.model import GHN
    from graphparam.train.archs import build_arch

    names = list(args.names or args.ghns)
    ghns = [GHN.from_pretrained(g).eval() for g in args.ghns]
    torch.manual_seed(0)
    ghns.append(GHN(ghns[0].config).eval())
    names.append("untrained")
    pairs: dict[str, list[dict[str, float]]] = {f"{a} vs {b}": [] for a, b in combinations(names, 2)}
    for k, spec in enumerate(arch_zoo.split("val")[:args.nets]):
        arch = build_arch(k, spec)
        head = head_names(arch.net)
        with torch.no_grad():
            predicted = [g.predict_tensors(arch.graph) for g in ghns]
        for (i, a), (j, b) in combinations(enumerate(names), 2):
            pairs[f"{a} vs {b}"].append(cosines(predicted[i], predicted[j], head))
    summary = {pair: {g: statistics.fmean(r[g] for r in rows) for g in ("body", "head")} for pair, rows in pairs.items()}
    command = command_line(__file__, argv)
    lines = ["# Prediction drift: how far training moved the predicted weights", "", f"Command: `{command}`", "",
             f"Mean cosine similarity of the predicted weight matrices (ndim >= 2) of the first {args.nets} `val` "
             "nets; `untrained` is a fresh GHN of the same config (seed 0).", "",
             "| GHNs | body | classifier |", "|---|---|---|"]
    lines += [f"| {pair} | {v['body']:.3f} | {v['head']:.3f} |" for pair, v in summary.items()]
    Path(args.out).with_suffix(".md").write_text("\n".join(lines) + "\n")
    Path(args.out).with_suffix(".json").write_text(json.dumps({"command": command, "summary": summary,
                                                                "per_net": pairs}, indent=1) + "\n")
    print("\n".join(lines[6:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
