"""Fine-tuning from the GHN prediction vs from the default initialization -> results/NAME.{md,json,png}

    python experiments/finetune.py --ghn cifar10                        # reduced CPU protocol (defaults)
    python experiments/finetune.py --ghn cifar10 --epochs 5 --max-steps-per-epoch 0 --test-images 10000  # full epochs
    python experiments/finetune.py --ghn untrained:tiny --nets test:0,test:2 --epochs 2 \\
        --max-steps-per-epoch 2 --seeds 0 --test-images 250 --out /tmp/ft          # smoke test

One full epoch on 5 held-out real models with the CIFAR stem (5 families), test top-1 at 0, 1/4, 1/2, 3/4
and 1 epoch on the 2,000 test images of ``real_zero_shot.py`` (CIFAR-10 from ``--data`` or
``$GRAPHPARAM_DATA``; -> ``finetune_heldout.*``)::

    python experiments/finetune.py --ghn cifar10 --name finetune_heldout \\
        --nets heldout:timm:resnet10t,heldout:torchvision:mobilenet_v3_small,heldout:timm:regnetx_002,heldout:timm:convnext_atto,heldout:timm:vit_tiny_patch16_224 \\
        --epochs 1 --max-steps-per-epoch 0 --evals-per-epoch 4 --seeds 0 --test-images 2000 --test-subset first --threads 1

The same for 3 of them on Fashion-MNIST, a data set the GHN never saw (-> ``finetune_fashion.*``)::

    python experiments/finetune.py --ghn cifar10 --name finetune_fashion --dataset fashion-mnist \\
        --nets heldout:timm:resnet10t,heldout:torchvision:mobilenet_v3_small,heldout:timm:regnetx_002 \\
        --epochs 1 --max-steps-per-epoch 0 --evals-per-epoch 4 --seeds 0 --test-images 2000 --test-subset first --threads 1

Cost on one thread (10 timed steps of batch 64 per model, CIFAR stem, on the 2-core machine while two
other jobs ran; CPU seconds per step, wall in brackets): ResNet-10t 1.81 (2.36), MobileNetV3-small
(torchvision) 0.88 (0.89), RegNetX-200MF 0.89 (0.92), ConvNeXt-atto 1.74 (2.48), ViT-tiny (4-pixel
patches) 1.69 (1.71) s, i.e. 24 (31), 11.5 (11.6), 11.6 (11.9), 23 (32), 22 (22) minutes per 782-step
CIFAR-10 epoch; each model runs twice (GHN start, default init) plus 5 evaluations of 2,000 images
(1-2 min a run): about 3.3 h of one core for the CIFAR-10 run, about 2 h for Fashion-MNIST (938
steps an epoch). EfficientNet-B0 / -Lite0 cost 3.5 / 3.0 s a step (46 / 40 min an epoch): left out.

Every net (``real:NAME`` from ``arch_zoo.real``; ``test:I`` = net I of the ``arch_zoo`` ``test`` split;
``heldout:REF`` = a model of ``arch_zoo/splits/real_heldout.json`` in its CIFAR-stem form, built by
``arch_zoo.real_heldout.build(REF, "cifar_stem")`` as ``real_zero_shot.py`` builds it) is trained twice
per seed with one recipe (:func:`graphparam.finetune.finetune`): once from the GHN prediction, once
from the model's default initialization (same seed: same default init, same batch order and
augmentation). Test top-1 is measured before training, ``--evals-per-epoch`` times per epoch (the
last at its end) with the zero-shot protocol (batch-statistics BN, batches of 250) on
``--test-images`` test images: a seeded subset, or with ``--test-subset first`` the first of the
evaluation order (for CIFAR-10 the images of ``real_zero_shot.py``, so the GHN's step-0 number is
its zero-shot table's). ``--dataset``: CIFAR-10 (``--data``) or a directory of Fashion-MNIST IDX
files (``fashion-mnist``: the Debian package's ``/usr/share/datasets/fashion-mnist``), 28x28
zero-padded to 32x32, grey repeated to 3 channels. The report gives, per net, top-1 at every
evaluation point, the steps the default init needs to reach the GHN start's top-1 at 1/4 epoch, and
on how many nets the GHN start is ahead after the last epoch. Runs are stored in the JSON as they
finish; a rerun with the same settings skips finished runs.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, add_data_arg, atomic_write, command_line, load_ghn, machine, pyplot  # noqa: E402

DEFAULT_NETS = ("real:mobilenet_v3_small,real:regnety_004,real:efficientnet_b0,real:deit_tiny,"
                "test:0,test:1,test:2,test:5,test:6,test:7")


#: ``--dataset`` names: CIFAR-10 (``--data``), and where Debian's ``dataset-fashion-mnist`` puts its IDX files
CIFAR10 = "cifar10"
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
#: the GHN start's accuracy at this fraction of the first epoch is the target the default init must reach
REACH_FRACTION = 0.25


@dataclass(frozen=True)
class Net:
    """One token's net: display name, family, a builder of fresh (default-initialized) copies, and the
    input size to predict it at (None: the GHN's own)."""

    name: str
    family: str
    make: Callable
    input_size: tuple[int, ...] | None = None


def net_factory(token: str, num_classes: int = 10) -> Net:
    """``real:NAME``, ``heldout:REF`` (CIFAR-stem form) or ``SPLIT:INDEX`` -> :class:`Net`."""
    import arch_zoo

    kind, _, ident = token.partition(":")
    if kind == "real":
        arch_zoo.real.build(ident)  # fail early on an unknown name
        return Net(f"{ident}", f"real/{ident}", lambda: arch_zoo.real.build(ident, num_classes=num_classes))
    if kind == "heldout":
        from arch_zoo import real_heldout

        listed = {m["ref"]: m["family"] for m in real_heldout.models()}
        if ident not in listed:
            raise SystemExit(f"finetune.py: {token!r}: {ident!r} is not in the held-out list "
                             f"({real_heldout.HELDOUT_PATH}); e.g. heldout:{next(iter(listed))}")
        return Net(f"{ident} (CIFAR stem)", listed[ident],
                   lambda: real_heldout.build(ident, "cifar_stem", num_classes=num_classes), real_heldout.INPUT_SIZE)
    if not ident.isdigit():
        raise SystemExit(f"finetune.py: bad net token {token!r}: use real:NAME, heldout:REF or SPLIT:INDEX")
    spec = arch_zoo.split(kind)[int(ident)]
    return Net(f"{kind}#{ident} ({spec.family})", spec.family, lambda: spec.build(num_classes=num_classes))


def load_data(dataset: str, data: str | None, split: str):
    """``split`` of ``--dataset``: CIFAR-10 from ``--data`` (as before), or a Fashion-MNIST directory."""
    from graphparam.data import load_cifar10, load_dataset
    from graphparam.data.fashion_mnist import is_fashion_mnist_source

    if dataset == CIFAR10:
        return load_cifar10(data, split=split)
    path = FASHION_MNIST_DIR if dataset == "fashion-mnist" else dataset
    if not is_fashion_mnist_source(path):
        raise SystemExit(f"finetune.py: --dataset {dataset}: {path} is not a directory of Fashion-MNIST IDX files "
                         "(train-/t10k-images-idx3-ubyte.gz and -labels-idx1-ubyte.gz; Debian: apt install "
                         "dataset-fashion-mnist)")
    return load_dataset(path, split)


def _mean(v):
    v = [x for x in v if x is not None and math.isfinite(x)]
    return statistics.fmean(v) if v else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ghn", default="cifar10", help="checkpoint dir or registered name; untrained:tiny for smoke tests")
    ap.add_argument("--nets", default=DEFAULT_NETS,
                    help="comma-separated real:NAME / heldout:REF (CIFAR stem) / test:INDEX tokens")
    ap.add_argument("--dataset", default=CIFAR10,
                    help=f"'{CIFAR10}' (from --data), or a directory of Fashion-MNIST IDX files "
                         f"('fashion-mnist': {FASHION_MNIST_DIR})")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--max-steps-per-epoch", type=int, default=8, help="0 = full passes over the training set")
    ap.add_argument("--evals-per-epoch", type=int, default=1,
                    help="test top-1 this many times per epoch (4: at 1/4, 1/2, 3/4, 1), besides before training")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--optimizer", default="sgd", choices=["sgd", "adamw"])
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--weight-decay", type=float, default=None)
    ap.add_argument("--warmup-steps", type=int, default=0)
    ap.add_argument("--grad-clip", type=float, default=5.0)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--test-images", type=int, default=500)
    ap.add_argument("--test-subset", default="seeded", choices=["seeded", "first"],
                    help="which test images: a seeded random subset, or the first of the evaluation order "
                         "(real_zero_shot.py's images)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default=None)
    add_data_arg(ap)
    ap.add_argument("--fresh", action="store_true", help="ignore runs stored in the output JSON")
    ap.add_argument("--out", type=Path, default=RESULTS, help="directory for NAME.{md,json,png}")
    ap.add_argument("--name", default="finetune", help="result stem (default: %(default)s); give a new protocol "
                                                        "its own, e.g. finetune_heldout")
    args = ap.parse_args()
    if args.evals_per_epoch < 1:
        ap.error(f"--evals-per-epoch must be >= 1, got {args.evals_per_epoch}")
    if not args.name or "/" in args.name or args.name.startswith("."):
        ap.error(f"--name takes a plain file stem, got {args.name!r}")
    torch.set_num_threads(args.threads)
    from graphparam.device import resolve_device

    device = resolve_device(args.device or "auto")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    tokens = [t.strip() for t in args.nets.split(",") if t.strip()]

    from graphparam.evaluate import first_images
    from graphparam.finetune import FinetuneResult, compare_inits
    from graphparam.nas import held_out_subset, param_count
    from graphparam.predict import GHNInitializer

    t_start = time.perf_counter()
    train = load_data(args.dataset, args.data, "train")
    test_all = load_data(args.dataset, args.data, "test")
    test = (first_images(test_all, args.test_images) if args.test_subset == "first"
            else held_out_subset(test_all, args.test_images, seed=0))
    ghn, trained = load_ghn(args.ghn)
    ghn.to(device)
    recipe = dict(epochs=args.epochs, max_steps_per_epoch=args.max_steps_per_epoch or None,
                  batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, weight_decay=args.weight_decay,
                  warmup_steps=args.warmup_steps, grad_clip=args.grad_clip, test_images=len(test))
    # settings beyond the original protocol enter the key only when not their default, so the runs
    # stored by the original protocol still resume
    extra = {k: v for k, v, default in (("dataset", CIFAR10 if args.dataset == CIFAR10 else train.name, CIFAR10),
                                        ("evals_per_epoch", args.evals_per_epoch, 1),
                                        ("test_subset", args.test_subset, "seeded")) if v != default}
    recipe.update(extra)
    key = json.dumps({**recipe, "ghn": args.ghn, "ghn_fingerprint": ghn.fingerprint()}, sort_keys=True)
    args.out.mkdir(parents=True, exist_ok=True)
    out_json = args.out / f"{args.name}.json"
    old = json.loads(out_json.read_text()) if out_json.is_file() and not args.fresh else {}
    runs: dict[str, dict] = old.get("runs", {}) if old.get("key") == key else {}
    nets_meta: dict[str, dict] = {}

    def save(final: bool = False, summary: dict | None = None):
        result = {"key": key, "label": "" if trained else f"UNTRAINED GHN ({args.ghn}): smoke test, not a result",
                  "ghn": args.ghn, "trained_ghn": trained, "recipe": recipe, "seeds": seeds, "nets": nets_meta,
                  "runs": runs, "summary": summary or {}, "complete": final,
                  "data": {"train": train.name, "test": test.name, "train_images": len(train)},
                  "env": {**machine(), "device": str(device), "threads": args.threads},
                  "seconds": time.perf_counter() - t_start}
        atomic_write(out_json, json.dumps(result, indent=1) + "\n")

    nets = {token: net_factory(token, num_classes=train.num_classes) for token in tokens}  # all fail before any run
    for token, net in nets.items():
        nets_meta[token] = {"name": net.name, "family": net.family, "params": param_count(net.make())}
        name = net.name
        for seed in seeds:
            run_key = f"{token}|{seed}"
            if run_key in runs:
                continue
            res = compare_inits(net.make, ghn, train, test,
                                inits={"ghn": GHNInitializer(ghn, input_size=net.input_size), "random": None},
                                seed=seed, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                                optimizer=args.optimizer, weight_decay=args.weight_decay,
                                warmup_steps=args.warmup_steps, grad_clip=args.grad_clip,
                                max_steps_per_epoch=args.max_steps_per_epoch or None, device=device, progress=False,
                                evals_per_epoch=args.evals_per_epoch)
            runs[run_key] = {k: r.as_dict() for k, r in res.items()}
            g, r = res["ghn"], res["random"]
            print(f"{name:28s} seed {seed}: top1 ghn {' '.join(f'{100 * v:5.1f}' for v in g.eval_top1)} | "
                  f"random {' '.join(f'{100 * v:5.1f}' for v in r.eval_top1)} ({g.seconds + r.seconds:.0f}s)",
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
            row[init]["eval_steps"] = rs[0][init].eval_steps
            row[init]["eval_curve"] = [_mean([r[init].eval_top1[i] for r in rs])
                                       for i in range(len(rs[0][init].eval_steps))]
        row["pair_wins_ep1"] = sum(r["ghn"].test_top1[1] > r["random"].test_top1[1] for r in rs)
        row["reach"] = reach(row, rs[0]["ghn"].steps_per_epoch)
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
        "wins_last": sum(g > 0 for g in gainsE),
    }
    save(final=True, summary=summary)
    stem = args.out / args.name
    plot(per_net, nets_meta, tokens, stem.with_suffix(".png"), "" if trained else "UNTRAINED GHN: smoke test")
    run_seconds = sum(r["seconds"] + r["config"].get("init_seconds", 0.0) for pair in runs.values() for r in pair.values())
    write_md(summary, nets_meta, tokens, args, recipe, trained, device, run_seconds,
             stem.with_suffix(".md"), train_images=len(train), test_name=test.name)
    print(f"GHN ahead after 1 epoch on {summary['wins_ep1']} of {len(tokens)}"
          + (f", after the last epoch ({E}) on {summary['wins_last']}" if E > 1 else "")
          + f"; mean gain ep1 {100 * summary['mean_gain_ep1']:+.2f} pp"
          + (f", ep{E} {100 * summary[f'mean_gain_ep{E}']:+.2f} pp" if E > 1 else "")
          + f"; wrote {stem.with_suffix('.md')}")
    return 0


def reach(row: dict, steps_per_epoch: int) -> dict:
    """The GHN start's (seed-mean) top-1 at the first evaluation point at or after :data:`REACH_FRACTION`
    of an epoch, and the first evaluation step at which the default init's seed-mean curve reaches it
    (None: not within the run)."""
    from graphparam.finetune.result import first_point_at, steps_to_reach

    g = row["ghn"]
    step, target = first_point_at(g["eval_steps"], g["eval_curve"], REACH_FRACTION * steps_per_epoch)
    return {"ghn_step": step, "ghn_epochs": step / steps_per_epoch, "target": target,
            "default_steps": steps_to_reach(row["random"]["eval_steps"], row["random"]["eval_curve"], target),
            "steps_per_epoch": steps_per_epoch}


def plot(per_net, meta, tokens, path: Path, label: str) -> None:
    """Test top-1 (seed mean) at every evaluation point against epochs (and steps, on top), one panel per
    net; the dotted line is the GHN start's top-1 at 1/4 epoch, the target the default init must reach."""
    plt = pyplot()
    n = len(tokens)
    cols = min(5, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.9 * rows), squeeze=False)
    for ax, t in zip(axes.flat, tokens):
        spe = per_net[t]["reach"]["steps_per_epoch"]
        for init, color, text in (("ghn", "tab:blue", "GHN start"), ("random", "tab:orange", "default init")):
            ax.plot([s / spe for s in per_net[t][init]["eval_steps"]],
                    [100 * v for v in per_net[t][init]["eval_curve"]], "o-", ms=3, color=color, label=text)
        ax.axhline(100 * per_net[t]["reach"]["target"], color="tab:blue", lw=0.7, ls=":")
        ax.set_title(meta[t]["name"], fontsize=8)
        ax.set_xlabel(f"epoch ({spe} steps)", fontsize=8)
        ax.set_ylabel("test top-1 (%)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        top = ax.secondary_xaxis("top", functions=(lambda e, k=spe: e * k, lambda s, k=spe: s / k))
        top.tick_params(labelsize=6)
        top.set_xlabel("step", fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    if label:
        fig.suptitle(label, color="red")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _frac(x: float) -> str:
    """An evaluation point in epochs, as 0, 1/4, 1/2, 1, 1 1/4 ... where it is a quarter, else 0.33."""
    whole, part = divmod(round(x * 4), 4)
    if abs(x * 4 - round(x * 4)) > 1e-9:
        return f"{x:.2f}"
    quarter = {0: "", 1: "1/4", 2: "1/2", 3: "3/4"}[part]
    return (f"{whole} {quarter}" if whole and quarter else quarter or str(whole))


def write_md(s, meta, tokens, args, recipe, trained, device, seconds, path: Path, train_images: int,
             test_name: str = "") -> None:
    E = args.epochs
    steps = args.max_steps_per_epoch or math.ceil(train_images / args.batch_size)
    lines = ["# Fine-tuning from a GHN prediction vs from the default initialization", ""]
    if not trained:
        lines += [f"**UNTRAINED GHN (`{args.ghn}`): smoke test of the script, not a result.**", ""]
    epoch_note = (f"an \"epoch\" here is only **{steps} steps of batch {args.batch_size}** "
                  f"({steps * args.batch_size:,} images, {steps * args.batch_size / train_images:.3f} of a pass over "
                  f"the {train_images:,} training images)" if args.max_steps_per_epoch else
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
        (f"- Test top-1 on {recipe['test_images']} CIFAR-10 test images (seeded subset of the JPEG q75 copy of the "
         "official test split)" if args.dataset == CIFAR10 and args.test_subset == "seeded" else
         f"- Data: `{test_name.split('/')[0]}`" + (" (Fashion-MNIST, never seen by the GHN: 28x28 grey images "
                                                  "zero-padded to 32x32 and repeated to 3 channels)"
                                                  if test_name.startswith("fashion") else "")
         + f"; test top-1 on {recipe['test_images']} test images (`{test_name}`, "
         + ("the first of the evaluation order, as `real_zero_shot.py`)" if args.test_subset == "first"
            else "seeded subset)"))
        + ", measured with the zero-shot protocol (BatchNorm with batch statistics, batches of "
        f"250) before training (epoch 0) and {_per_epoch(args.evals_per_epoch)}; numbers are means over seeds.",
        f"- GHN: `{args.ghn}`. Device {device}, {args.threads} CPU thread(s); {seconds / 60:.0f} min of training and evaluation in all runs.", "",
        "## Summary", "",
        *([f"- **GHN start ahead after the last epoch ({E}) on {s['wins_last']} of {s['n_nets']} nets** "
           "(seed-mean top-1)."] if E > 1 else []),
        f"- GHN start ahead after 1 epoch on **{s['wins_ep1']}/{s['n_nets']} nets** (seed-mean), "
        f"{s['pair_wins_ep1']}/{s['pairs']} (net, seed) pairs"
        + (f"; after {E} epochs on {s[f'wins_ep{E}']}/{s['n_nets']}." if E > 1 else "."),
        f"- Mean gain (GHN − default) in top-1: **{100 * s['mean_gain_ep1']:+.2f} pp after 1 epoch**"
        + (f", {100 * s[f'mean_gain_ep{E}']:+.2f} pp after {E} epochs." if E > 1 else "."),
        f"- Mean top-1 before training: GHN prediction {100 * s['mean_zero_shot_ghn']:.1f} %, default init "
        f"{100 * s['mean_ep0_random']:.1f} % (chance: 10 %).", "",
        "## Per net (test top-1 %, mean over seeds)", "",
    ]
    eps = sorted({1, E})  # the columns: after 1 epoch and after the last
    lines += ["| net | params | GHN ep0 | " + " | ".join(f"GHN ep{e}" for e in eps) + " | default ep0 | "
              + " | ".join(f"default ep{e}" for e in eps) + " | " + " | ".join(f"gain ep{e}" for e in eps) + " |",
              "|---|---|---|" + "---|" * (3 * len(eps) + 1)]
    for t in tokens:
        g, r = s["per_net"][t]["ghn"], s["per_net"][t]["random"]
        div = " (diverged)" if g["diverged"] or r["diverged"] else ""
        lines.append(f"| {meta[t]['name']}{div} | {meta[t]['params']:,} | {100 * g['ep0']:.1f} | "
                     + " | ".join(f"{100 * g[f'ep{e}']:.1f}" for e in eps) + f" | {100 * r['ep0']:.1f} | "
                     + " | ".join(f"{100 * r[f'ep{e}']:.1f}" for e in eps) + " | "
                     + " | ".join(f"{100 * (g[f'ep{e}'] - r[f'ep{e}']):+.1f}" for e in eps) + " |")
    first = s["per_net"][tokens[0]]
    steps = [st for st in first["ghn"]["eval_steps"]]
    spe = first["reach"]["steps_per_epoch"]
    heads = [_frac(st / spe) for st in steps]
    lines += ["", f"## Per net at every evaluation point (test top-1 %, epochs of {spe} steps)", "",
              "| net | init | " + " | ".join(f"{h} ({st})" for h, st in zip(heads, steps)) + " |",
              "|---|---|" + "---|" * len(steps)]
    for t in tokens:
        for init, text in (("ghn", "GHN"), ("random", "default")):
            lines.append(f"| {meta[t]['name']} | {text} | "
                         + " | ".join(f"{100 * v:.1f}" for v in s["per_net"][t][init]["eval_curve"]) + " |")
    at = _frac(first["reach"]["ghn_epochs"])
    lines += ["", f"## Steps the default init needs to reach the GHN start's top-1 at {at} epoch", "",
              "First evaluation point of the default init's (seed-mean) curve at or above the GHN start's top-1 at "
              f"the first point at or after {_frac(REACH_FRACTION)} epoch; the true crossing lies after the point "
              "before it. "
              "\"not reached\": not within the run.", "",
              "| net | GHN top-1 at (step) | default init reaches it at step | in epochs |", "|---|---|---|---|"]
    for t in tokens:
        r = s["per_net"][t]["reach"]
        d = r["default_steps"]
        lines.append(f"| {meta[t]['name']} | {100 * r['target']:.1f} ({r['ghn_step']}) | "
                     + (f"{d} | {d / r['steps_per_epoch']:.2f} |" if d is not None else
                        f"not reached in {steps[-1]} | > {steps[-1] / r['steps_per_epoch']:g} |"))
    lines += ["", f"![curves]({path.with_suffix('.png').name})", ""]
    path.write_text("\n".join(lines))


def _per_epoch(k: int) -> str:
    return "after every epoch" if k == 1 else f"{k} times per epoch (every 1/{k} of an epoch, the last at its end)"


if __name__ == "__main__":
    sys.exit(main())
