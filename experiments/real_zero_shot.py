"""Zero-shot CIFAR-10 top-1 on the held-out real models (``arch_zoo/splits/real_heldout.json``): a GHN's
predicted parameters next to PyTorch's default initialization, per model and per family, for each
model as its library builds it (``timm`` form, run at 32x32) and with ``--cifar-stem``.

    python experiments/real_zero_shot.py                          # shipped GHN 'cifar10', 2000 images, all models
    python experiments/real_zero_shot.py --jobs 2                 # two processes of one thread each, then the table
    python experiments/real_zero_shot.py --shard 0/2 --no-report &   # the same by hand: shards fill the cache ...
    python experiments/real_zero_shot.py --shard 1/2 --no-report &
    python experiments/real_zero_shot.py                          # ... then the table, from the cache
    python experiments/real_zero_shot.py --models timm:resnet18 timm:convnext_atto --images 100  # a smoke test

Every model is evaluated with the zero-shot protocol of :func:`graphparam.evaluate.evaluate` (BatchNorm
with batch statistics, batch 250) on the first ``--images`` images of the fixed, class-mixed evaluation
order of the CIFAR-10 test set (``--data`` or ``$GRAPHPARAM_DATA``; the output says how many). Per
model, form and initialization the result is appended to a JSONL cache (``--cache``) and reused when
the GHN (a digest of its weights), the data and the image count match, so a run resumes where it
stopped and shards fill one cache. Writes ``experiments/results/real_zero_shot.{json,md,png}``.

A cached GHN row is reused only if its ``structure_hash`` is the model's committed one
(``arch_zoo/splits/real_heldout.json``, which a test keeps equal to what the tracer gives): a tracer change
re-measures the models it changed. Swin-T (timm's default stochastic depth) and PoolFormerV2-S12 (StarReLU's
``x ** 2``) trace with the fx front end since the thirteenth session, with torch.export before, and MobileViT-XXS's
export graph lost a constant node per BatchNorm buffer then; for leg 44 this moved them from 21.65 to 20.60 %,
from 11.45 to 13.95 % and from 29.80 to 29.75 % as built.
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (RESULTS, add_data_arg, add_tile_layout_arg, command_line, load_ghn_for,  # noqa: E402
                    parse_shard, pyplot, run_shards, same_graph, write_results)
from train_eval import NetResults  # noqa: E402

WHO = ("ghn", "default_init")
LABELS = {("timm", "ghn"): "as built: GHN", ("timm", "default_init"): "as built: default init",
          ("cifar_stem", "ghn"): "CIFAR stem: GHN", ("cifar_stem", "default_init"): "CIFAR stem: default init"}


def measure(ref: str, form: str, ghn, data, device, cache: dict[str, NetResults | None], batch_size: int) -> dict:
    """``{who: result}`` of one model in one form, from the cache where it has them: the default
    initialization (seeded by reference and form) is evaluated first, then the GHN's prediction."""
    from arch_zoo import real_heldout
    from graphparam.errors import first_line
    from graphparam.evaluate import evaluate
    from graphparam.graph import trace

    split = f"real_heldout/{form}"
    out = {who: (cache[who].get(split, ref) if cache[who] is not None else None) for who in WHO}
    out["ghn"] = same_graph(out["ghn"], ref, form)
    todo = [who for who in WHO if out[who] is None and (who == "default_init" or ghn is not None)]
    if not todo:
        return out
    try:
        torch.manual_seed(zlib.crc32(f"{ref}/{form}".encode()))
        model = real_heldout.build(ref, form).to(device)
        params = sum(p.numel() for p in model.parameters())
        if "default_init" in todo:
            res = evaluate(model, data, batch_size=batch_size, device=device, progress=False)
            out["default_init"] = {"top1": res.top1, "loss": res.loss, "params": params, "seconds": res.seconds}
        if "ghn" in todo:
            start = time.perf_counter()
            graph = trace(model, real_heldout.INPUT_SIZE, name=ref)
            ghn.predict(model, real_heldout.INPUT_SIZE, graph=graph)
            predict_s = time.perf_counter() - start
            res = evaluate(model, data, batch_size=batch_size, device=device, progress=False)
            out["ghn"] = {"top1": res.top1, "loss": res.loss, "params": params, "seconds": res.seconds,
                          "predict_seconds": predict_s, "structure_hash": graph.structure_hash()}
    except Exception as exc:  # noqa: BLE001 - one failing model must not lose the table
        for who in todo:
            if out[who] is None:
                out[who] = {"error": first_line(exc, limit=300)}
    for who in todo:
        if out[who] is not None:
            out[who]["device"] = str(device)
            if cache[who] is not None:
                cache[who].put(split, ref, out[who])
    return out


def _pct(r: dict | None) -> str:
    if not r:
        return "-"
    return "fail" if "error" in r else f"{100 * r['top1']:.2f}"


def tables(res: dict) -> dict:
    """Per family and overall: ``{form: {who: summarize(top-1 %)}}`` of the models that ran."""
    from graphparam.evaluate import summarize

    groups: dict[str, list[str]] = {}
    for ref, row in res["models"].items():
        groups.setdefault(row["family"], []).append(ref)
    groups["all"] = list(res["models"])
    out = {}
    for family, refs in groups.items():
        out[family] = {}
        for form in res["meta"]["forms"]:
            out[family][form] = {}
            for who in WHO:
                vals = {r: 100 * res["models"][r]["forms"][form][who]["top1"] for r in refs
                        if "top1" in (res["models"][r]["forms"][form].get(who) or {})}
                out[family][form][who] = summarize(vals) if vals else None
    return out


def markdown(res: dict) -> str:
    meta, fam = res["meta"], res["families"]
    cols = [(form, who) for form in meta["forms"] for who in WHO]
    head = "| " + " | ".join(LABELS[c] for c in cols) + " |"
    lines = ["# Zero-shot CIFAR-10 top-1 (%) on held-out real models", "",
             f"Command: `{meta['command']}`", "",
             f"GHN `{meta['ghn']}` (fingerprint {meta['ghn_fingerprint']}, {meta['ghn_parameters']:,} parameters, "
             f"tile layout {meta.get('tile_layout', 'permuted')}). "
             f"Data: {meta['data']}, **{meta['images']} images** (the first of the fixed class-mixed evaluation "
             f"order), batch {meta['batch_size']}; protocol `graphparam.evaluate` (BatchNorm with batch statistics). "
             f"Models: `arch_zoo/splits/real_heldout.json` ({len(res['models'])} evaluated), 10 classes, 32x32 inputs; "
             "**as built**: `create_model(ref, num_classes=10, input_size=(3, 32, 32))`; **CIFAR stem**: the same with "
             "`cifar_stem=True`. **Default init**: PyTorch's initialization, no training (chance is 10%). "
             f"torch {meta['torch']}, timm {meta['timm']}, device {meta['device']}.", "",
             "## Per family (mean top-1 %, models)", "", "| family | models " + head,
             "|---|---" + "|---" * len(cols) + "|"]
    for family in sorted(fam, key=lambda f: (f == "all", f)):
        n = max(((fam[family][f][w] or {}).get("n", 0) for f, w in cols), default=0)
        cells = [f"{fam[family][f][w]['mean']:.2f}" if fam[family][f][w] else "-" for f, w in cols]
        name = f"**{family}**" if family == "all" else family
        lines.append(f"| {name} | {n} | " + " | ".join(cells) + " |")
    lines += ["", "## Per model (top-1 %)", "", "| model | family | params (as built / CIFAR stem) " + head,
              "|---|---|---" + "|---" * len(cols) + "|"]
    for ref, row in res["models"].items():
        params = " / ".join(f"{next((r['params'] for r in row['forms'][f].values() if r and 'params' in r), 0):,}"
                            for f in meta["forms"])
        lines.append(f"| {ref} | {row['family']} | {params} | "
                     + " | ".join(_pct(row["forms"][f].get(w)) for f, w in cols) + " |")
    failures = [(ref, f, w, row["forms"][f][w]["error"]) for ref, row in res["models"].items()
                for f in meta["forms"] for w in WHO if "error" in (row["forms"][f].get(w) or {})]
    if failures:
        lines += ["", "Failures:", ""] + [f"- {ref} ({LABELS[(f, w)]}): {err}" for ref, f, w, err in failures]
    lines.append("")
    return "\n".join(lines)


def plot(res: dict, path: Path) -> None:
    plt = pyplot()
    fam = res["families"]
    families = sorted(fam, key=lambda f: (f == "all", f))
    cols = [(form, who) for form in res["meta"]["forms"] for who in WHO]
    fig, ax = plt.subplots(figsize=(max(8, 0.75 * len(families) * len(cols) / 2), 4))
    width = 0.8 / len(cols)
    colors = {("timm", "ghn"): "tab:blue", ("timm", "default_init"): "lightsteelblue",
              ("cifar_stem", "ghn"): "tab:orange", ("cifar_stem", "default_init"): "navajowhite"}
    for i, c in enumerate(cols):
        means = [(fam[f][c[0]][c[1]] or {}).get("mean", 0) for f in families]
        ax.bar([x + (i - (len(cols) - 1) / 2) * width for x in range(len(families))], means, width,
               label=LABELS[c], color=colors[c])
    ax.axhline(10, color="k", lw=0.6, ls=":")
    ax.set_ylim(0, 1.35 * max([10] + [(fam[f][c[0]][c[1]] or {}).get("mean", 0) for f in families for c in cols]))
    ax.set_xticks(range(len(families)), families, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("zero-shot top-1 % (family mean)")
    ax.set_title(f"GHN {res['meta']['ghn']} on held-out real models, {res['meta']['images']} CIFAR-10 test images",
                 fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ghn", default="cifar10",
                   help="GHN checkpoint directory or registered name (default: %(default)s)")
    add_tile_layout_arg(p)
    add_data_arg(p)
    p.add_argument("--images", type=int, default=2000, help="first N images of the evaluation order (0: all 10,000)")
    p.add_argument("--models", nargs="+", default=None, metavar="REF",
                   help="only these references of the held-out list (default: all)")
    p.add_argument("--forms", nargs="+", default=["timm", "cifar_stem"], choices=("timm", "cifar_stem"))
    p.add_argument("--only", choices=WHO, default=None,
                   help="measure one initialization (default init needs no GHN and can run while one trains)")
    p.add_argument("--batch-size", type=int, default=None, help="evaluation batch (default: the protocol's 250)")
    p.add_argument("--cache", default=str(RESULTS / "real_zero_shot_nets.jsonl"),
                   help="per-model results (JSONL), reused when GHN, data and image count match; 'none' to re-measure")
    p.add_argument("--out", default=str(RESULTS / "real_zero_shot"), help="output stem")
    p.add_argument("--shard", default="0/1", metavar="I/N", help="measure the models whose index is I modulo N")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="measure with N processes of one thread each (--shard I/N --no-report), then write the table")
    p.add_argument("--no-report", action="store_true", help="fill the cache only; write no table")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    shard = parse_shard(p, args.shard)
    if args.jobs < 1:
        p.error(f"--jobs takes a positive count, got {args.jobs}")
    if (args.jobs > 1 or shard[1] > 1) and args.cache == "none":
        p.error("--jobs and --shard fill the cache; they cannot be combined with --cache none")
    if args.jobs > 1:
        if shard[1] > 1:
            p.error("--jobs runs its own --shard processes; give one or the other")
        run_shards(__file__, list(sys.argv[1:] if argv is None else argv), args.jobs, ["--no-report"])
        args.threads = args.threads or args.jobs
    if args.threads:
        torch.set_num_threads(args.threads)

    import timm

    from arch_zoo import real_heldout
    from graphparam.data import load_dataset
    from graphparam.device import resolve_device
    from graphparam.evaluate import EVAL_BATCH_SIZE, first_images

    listed = {m["ref"]: m["family"] for m in real_heldout.models()}
    unknown = sorted(set(args.models or ()) - set(listed))
    if unknown:
        p.error(f"not in the held-out list: {', '.join(unknown)} (see {real_heldout.HELDOUT_PATH})")
    refs = [r for r in listed if args.models is None or r in args.models]
    device = resolve_device(args.device)
    ghn = None if args.only == "default_init" else load_ghn_for(args, device)
    data = first_images(load_dataset(args.data, "test"), args.images)
    batch_size = args.batch_size or EVAL_BATCH_SIZE
    print(f"{len(refs)} models x {len(args.forms)} forms on {len(data)} images of {data.name}", file=sys.stderr)
    keys = {"ghn": ghn.fingerprint() if ghn is not None else None, "default_init": "default_init"}
    cache = {who: None if args.cache == "none" or keys[who] is None else
             NetResults(args.cache, {"ghn": keys[who], "data": data.name, "images": len(data), "batch": batch_size})
             for who in WHO}
    start = time.perf_counter()
    models = {}
    for k, ref in enumerate(refs):
        if k % shard[1] != shard[0]:
            continue
        row = {"family": listed[ref], "forms": {}}
        for form in args.forms:
            got = measure(ref, form, ghn, data, device, cache, batch_size)
            row["forms"][form] = {who: got[who] for who in WHO if args.only in (None, who)}
            print(f"{ref} [{form}]: GHN {_pct(got['ghn'])}  default init {_pct(got['default_init'])}  "
                  f"({time.perf_counter() - start:.0f}s)", file=sys.stderr, flush=True)
        models[ref] = row
    if args.no_report or shard[1] > 1 or args.only:
        print(f"per-model results are in {args.cache}; no table written", file=sys.stderr)
        return 0
    res = {"meta": {"command": command_line(__file__, argv), "ghn": args.ghn, "ghn_fingerprint": keys["ghn"],
                    "tile_layout": ghn.config.tile_layout,
                    "ghn_parameters": ghn.num_parameters(), "data": data.name, "images": len(data),
                    "batch_size": batch_size, "forms": list(args.forms), "device": str(device),
                    "torch": torch.__version__, "timm": timm.__version__,
                    "seconds": round(time.perf_counter() - start, 1)},
           "models": models}
    res["families"] = tables(res)
    stem = write_results(args.out, res, markdown(res), lambda path: plot(res, path))
    overall = res["families"]["all"]
    print("; ".join(f"{LABELS[(f, w)]} {overall[f][w]['mean']:.2f}%" for f in args.forms for w in WHO
                    if overall[f][w]), f"({len(data)} images)", file=sys.stderr)
    print(f"wrote {stem}.{{json,md,png}}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
