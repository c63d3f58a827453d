"""Finish a meta-training run for the record: validate its last step if the run did not (a run stopped by a
signal, or one that predates the trainer's final validation), then keep a compact copy of its metrics under
``experiments/results/NAME.json`` for ``learning_curve.py``, with what the run cost (``stop``: its processes'
CPU seconds and peak memory, from their stop events; ``killed``: how many processes were killed without one, whose
CPU is not in the sum).

The validation is the trainer's own (:class:`graphparam.train.validate.Validator`: the first ``val_nets`` nets
of the ``val`` split on the run's held-out training images), with the run's saved config, on its saved GHN.

    python experiments/finish_run.py runs/campaign4 --name campaign4
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="run directory (holds config.json, metrics.jsonl, ghn/)")
    p.add_argument("--name", help="results file stem (default: the run directory's name)")
    p.add_argument("--val-nets", type=int, help="default: the run's --val-nets")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--results", type=Path, default=RESULTS, help="where NAME.json goes")
    p.add_argument("--command", help="the training command, kept with the records (the run's config is kept too)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    from graphparam.model import GHN
    from graphparam.train.config import TrainConfig
    from graphparam.train.data import training_images
    from graphparam.train.metrics import MetricsLog, compact_records, read_metrics, run_cost
    from graphparam.train.validate import Validator, describe_val

    metrics = args.run / "metrics.jsonl"
    if not (args.run / "config.json").is_file() or not metrics.is_file():
        p.error(f"{args.run} is not a training run (needs config.json and metrics.jsonl)")
    cfg = TrainConfig.from_json((args.run / "config.json").read_text())
    rows = read_metrics(metrics)
    last = max((r["step"] for r in rows if r.get("kind") == "train"), default=0)
    if last and not any(r.get("kind") == "val" and r["step"] == last for r in rows):
        _, held = training_images(cfg.data, cfg.val_images)
        validator = Validator(held, args.val_nets or cfg.val_nets, torch.device("cpu"), amp=False)
        val = validator(GHN.from_pretrained(args.run / "ghn").eval())
        log = MetricsLog(metrics)
        log.write({"kind": "val", "step": last, **val, "final": True})
        log.close()
        print(describe_val(last, val))
        rows = read_metrics(metrics)
    name = args.name or args.run.name
    out = args.results / f"{name}.json"
    out.write_text(json.dumps({"run": name, "argv": args.command, "config": cfg.to_dict(), "stop": run_cost(rows),
                               "records": compact_records(rows)}) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
