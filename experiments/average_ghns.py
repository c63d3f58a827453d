"""Average the weights of GHNs fine-tuned from one parent (a "model soup"), then validate the average.

Legs that continue one checkpoint (``--init-from``) on different parts of the architecture stream stay in
one basin, so their mean can beat each of them at no training cost. The average is saved as an ordinary
checkpoint (safetensors + JSON); its ``pretrained_cfg["training"]`` keeps the members' records and their
cost, the shared parent counted once. Each member and the average are validated like the trainer does
(the first ``--val-nets`` nets of ``val`` on the run's held-out training images).

    python experiments/average_ghns.py runs/campaign8/ghn runs/campaign9/ghn --run runs/campaign8 \\
        --out runs/soup89 --name soup89
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command_line  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def average_state(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Elementwise mean of floating tensors; other tensors must agree across ``states``."""
    keys = set(states[0])
    if any(set(s) != keys for s in states[1:]):
        raise ValueError("the GHNs have different parameter names: they are not one architecture")
    out = {}
    for k in states[0]:
        ts = [s[k] for s in states]
        if ts[0].is_floating_point():
            out[k] = torch.stack([t.float() for t in ts]).mean(0).to(ts[0].dtype)
        elif all(torch.equal(ts[0], t) for t in ts[1:]):
            out[k] = ts[0]
        else:
            raise ValueError(f"non-float tensor {k!r} differs between the GHNs")
    return out


def soup_training_record(records: list[dict]) -> dict:
    """The members' training records and what they cost together, each distinct parent counted once."""
    from graphparam.train.lineage import COST_KEYS, lineage_cost

    record: dict = {"averaged_from": records, "steps": sum(r.get("steps", 0) for r in records)}
    parents = {json.dumps(r.get("parent"), sort_keys=True): r.get("parent") for r in records}
    for key, digits in COST_KEYS.items():
        own = sum(float(r.get(key, 0.0)) for r in records)
        total = own + sum(lineage_cost(p, key) for p in parents.values())
        if total:
            record["total_" + key] = round(total, digits)
    return record


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ghns", nargs="+", type=Path, help="GHN checkpoint directories of one architecture")
    p.add_argument("--run", type=Path, required=True, help="a run directory whose config gives the validation data")
    p.add_argument("--out", type=Path, required=True, help="where the averaged checkpoint goes")
    p.add_argument("--name", default=None, help="results file stem (default: the --out directory's name)")
    p.add_argument("--val-nets", type=int, default=None, help="default: the run's --val-nets")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--results", type=Path, default=RESULTS, help="where NAME.json goes")
    args = p.parse_args(argv)
    if len(args.ghns) < 2:
        p.error("give at least two GHN checkpoints to average")
    torch.set_num_threads(args.threads)

    from graphparam.model import GHN
    from graphparam.train.config import TrainConfig
    from graphparam.train.data import training_images
    from graphparam.train.validate import Validator

    members = [GHN.from_pretrained(path).eval() for path in args.ghns]
    if any(m.config.to_dict() != members[0].config.to_dict() for m in members[1:]):
        p.error("the GHNs have different configs: only one architecture can be averaged")
    soup = GHN.from_pretrained(args.ghns[0]).eval()
    soup.load_state_dict(average_state([m.state_dict() for m in members]))
    base = dict(members[0].pretrained_cfg or {})
    base["training"] = soup_training_record([(m.pretrained_cfg or {}).get("training", {}) for m in members])
    soup.save(args.out, base)

    cfg = TrainConfig.from_json((args.run / "config.json").read_text())
    _, held = training_images(cfg.data, cfg.val_images)
    validator = Validator(held, args.val_nets or cfg.val_nets, torch.device("cpu"), amp=False)
    rows = {}
    for label, ghn in [*((str(path), m) for path, m in zip(args.ghns, members)), ("average", soup)]:
        val = validator(ghn)
        rows[label] = {"top1": val["top1"], "top1_nets": val.get("top1_nets"), "fingerprint": ghn.fingerprint()}
        print(f"{label}: val top-1 {100 * val['top1']:.2f}%", file=sys.stderr, flush=True)
    name = args.name or args.out.name
    command = command_line(__file__, argv)
    (args.results / f"{name}.json").write_text(json.dumps({"command": command, "val_nets": validator.num_nets,
                                                       "val": rows, "out": str(args.out)}, indent=1) + "\n")
    print(f"wrote {args.out} and {args.results / name}.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
