"""The zero-shot table: a GHN's predicted parameters per arch_zoo split and per real model, next to the
same nets with PyTorch's default initialization (no training at all) and GHN-2's published numbers.

    python experiments/zero_shot_table.py                                  # shipped GHN, full protocol
    python experiments/zero_shot_table.py --max-nets 20 --max-images 1000  # reduced, for a CPU
    python experiments/zero_shot_table.py --nets test=100 --max-nets 20 --jobs 2  # one process per core
    python experiments/zero_shot_table.py --splits test --nets test=100 --only ghn --shard 0/2 &  # the same by hand:
    python experiments/zero_shot_table.py --splits test --nets test=100 --only ghn --shard 1/2 &  # shards fill the cache,
    python experiments/zero_shot_table.py --splits test --nets test=100    # ... then the table, from the cache
    python experiments/zero_shot_table.py --only default_init             # the baseline column alone, into the cache

Per-net results go to ``results/zero_shot_nets.jsonl`` as they are measured and are reused when the
GHN (a digest of its weights), the data and the image count match: an interrupted table resumes, and
a second session continues where the first stopped.

Every net is evaluated with the zero-shot protocol of ``graphparam.evaluate`` (BatchNorm with batch
statistics) on the CIFAR-10 test set; ``--max-images N`` takes the first N images of the fixed,
class-mixed evaluation order and ``--max-nets N`` the first N nets of each generated split (the real
models are always all evaluated). Writes ``experiments/results/zero_shot.{json,md,png}``.
GHN-2's column is copied from its paper (Knyazev et al., NeurIPS 2021, CIFAR-10, GHN-2 trained
4.9 GPU-days); nothing of GHN-2 is run here.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (RESULTS, add_data_arg, add_tile_layout_arg, command_line, load_ghn_for, parse_shard,  # noqa: E402
                    pyplot, run_shards, write_results)
from train_eval import NetResults, evaluate_split  # noqa: E402

SPLITS = ("test", "wide", "deep", "dense", "bnfree", "real")
# Published GHN-2 zero-shot CIFAR-10 top-1 (%), for reference only.
GHN2 = {"test": 66.9, "wide": 64.0, "deep": 60.5, "dense": 65.8, "bnfree": 36.8,
        "real:resnet50": 58.6, "real:vit": 11.4}
REAL_BY_NAME = ("resnet50", "vit_tiny", "vit_small")  # reported one by one (GHN-2's "ViT" is a small ViT)


def _row(summary: dict | None) -> str:
    if not summary:
        return "- |"
    return f"{summary['mean']:.2f} ± {summary['std']:.2f} ({summary['min']:.1f}–{summary['max']:.1f}) |"


def markdown(res: dict) -> str:
    meta = res["meta"]
    lines = ["# Zero-shot CIFAR-10 top-1 (%)", "", f"Command: `{meta['command']}`", "",
             f"GHN `{meta['ghn']}` ({meta['ghn_parameters']:,} parameters, tile layout "
             f"{meta.get('tile_layout', 'permuted')}; training compute: "
             f"{meta['compute']}). Data: {meta['data']}, {meta['images']} images; first {meta['max_nets'] or 'all'} "
             "nets of each generated split" + "".join(f" ({k}: first {v})" for k, v in
                                                     meta.get("nets_per_split", {}).items())
             + (f", real models {', '.join(meta['real'])}" if meta.get("real") else ", all real models")
             + ". Protocol: `graphparam.evaluate` (BatchNorm with "
             "batch statistics), identical for every column. **Default init** is the same nets with PyTorch's "
             "default initialization and **no training** (the chance-level reference). **GHN-2** is copied from "
             "its paper (4.9 GPU-days of training), not re-run.", "",
             "| split | nets | this GHN: mean ± std (min–max) | default init, no training | GHN-2 (paper) |",
             "|---|---|---|---|---|"]
    for split in meta["splits"]:
        g, d = res["ghn"][split], res["default_init"][split]
        n = (g["summary_top1_percent"] or {}).get("n", 0)
        lines.append(f"| {split} | {n} | {_row(g['summary_top1_percent'])} {_row(d['summary_top1_percent'])} "
                     f"{GHN2.get(split, '-')} |")
    if "real" in meta["splits"]:
        lines += ["", "Real models by name (adapted to 32×32 inputs and 10 classes by `arch_zoo.real`):", "",
                  "| model | params | this GHN | default init, no training | GHN-2 (paper) |", "|---|---|---|---|---|"]
        g, d = res["ghn"]["real"]["nets"], res["default_init"]["real"]["nets"]
        for key in sorted(g, key=lambda k: g[k]["id"]):
            name = g[key]["id"]
            ref = GHN2.get("real:resnet50") if name == "resnet50" else (GHN2["real:vit"] if name.startswith("vit") else "-")
            bold = "**" if name in REAL_BY_NAME else ""
            base = f"{100 * d[key]['top1']:.2f}" if key in d else "-"
            lines.append(f"| {bold}{name}{bold} | {g[key]['params']:,} | {100 * g[key]['top1']:.2f} | "
                         f"{base} | {ref} |")
    devices = Counter(net.get("device", "cpu") for who in ("ghn", "default_init") for s in meta["splits"]
                      for net in res[who][s]["nets"].values())
    lines += ["", "Where the per-net results were measured (a result without a device is from the CPU machines): "
              + ", ".join(f"{d} {n} nets" for d, n in sorted(devices.items())) + "."]
    failures = {f"{who}:{s}:{k}": v for who in ("ghn", "default_init") for s in meta["splits"]
                for k, v in res[who][s]["failures"].items()}
    if failures:
        lines += ["", "Failures:", ""] + [f"- {k}: {v}" for k, v in failures.items()]
    lines.append("")
    return "\n".join(lines)


def plot(res: dict, path: Path) -> None:
    plt = pyplot()
    splits = res["meta"]["splits"]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.27
    for i, (who, label) in enumerate((("ghn", "this GHN"), ("default_init", "default init (no training)"))):
        means = [(res[who][s]["summary_top1_percent"] or {}).get("mean", 0) for s in splits]
        stds = [(res[who][s]["summary_top1_percent"] or {}).get("std", 0) for s in splits]
        ax.bar([x + (i - 1) * width for x in range(len(splits))], means, width, yerr=stds, label=label, capsize=2)
    ax.bar([x + width for x in range(len(splits))], [GHN2.get(s, 0) for s in splits], width,
           label="GHN-2 (paper, 4.9 GPU-days)", color="0.75")
    ax.axhline(10, color="k", lw=0.6, ls=":")
    ax.set_xticks(range(len(splits)), splits)
    ax.set_ylabel("zero-shot top-1 %")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ghn", default="cifar10", help="GHN checkpoint directory or registered name")
    add_tile_layout_arg(p)
    p.add_argument("--compute", default=None,
                   help="training compute of that GHN, written next to the numbers (default: from its checkpoint)")
    p.add_argument("--splits", nargs="+", default=list(SPLITS))
    p.add_argument("--max-nets", type=int, default=None, help="first N nets of each generated split")
    p.add_argument("--nets", nargs="+", default=[], metavar="SPLIT=N",
                   help="per-split override of --max-nets, e.g. test=100")
    p.add_argument("--cache", default=str(RESULTS / "zero_shot_nets.jsonl"),
                   help="per-net results (JSONL): reused when GHN, data and image count match, appended otherwise; "
                        "'none' to measure everything again")
    p.add_argument("--real", nargs="+", default=None, metavar="NAME",
                   help="evaluate only these real models (arch_zoo.real names; default: all)")
    p.add_argument("--max-images", type=int, default=None, help="first N images of the evaluation order")
    add_data_arg(p, "; 'embedded' = 1k test images")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=str(RESULTS / "zero_shot"), help="output stem")
    p.add_argument("--only", choices=("ghn", "default_init"), default=None,
                   help="measure one column into the cache and write no table (default init does not depend on "
                        "the GHN, so it can be filled while the GHN still trains)")
    p.add_argument("--shard", default="0/1", metavar="I/N",
                   help="with --only: measure the nets whose index is I modulo N, so N processes fill the cache "
                        "side by side (e.g. 0/2 and 1/2, one per core)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="measure with N processes of one thread each (--only COLUMN --shard I/N), then write the "
                        "table from the cache")
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error(f"--jobs takes a positive count, got {args.jobs}")
    if args.jobs > 1:
        if args.only or args.shard != "0/1" or args.cache == "none":
            p.error("--jobs runs its own --only/--shard processes into the cache; give neither, nor --cache none")
        argv = list(sys.argv[1:] if argv is None else argv)
        for who in ("ghn", "default_init"):  # fill the cache with each column, one shard per process
            run_shards(__file__, argv, args.jobs, ["--only", who], label=who)
        args.threads = args.threads or args.jobs
    shard = parse_shard(p, args.shard)
    if shard[1] > 1 and not args.only:
        p.error("--shard measures part of each split; use it with --only, then write the table from the cache")
    if args.only and args.cache == "none":
        p.error("--only fills the cache; it cannot be combined with --cache none")
    if args.threads:
        torch.set_num_threads(args.threads)
    from graphparam.data import load_dataset
    from graphparam.evaluate import first_images
    from graphparam.train.distributed import resolve_device

    per_split = {}
    for item in args.nets:
        split, _, count = item.partition("=")
        if split not in SPLITS or split == "real" or not count.isdigit():
            p.error(f"--nets takes SPLIT=N for a generated split, got {item!r}")
        per_split[split] = int(count)
    import arch_zoo

    unknown = sorted(set(args.real or ()) - set(arch_zoo.real.REAL_MODELS))
    if unknown:
        p.error(f"unknown real model(s) {', '.join(unknown)}; known: {', '.join(arch_zoo.real.REAL_MODELS)}")
    device = resolve_device("auto")
    ghn = load_ghn_for(args, device)
    if args.compute is None:
        training = ghn.pretrained_cfg.training or {}
        from graphparam.train.lineage import lineage_cost

        hours, gpu = lineage_cost(training, "cpu_core_hours"), lineage_cost(training, "gpu_hours")
        args.compute = (f"{round(hours, 3)} CPU core-hours" + (f" and {round(gpu, 4)} GPU-hours" if gpu else "")
                        + f" in all, {training.get('steps')} steps in its last run (its pretrained_cfg)"
                        if hours or gpu else "not recorded in its checkpoint")
    data = load_dataset(args.data, "test")
    data = first_images(data, args.max_images)
    command = command_line(__file__, argv)
    res = {"meta": {"command": command.strip(), "ghn": args.ghn, "tile_layout": ghn.config.tile_layout,
                    "ghn_parameters": ghn.num_parameters(),
                    "compute": args.compute, "data": data.name, "images": len(data),
                    "max_nets": args.max_nets, "nets_per_split": per_split, "real": args.real,
                    "splits": list(args.splits), "device": str(device), "torch": torch.__version__},
           "ghn": {}, "default_init": {}}
    start = time.perf_counter()
    caches = {who: None if args.cache == "none" else
              NetResults(args.cache, {"ghn": key, "data": data.name, "images": len(data)})
              for who, key in (("ghn", ghn.fingerprint()), ("default_init", "default_init"))}
    for split in args.splits:
        max_nets = None if split == "real" else per_split.get(split, args.max_nets)
        for who, model in (("ghn", ghn), ("default_init", None)):
            if args.only in (None, who):
                res[who][split] = evaluate_split(model, split, data, max_nets, device, 250, progress=False,
                                                 cache=caches[who], only=set(args.real) if args.real else None,
                                                 shard=shard)
        g, d = ((res[w].get(split) or {}).get("summary_top1_percent") or {} for w in ("ghn", "default_init"))
        print(f"{split}: GHN {g.get('mean', float('nan')):.2f}%  default init {d.get('mean', float('nan')):.2f}%  "
              f"({g.get('n', 0)} nets, {time.perf_counter() - start:.0f}s)", file=sys.stderr, flush=True)
    res["meta"]["seconds"] = round(time.perf_counter() - start, 1)
    if args.only:
        print(f"{args.only}: per-net results are in {args.cache}; no table written (--only)", file=sys.stderr)
        return 0
    stem = write_results(args.out, res, markdown(res), lambda path: plot(res, path))
    print(f"wrote {stem}.{{json,md,png}}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
