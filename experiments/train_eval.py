"""Zero-shot evaluation of a trained GHN on arch_zoo evaluation splits.

For every net of each split: build it, predict ALL its parameters with the GHN, evaluate on the
CIFAR-10 test set with the zero-shot protocol (:func:`graphparam.evaluate.evaluate`: BatchNorm
with batch statistics, batch size 250). Writes per-net results and per-split mean/std/min/max
(:func:`graphparam.evaluate.summarize`) as JSON, plus a Markdown table.

    python experiments/train_eval.py runs/main/ghn --splits val test --max-nets 50 --max-images 2000
    python experiments/train_eval.py runs/main/ghn --splits real

``--max-images N`` evaluates on the first N images of the evaluation order of the test set, i.e. a
fixed, class-mixed subset (say so when reporting); the default is all 10,000.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, add_data_arg, command_line, write_results  # noqa: E402


def _build(split: str, item, num_classes: int = 10):
    """(name, module) of one net of a split (``real`` items are model names)."""
    import arch_zoo

    if split == "real":
        return item, arch_zoo.real.build(item, num_classes=num_classes)
    return item.hash, item.build(num_classes=num_classes)


class NetResults:
    """Per-net results appended to a JSONL file as they are measured, so an interrupted table resumes
    and several processes (one per split) can fill one table. A line is reused only when its
    ``context`` (GHN fingerprint or default init, data, image count) equals the current one."""

    def __init__(self, path: str | Path, context: dict):
        self.path, self.context = Path(path), dict(context)
        self.rows: dict[tuple[str, str], dict] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                row = json.loads(line) if line.strip() else {}
                if row and all(row.get(k) == v for k, v in self.context.items()):
                    self.rows[(row["split"], row["name"])] = row["result"]

    def get(self, split: str, name: str) -> dict | None:
        """The net's result as :meth:`put` stored it (``{"error": ...}`` for a failure), or None."""
        return self.rows.get((split, name))

    def put(self, split: str, name: str, result: dict) -> None:
        self.rows[(split, name)] = result
        row = {**self.context, "split": split, "name": name, "result": result}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:  # one short line per write: appends from two processes do not mix
            f.write(json.dumps(row) + "\n")


def evaluate_split(ghn, split: str, data, max_nets: int | None, device: torch.device, batch_size: int,
                   progress: bool = True, cache: NetResults | None = None, only: set[str] | None = None,
                   shard: tuple[int, int] = (0, 1)) -> dict:
    """Zero-shot top-1 of every net of ``split`` (the first ``max_nets``), with the GHN's prediction or,
    for ``ghn=None``, PyTorch's default initialization (seeded per net, so a resumed run draws the same).
    ``cache``: reuse and record per-net results (:class:`NetResults`). ``only``: the ``real`` models
    to evaluate, by name (the others are skipped; nets keep their index in the split). ``shard=(i, n)``:
    only the nets whose index is i modulo n, so n processes can fill one cache side by side."""
    import arch_zoo
    from graphparam.errors import first_line
    from graphparam.evaluate import evaluate, summarize
    from graphparam.graph import trace
    from graphparam.model import fill

    items = arch_zoo.split(split)
    if max_nets is not None:
        items = items[:max_nets]
    nets, failures = {}, {}
    for k, item in enumerate(items):
        if (only is not None and split == "real" and item not in only) or k % shard[1] != shard[0]:
            continue
        name = f"{k:03d}"
        known = cache.get(split, name) if cache is not None else None
        if known is not None:
            if "error" in known:
                failures[name] = known["error"]
            else:
                nets[name] = known
            continue
        torch.manual_seed(k)
        try:
            ident, net = _build(split, item)
            net = net.to(device)
            start = time.perf_counter()
            if ghn is not None:  # None: the baseline, PyTorch's default initialization
                graph = trace(net, (3, 32, 32), name=str(ident))
                with torch.no_grad():
                    fill(net, ghn([graph])[0])
            predict_s = time.perf_counter() - start
            res = evaluate(net, data, batch_size=batch_size, device=device, progress=False)
        except Exception as exc:  # report and go on: one untraceable real net must not lose a split
            failures[name] = first_line(exc)
            print(f"{split} {name}: FAILED {failures[name]}", file=sys.stderr)
            if cache is not None:
                cache.put(split, name, {"error": failures[name]})
            continue
        nets[name] = {"id": str(ident), "top1": res.top1, "loss": res.loss, "params": sum(p.numel() for p in net.parameters()),
                      "predict_seconds": predict_s, "eval_seconds": res.seconds, "device": str(device)}
        if cache is not None:
            cache.put(split, name, nets[name])
        if progress:
            print(f"{split} {name} {ident}: top1 {100 * res.top1:.2f}%  ({nets[name]['params']:,} params)",
                  file=sys.stderr)
    summary = summarize({k: 100 * v["top1"] for k, v in nets.items()}) if nets else None
    return {"split": split, "nets": nets, "failures": failures, "summary_top1_percent": summary}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ghn", help="GHN checkpoint directory (e.g. runs/main/ghn), registered name, or 'default-init' "
                               "for the baseline: the same nets with PyTorch's default initialization")
    p.add_argument("--splits", nargs="+", default=["val"], help="val test wide deep dense bnfree real")
    p.add_argument("--max-nets", type=int, default=None, help="first N nets of each split")
    p.add_argument("--max-images", type=int, default=None, help="first N images of the evaluation order")
    add_data_arg(p, "; 'embedded' = 1k test images")
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=None, help="output stem (default: experiments/results/train_eval_<splits>)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from graphparam.data import load_dataset
    from graphparam.evaluate import first_images
    from graphparam.model import GHN
    from graphparam.train.distributed import resolve_device

    device = resolve_device(args.device)
    torch.manual_seed(0)  # the baseline's default initialization is random: fix it
    ghn = None if args.ghn == "default-init" else GHN.from_pretrained(args.ghn, device=device).eval()
    data = load_dataset(args.data, "test")
    data = first_images(data, args.max_images)
    meta = {"command": command_line(__file__, argv),
            "ghn": str(args.ghn), "ghn_parameters": ghn.num_parameters() if ghn is not None else 0, "data": data.name, "images": len(data),
            "batch_size": args.batch_size, "device": str(device), "torch": torch.__version__}
    results = {"meta": meta, "splits": {}}
    for split in args.splits:
        results["splits"][split] = evaluate_split(ghn, split, data, args.max_nets, device, args.batch_size)
        s = results["splits"][split]["summary_top1_percent"]
        if s:
            print(f"{split}: top1 mean {s['mean']:.2f}% std {s['std']:.2f} min {s['min']:.2f} max {s['max']:.2f} "
                  f"({s['n']} nets)", file=sys.stderr)
    stem = write_results(args.out or RESULTS / ("train_eval_" + "_".join(args.splits)), results, _markdown(results))
    print(f"wrote {stem.with_suffix('.json')} and {stem.with_suffix('.md')}", file=sys.stderr)
    return 0


def _markdown(results: dict) -> str:
    meta = results["meta"]
    lines = ["# Zero-shot top-1 of GHN-predicted parameters", "", f"Command: `{meta['command']}`", "",
             f"GHN `{meta['ghn']}` ({meta['ghn_parameters']:,} parameters); data {meta['data']} "
             f"({meta['images']} images; CIFAR-10 JPEG q75 copy unless embedded), zero-shot protocol of "
             f"`graphparam.evaluate` (BatchNorm with batch statistics, batch {meta['batch_size']}).", "",
             "| split | nets | failed | top-1 mean % | std | min | max |", "|---|---|---|---|---|---|---|"]
    for split, r in results["splits"].items():
        s = r["summary_top1_percent"]
        if s:
            lines.append(f"| {split} | {s['n']} | {len(r['failures'])} | {s['mean']:.2f} | {s['std']:.2f} | "
                         f"{s['min']:.2f} | {s['max']:.2f} |")
        else:
            lines.append(f"| {split} | 0 | {len(r['failures'])} | - | - | - | - |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
