"""Fine-tuning from the GHN prediction vs from the default initialization -> results/finetune.{md,json,png}

    python experiments/finetune.py --ghn cifar10                        # reduced CPU protocol (defaults)
    python experiments/finetune.py --ghn cifar10 --epochs 5 --max-steps-per-epoch 0 --test-images 10000  # full epochs
    python experiments/finetune.py --ghn untrained:tiny --nets test:0,test:2 --epochs 2 \\
        --max-steps-per-epoch 2 --seeds 0 --test-images 250 --out /tmp/ft          # smoke test

Every held-out net (``real:NAME`` from ``arch_zoo.real``, ``test:I`` = net I of the ``arch_zoo``
``test`` split) is trained twice per seed with one recipe (:func:`graphparam.finetune.finetune`):
once from the GHN prediction, once from the model's default initialization (same seed: same
default init, same batch order and augmentation). Test top-1 is measured before training and
after every epoch with the zero-shot protocol (batch-statistics BN, batches of 250) on
``--test-images`` CIFAR-10 test images (seeded subset). Runs are stored in the JSON as they
finish; a rerun with the same settings skips finished runs.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, add_data_arg, atomic_write, command_line, load_ghn, machine, pyplot  # noqa: E402

DEFAULT_NETS = ("real:mobilenet_v3_small,real:regnety_004,real:efficientnet_b0,real:deit_tiny,"
                "test:0,test:1,test:2,test:5,test:6,test:7")


def net_factory(token: str):
    """``real:NAME`` or ``SPLIT:INDEX`` -> (display name, family, callable building a fresh net)."""
    import arch_zoo

    kind, _, ident = token.partition(":")
    if kind == "real":
        arch_zoo.real.build(ident)  # fail early on an unknown name
        return f"{ident}", f"real/{ident}", lambda: arch_zoo.real.build(ident, num_classes=10)
    spec = arch_zoo.split(kind)[int(ident)]
    return f"{kind}#{ident} ({spec.family})", spec.family, lambda: spec.build(num_classes=10)


def _mean(v):
    v = [x for x in v if x is not None and math.isfinite(x)]
    return statistics.fmean(v) if v else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ghn", default="cifar10", help="checkpoint dir or registered name; untrained:tiny for smoke tests")
    ap.add_argument("--nets", default=DEFAULT_NETS, help="comma-separated real:NAME / test:INDEX tokens")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--max-steps-per-epoch", type=int, default=8, help="0 = full passes over the training set")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--optimizer", default="sgd", choices=["sgd", "adamw"])
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--weight-decay", type=float, default=None)
    ap.add_argument("--warmup-steps", type=int, default=0)
    ap.add_argument("--grad-clip", type=float, default=5.0)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--test-images", type=int, default=500)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default=None)
    add_data_arg(ap)
    ap.add_argument("--fresh", action="store_true", help="ignore runs stored in the output JSON")
    ap.add_argument("--out", type=Path, default=RESULTS, help="directory for finetune.{md,json,png}")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from graphparam.device import resolve_device

    device = resolve_device(args.device or "auto")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    tokens = [t.strip() for t in args.nets.split(",") if t.strip()]

    from graphparam.data import load_cifar10
    from graphparam.finetune import FinetuneResult, compare_inits
    from graphparam.nas import held_out_subset, param_count
    from graphparam.predict import GHNInitializer

    t_start = time.perf_counter()
    train = load_cifar10(args.data, split="train")
    test = held_out_subset(load_cifar10(args.data, split="test"), args.test_images, seed=0)
    ghn, trained = load_ghn(args.ghn)
    ghn.to(device)
    recipe = dict(epochs=args.epochs, max_steps_per_epoch=args.max_steps_per_epoch or None,
                  batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, weight_decay=args.weight_decay,
                  warmup_steps=args.warmup_steps, grad_clip=args.grad_clip, test_images=len(test))
    key = json.dumps({**recipe, "ghn": args.ghn, "ghn_fingerprint": ghn.fingerprint()}, sort_keys=True)
    args.out.mkdir(parents=True, exist_ok=True)
    out_json = args.out / "finetune.json"
    old = json.loads(out_json.read_text()) if out_json.is_file() and not args.fresh else {}
    runs: dict[str, dict] = old.get("runs", {}) if old.get("key") == key else {}
    nets_meta: dict[str, dict] = {}

    def save(final: bool = False, summary: dict | None = None):
        result = {"key": key, "label": "" if trained else f"UNTRAINED GHN ({args.ghn}): smoke test, not a result",
                  "ghn": args.ghn, "trained_ghn": trained, "recipe": recipe, "seeds": seeds, "nets": nets_meta,
                  "runs": runs, "summary": summary or {}, "complete": final,
                  "env": {**machine(), "device": str(device), "threads": args.threads},
                  "seconds": time.perf_counter() - t_start}
        atomic_write(out_json, json.dumps(result, indent=1) + "\n")

    for token in tokens:
        name, family, make = net_factory(token)
        nets_meta[token] = {"name": name, "family": family, "params": param_count(make())}
        for seed in seeds:
            run_key = f"{token}|{seed}"
            if run_key in runs:
                continue
            res = compare_inits(make, ghn, train, test, inits={"ghn": GHNInitializer(ghn), "random": None},
                                seed=seed, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                                optimizer=args.optimizer, weight_decay=args.weight_decay,
                                warmup_steps=args.warmup_steps, grad_clip=args.grad_clip,
                                max_steps_per_epoch=args.max_steps_per_epoch or None, device=device, progress=False)
            runs[run_key] = {k: r.as_dict() for k, r in res.items()}
            g, r = res["ghn"], res["random"]
            print(f"{name:28s} seed {seed}: top1 ghn {' '.join(f'{100 * v:5.1f}' for v in g.test_top1)} | "
                  f"random {' '.join(f'{100 * v:5.1f}' for v in r.test_top1)} ({g.seconds + r.seconds:.0f}s)",
                  flush=True)
            save()

    # ---- summary --------------------------------------------------------------------------------
    E = args.epochs
    per_net = {}
    for token in tokens:
        rs = [{k: FinetuneResult.from_dict(v) for k, v in runs[f"{token}|{s}"].items()} for s in seeds]
        row = {}
        for init in ("ghn", "random"):
            row[init] = {f"ep{e}": _mean([r[init].test_top1[e] for r in rs]) for e in range(E + 1)}
            row[init]["curve"] = [_mean([r[init].test_top1[e] for r in rs]) for e in range(E + 1)]
            row[init]["train_loss"] = [_mean([r[init].train_loss[e] for r in rs]) for e in range(E)]
            row[init]["diverged"] = sum(r[init].diverged for r in rs)
            row[init]["seconds"] = sum(r[init].seconds for r in rs)
        row["pair_wins_ep1"] = sum(r["ghn"].test_top1[1] > r["random"].test_top1[1] for r in rs)
        per_net[token] = row
    gains1 = [per_net[t]["ghn"]["ep1"] - per_net[t]["random"]["ep1"] for t in tokens]
    gainsE = [per_net[t]["ghn"][f"ep{E}"] - per_net[t]["random"][f"ep{E}"] for t in tokens]
    summary = {
        "per_net": per_net,
        "wins_ep1": sum(g > 0 for g in gains1), "ties_ep1": sum(g == 0 for g in gains1),
        f"wins_ep{E}": sum(g > 0 for g in gainsE),
        "pair_wins_ep1": sum(per_net[t]["pair_wins_ep1"] for t in tokens), "pairs": len(tokens) * len(seeds),
        "mean_gain_ep1": _mean(gains1), f"mean_gain_ep{E}": _mean(gainsE),
        "mean_zero_shot_ghn": _mean([per_net[t]["ghn"]["ep0"] for t in tokens]),
        "mean_ep0_random": _mean([per_net[t]["random"]["ep0"] for t in tokens]),
        "n_nets": len(tokens),
    }
    save(final=True, summary=summary)
    plot(per_net, nets_meta, tokens, E, args.out / "finetune.png", "" if trained else "UNTRAINED GHN: smoke test")
    run_seconds = sum(r["seconds"] + r["config"].get("init_seconds", 0.0) for pair in runs.values() for r in pair.values())
    write_md(summary, nets_meta, tokens, args, recipe, trained, device, run_seconds,
             args.out / "finetune.md", train_images=len(train))
    print(f"wins after 1 epoch: {summary['wins_ep1']}/{len(tokens)}; mean gain ep1 {100 * summary['mean_gain_ep1']:+.2f} "
          f"pp, ep{E} {100 * summary[f'mean_gain_ep{E}']:+.2f} pp; wrote {args.out / 'finetune.md'}")
    return 0


def plot(per_net, meta, tokens, E, path: Path, label: str) -> None:
    plt = pyplot()
    n = len(tokens)
    cols = min(5, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.7 * rows), squeeze=False)
    for ax, t in zip(axes.flat, tokens):
        for init, color in (("ghn", "tab:blue"), ("random", "tab:orange")):
            ax.plot(range(E + 1), [100 * v for v in per_net[t][init]["curve"]], "o-", ms=3, color=color, label=init)
        ax.set_title(meta[t]["name"], fontsize=8)
        ax.set_xlabel("epoch", fontsize=8)
        ax.set_ylabel("test top-1 (%)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    if label:
        fig.suptitle(label, color="red")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_md(s, meta, tokens, args, recipe, trained, device, seconds, path: Path, train_images: int) -> None:
    E = args.epochs
    steps = args.max_steps_per_epoch or math.ceil(train_images / args.batch_size)
    lines = ["# Fine-tuning from a GHN prediction vs from the default initialization", ""]
    if not trained:
        lines += [f"**UNTRAINED GHN (`{args.ghn}`): smoke test of the script, not a result.**", ""]
    epoch_note = (f"an \"epoch\" here is only **{steps} steps of batch {args.batch_size}** "
                  f"({steps * args.batch_size:,} images, {steps * args.batch_size / train_images:.3f} of a pass over "
                  "the 50,000 training images)" if args.max_steps_per_epoch else
                  f"an epoch is a full pass ({steps} steps of batch {args.batch_size})")
    lines += [
        f"Command: `{command_line(__file__)}`", "",
        "## Protocol" + (" (reduced CPU budget)" if args.max_steps_per_epoch else ""), "",
        f"- {len(tokens)} held-out nets ({', '.join(meta[t]['name'] for t in tokens)}), seeds {args.seeds}.",
        f"- Same recipe for both starting points: {args.optimizer.upper()} lr {args.lr}"
        f"{' (Nesterov momentum 0.9)' if args.optimizer == 'sgd' else ''}, weight decay "
        f"{args.weight_decay if args.weight_decay is not None else ('5e-4' if args.optimizer == 'sgd' else '0.05')} "
        f"(not on biases/norms), warmup {args.warmup_steps} steps, per-step cosine to 0 over {E} epochs, "
        f"gradient clipping {args.grad_clip}, crop+flip augmentation; {epoch_note}. "
        "Per seed both runs see identical batches (seeded stream); the default init is the same seeded draw.",
        f"- Test top-1 on {recipe['test_images']} CIFAR-10 test images (seeded subset of the JPEG q75 copy of the "
        "official test split), measured with the zero-shot protocol (BatchNorm with batch statistics, batches of "
        "250) before training (epoch 0) and after every epoch; numbers are means over seeds.",
        f"- GHN: `{args.ghn}`. Device {device}, {args.threads} CPU thread(s); {seconds / 60:.0f} min of training and evaluation in all runs.", "",
        "## Summary", "",
        f"- GHN start better after 1 epoch on **{s['wins_ep1']}/{s['n_nets']} nets** (seed-mean), "
        f"{s['pair_wins_ep1']}/{s['pairs']} (net, seed) pairs; after {E} epochs on {s[f'wins_ep{E}']}/{s['n_nets']}.",
        f"- Mean gain (GHN − default) in top-1: **{100 * s['mean_gain_ep1']:+.2f} pp after 1 epoch**, "
        f"{100 * s[f'mean_gain_ep{E}']:+.2f} pp after {E} epochs.",
        f"- Mean top-1 before training: GHN prediction {100 * s['mean_zero_shot_ghn']:.1f} %, default init "
        f"{100 * s['mean_ep0_random']:.1f} % (chance: 10 %).", "",
        "## Per net (test top-1 %, mean over seeds)", "",
        f"| net | params | GHN ep0 | GHN ep1 | GHN ep{E} | default ep0 | default ep1 | default ep{E} | gain ep1 | gain ep{E} |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in tokens:
        g, r = s["per_net"][t]["ghn"], s["per_net"][t]["random"]
        div = " (diverged)" if g["diverged"] or r["diverged"] else ""
        lines.append(f"| {meta[t]['name']}{div} | {meta[t]['params']:,} | {100 * g['ep0']:.1f} | {100 * g['ep1']:.1f} | "
                     f"{100 * g[f'ep{E}']:.1f} | {100 * r['ep0']:.1f} | {100 * r['ep1']:.1f} | {100 * r[f'ep{E}']:.1f} | "
                     f"{100 * (g['ep1'] - r['ep1']):+.1f} | {100 * (g[f'ep{E}'] - r[f'ep{E}']):+.1f} |")
    lines += ["", "![curves](finetune.png)", ""]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
