"""Average the weights of GHNs trained from one parent (a "soup"), to ask whether legs that run side by side can
pool what they learned instead of racing for one to be kept.

    python experiments/average_ghns.py experiments/results/campaign36_ghn experiments/results/campaign37_ghn \
        --out experiments/results/soup36_37_ghn

The GHNs must share their config, vocabulary, data space and ``--init-from`` parent (so that they start from
one point: the average of two nets trained apart from different inits is not a net). The soup's
``pretrained_cfg.training`` records the members' records under ``average_of``; its lineage cost counts the
parent once and each member's own training (:func:`soup_training`).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command_line  # noqa: E402

from graphparam.train.lineage import COST_KEYS, lineage_cost  # noqa: E402


def soup_training(records: list[dict | None]) -> dict:
    """The training record of an average of GHNs whose records are ``records`` (one parent, checked)."""
    if any(not r for r in records):
        raise SystemExit("average_ghns: every GHN needs a training record (pretrained_cfg.training)")
    parents = {repr(r.get("parent")) for r in records}
    if len(parents) != 1:
        raise SystemExit("average_ghns: the GHNs were trained from different parents; average only legs of one "
                         "--init-from")
    parent = records[0].get("parent")
    out: dict = {"average_of": records}
    for key, digits in COST_KEYS.items():
        own = sum(lineage_cost(r, key) - lineage_cost(parent, key) for r in records)
        total = own + lineage_cost(parent, key)
        if total:
            out[key] = 0.0
            out["total_" + key] = round(total, digits)
    return out


def average(paths: list[str]):
    """The GHN whose tensors are the mean of those of the GHNs at ``paths`` (float tensors; others must agree)."""
    import torch

    from graphparam.model import GHN

    ghns = [GHN.from_pretrained(p) for p in paths]
    first = ghns[0]
    for path, ghn in zip(paths[1:], ghns[1:]):
        if ghn.config.to_dict() != first.config.to_dict() or ghn.vocab.to_dict() != first.vocab.to_dict():
            raise SystemExit(f"average_ghns: {path} has another config or vocabulary than {paths[0]}")
        if ghn.pretrained_cfg != first.pretrained_cfg:  # PretrainedCfg leaves ``training`` out of equality
            raise SystemExit(f"average_ghns: {path} was trained on another data space than {paths[0]}")
    states = [g.state_dict() for g in ghns]
    mean = {}
    for key, ref in states[0].items():
        if ref.is_floating_point():
            mean[key] = torch.stack([s[key].float() for s in states]).mean(0).to(ref.dtype)
        elif all(torch.equal(s[key], ref) for s in states):
            mean[key] = ref
        else:
            raise SystemExit(f"average_ghns: non-float tensor {key!r} differs between the GHNs")
    first.load_state_dict(mean)
    records = [g.pretrained_cfg.training for g in ghns]
    return first, records


def main(argv: list[str] | None = None) -> int:
    from graphparam.model.checkpoint import save

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("ghns", nargs="+", help="GHN checkpoint folders (two or more) of one parent")
    p.add_argument("--out", required=True, help="folder of the averaged GHN (safetensors + config.json)")
    args = p.parse_args(argv)
    if len(args.ghns) < 2:
        p.error("give two or more GHNs")
    ghn, records = average(args.ghns)
    training = {**soup_training(records), "command": command_line(__file__, argv)}
    save(ghn, args.out, dataclasses.replace(ghn.pretrained_cfg, training=training))
    print(f"averaged {len(args.ghns)} GHNs into {args.out} (fingerprint {ghn.fingerprint()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
