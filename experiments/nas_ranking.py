"""How well do GHN-based scores rank unseen architectures? -> results/nas.{md,json,png}

    python experiments/nas_ranking.py --ghn cifar10                 # full (reduced-budget) protocol
    python experiments/nas_ranking.py --ground-truth-only           # only train the ground truth (no GHN needed)
    python experiments/nas_ranking.py --ghn untrained:tiny --nets 12 --gt-steps 5 --out /tmp/nas   # smoke test

Candidates: the first ``--nets`` nets of the held-out ``arch_zoo`` ``test`` split with at most
``--max-params`` parameters. Ground truth: each net, from its default initialization, trained
for ``--gt-steps`` SGD steps (batch ``--gt-batch``, cosine schedule, augmentation) on CIFAR-10
training images 0..44,999 and evaluated on ``--gt-test-images`` CIFAR-10 test images with the
zero-shot protocol (batch-statistics BN). Ground truth is cached in
``results/nas_ground_truth.json`` (per net and recipe), written after every net, so an
interrupted run resumes and reruns skip it.

Scores (higher = predicted better):
  zero_shot       top-1 of the GHN prediction on ``--zs-images`` held-out CIFAR-10 *training*
                  images 45,000..49,999 (never used for ground-truth training)
  zero_shot_loss  minus the cross-entropy of that evaluation
  embedding       ridge regression on pooled GHN node states, ``--folds``-fold cross-validated
                  (fit on the other folds' nets and their ground truth, scored on the held-out fold)
  params          log10 parameter count
  grad_norm, synflow   zero-cost proxies at the default initialization
  ghn_grad_norm, ghn_synflow   the same proxies on the GHN-predicted parameters

Kendall tau-b and top-10 precision against the ground truth, with percentile bootstrap 95 %
intervals over nets (``--bootstrap`` resamples).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, add_data_arg, atomic_write, command_line, load_ghn, machine, pyplot  # noqa: E402
GT_TRAIN_IMAGES = 45_000


def select_nets(n: int, max_params: int, split_name: str = "test"):
    import arch_zoo
    from graphparam.nas import param_count

    chosen = []
    for i, spec in enumerate(arch_zoo.split(split_name)):
        p = param_count(spec.build())
        if p <= max_params:
            chosen.append((i, spec, p))
        if len(chosen) == n:
            break
    if len(chosen) < n:
        print(f"warning: only {len(chosen)} nets of split {split_name!r} have <= {max_params} parameters",
              file=sys.stderr)
    return chosen


def ground_truth(nets, args, train, test, device) -> dict[str, dict]:
    """Train every net for the fixed budget (cached per recipe in nas_ground_truth.json)."""
    from graphparam.finetune import finetune
    from graphparam.nas import held_out_subset

    recipe = dict(steps=args.gt_steps, batch_size=args.gt_batch, lr=args.gt_lr, optimizer="sgd",
                  weight_decay=5e-4, schedule="cosine", seed=args.gt_seed, train_images=GT_TRAIN_IMAGES,
                  test_images=args.gt_test_images, eval_batch_size=250, data=train.name)
    key = json.dumps(recipe, sort_keys=True)
    cache_path = args.gt_cache
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {"recipes": {}}
    entry = cache["recipes"].setdefault(key, {"recipe": recipe, "nets": {}})
    gt_train = train.subset(slice(0, GT_TRAIN_IMAGES), name=f"{train.name}[:{GT_TRAIN_IMAGES}]")
    gt_test = held_out_subset(test, args.gt_test_images, seed=0)
    todo = [(i, s, p) for i, s, p in nets if s.hash not in entry["nets"]]
    print(f"ground truth: {len(nets) - len(todo)} cached, {len(todo)} to train ({args.gt_steps} steps each)")
    for n_done, (i, spec, p) in enumerate(todo):
        torch.manual_seed(args.gt_seed)
        model = spec.build()
        r = finetune(model, gt_train, gt_test, epochs=1, max_steps_per_epoch=args.gt_steps, batch_size=args.gt_batch,
                     lr=args.gt_lr, optimizer="sgd", weight_decay=5e-4, seed=args.gt_seed, device=device,
                     eval_initial=False, progress=False, init="default")
        entry["nets"][spec.hash] = {"index": i, "family": spec.family, "params": p, "top1": r.test_top1[-1],
                                    "loss": r.test_loss[-1], "train_loss": r.train_loss[-1], "diverged": r.diverged,
                                    "seconds": r.seconds}
        atomic_write(cache_path, json.dumps(cache, indent=1, sort_keys=True) + "\n")
        print(f"  [{n_done + 1}/{len(todo)}] test#{i} {spec.family:9s} {p:>9d} params: top1 "
              f"{100 * r.test_top1[-1]:.1f}% ({r.seconds:.0f}s)", flush=True)
    return {s.hash: entry["nets"][s.hash] for _, s, _ in nets}


def bootstrap(scores, truth, n_boot: int, k: int, seed: int = 0):
    from graphparam.nas import kendall_tau, top_k_precision

    rng = random.Random(seed)
    n = len(scores)
    taus, precs = [], []
    for _ in range(n_boot):
        idx = [rng.randrange(n) for _ in range(n)]
        s = [scores[i] for i in idx]
        t = [truth[i] for i in idx]
        tau = kendall_tau(s, t)
        if math.isfinite(tau):
            taus.append(tau)
        precs.append(top_k_precision(s, t, k))

    def ci(v):
        if not v:
            return [float("nan"), float("nan")]
        v = sorted(v)
        return [v[int(0.025 * (len(v) - 1))], v[int(math.ceil(0.975 * (len(v) - 1)))]]

    return ci(taus), ci(precs)


def cross_validated_embedding(features: torch.Tensor, truth: list[float], folds: int, seed: int = 0):
    from graphparam.nas import EmbeddingScorer

    n = len(truth)
    perm = list(range(n))
    random.Random(seed).shuffle(perm)
    pred = [float("nan")] * n
    alphas = []
    for f in range(folds):
        test_idx = perm[f::folds]
        train_idx = [i for i in perm if i not in set(test_idx)]
        scorer = EmbeddingScorer().fit(features[train_idx], [truth[i] for i in train_idx])
        alphas.append(scorer.alpha)
        for i, v in zip(test_idx, scorer.predict(features[test_idx]).tolist()):
            pred[i] = v
    return pred, alphas


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ghn", default="cifar10", help="checkpoint dir or registered name; untrained:tiny for smoke tests")
    ap.add_argument("--nets", type=int, default=50)
    ap.add_argument("--max-params", type=int, default=1_000_000)
    ap.add_argument("--gt-steps", type=int, default=150)
    ap.add_argument("--gt-batch", type=int, default=64)
    ap.add_argument("--gt-lr", type=float, default=0.05)
    ap.add_argument("--gt-seed", type=int, default=0)
    ap.add_argument("--gt-test-images", type=int, default=1000)
    ap.add_argument("--gt-cache", type=Path, default=RESULTS / "nas_ground_truth.json")
    ap.add_argument("--zs-images", type=int, default=500, help="held-out training images for the zero-shot score")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--ground-truth-only", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default=None)
    add_data_arg(ap)
    ap.add_argument("--out", type=Path, default=RESULTS, help="directory for nas.{md,json,png}")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from graphparam.device import resolve_device

    device = resolve_device(args.device or "auto")

    from graphparam.data import load_cifar10

    t_start = time.perf_counter()
    train, test = load_cifar10(args.data, split="train"), load_cifar10(args.data, split="test")
    nets = select_nets(args.nets, args.max_params)
    args.gt_cache.parent.mkdir(parents=True, exist_ok=True)
    gt = ground_truth(nets, args, train, test, device)
    if args.ground_truth_only:
        return 0

    from graphparam.graph import trace
    from graphparam.nas import EmbeddingScorer, graph_features, kendall_tau, rank, top_k_precision

    ghn, trained = load_ghn(args.ghn)
    ghn.to(device)
    specs = {s.hash: s for _, s, _ in nets}
    truth = [gt[h]["top1"] for h in specs]
    zs_data = train.subset(slice(GT_TRAIN_IMAGES, len(train)), name=f"{train.name}[{GT_TRAIN_IMAGES}:]")

    t = time.perf_counter()
    r_ghn = rank(specs, zs_data, ghn=ghn, score=("zero_shot", "zero_shot_loss", "grad_norm", "synflow"),
                 k=0, eval_images=args.zs_images, device=device, progress=True)
    t_ghn = time.perf_counter() - t
    r_def = rank(specs, zs_data, score=("params", "grad_norm", "synflow"), k=0, eval_images=args.zs_images,
                 device=device)
    t = time.perf_counter()
    feats = graph_features(ghn, [trace(s.build(), (3, 32, 32)) for s in specs.values()])
    emb, alphas = cross_validated_embedding(feats, truth, args.folds)
    t_emb = time.perf_counter() - t
    scorer_dir = args.out / "nas_scorer"
    if trained:  # a scorer fitted on all nets, for reuse with this GHN
        EmbeddingScorer().fit(feats, truth, ghn=ghn).save(scorer_dir)

    scores = {
        "zero_shot": r_ghn.scores["zero_shot"],
        "zero_shot_loss": r_ghn.scores["zero_shot_loss"],
        "embedding (CV)": emb,
        "params": r_def.scores["params"],
        "grad_norm": r_def.scores["grad_norm"],
        "synflow": r_def.scores["synflow"],
        "ghn_grad_norm": r_ghn.scores["grad_norm"],
        "ghn_synflow": r_ghn.scores["synflow"],
    }
    stats = {}
    for name, s in scores.items():
        tau_ci, prec_ci = bootstrap(s, truth, args.bootstrap, args.top_k)
        stats[name] = {"kendall_tau": kendall_tau(s, truth), "tau_ci95": tau_ci,
                       f"top{args.top_k}_precision": top_k_precision(s, truth, args.top_k), "precision_ci95": prec_ci}
        print(f"{name:16s} tau {stats[name]['kendall_tau']:+.3f} [{tau_ci[0]:+.3f}, {tau_ci[1]:+.3f}]  "
              f"top{args.top_k} {stats[name][f'top{args.top_k}_precision']:.2f} [{prec_ci[0]:.2f}, {prec_ci[1]:.2f}]")

    label = "" if trained else f"UNTRAINED GHN ({args.ghn}): smoke test of the script, not a result"
    per_net = [{"hash": h, **gt[h], **{k: v[j] for k, v in scores.items()}} for j, h in enumerate(specs)]
    result = {
        "label": label, "ghn": args.ghn, "trained_ghn": trained, "stats": stats, "nets": per_net,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "embedding_alphas": alphas, "random_topk_precision": min(args.top_k, len(truth)) / len(truth),
        "seconds": {"ghn_rank": t_ghn, "default_rank": r_def.seconds, "embedding_cv": t_emb,
                    "total": time.perf_counter() - t_start, "ghn_timings": r_ghn.details["timings"]},
        "ground_truth_seconds": sum(gt[h]["seconds"] for h in specs),
        "env": {**machine(), "device": str(device), "threads": args.threads},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out / "nas.json", json.dumps(result, indent=1) + "\n")
    plot(scores, truth, stats, args, args.out / "nas.png", label)
    write_md(result, args, args.out / "nas.md")
    print(f"wrote {args.out / 'nas.md'}, nas.json, nas.png")
    return 0


def plot(scores, truth, stats, args, path: Path, label: str) -> None:
    plt = pyplot()
    names = list(scores)
    cols = 4
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.0 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        s = scores[name]
        ok = [(a, b) for a, b in zip(s, truth) if math.isfinite(a)]
        ax.scatter([a for a, _ in ok], [100 * b for _, b in ok], s=10)
        ax.set_title(f"{name}: tau {stats[name]['kendall_tau']:+.2f}", fontsize=9)
        ax.set_xlabel("score", fontsize=8)
        ax.set_ylabel(f"top-1 after {args.gt_steps} steps (%)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    if label:
        fig.suptitle(label, color="red")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_md(res: dict, args, path: Path) -> None:
    k = args.top_k
    n = len(res["nets"])
    fams = {}
    for r in res["nets"]:
        fams[r["family"]] = fams.get(r["family"], 0) + 1
    gts = [r["top1"] for r in res["nets"]]
    lines = ["# Ranking unseen architectures with GHN scores", ""]
    if res["label"]:
        lines += [f"**{res['label']}.**", ""]
    lines += [
        f"Command: `{command_line(__file__)}`", "",
        "## Protocol (reduced CPU budget)", "",
        f"- Candidates: the first {n} nets of the held-out `arch_zoo` `test` split with at most "
        f"{args.max_params:,} parameters (families: {', '.join(f'{f} {c}' for f, c in sorted(fams.items()))}).",
        f"- Ground truth: each net trained from its default initialization for only **{args.gt_steps} SGD steps** "
        f"(batch {args.gt_batch}, lr {args.gt_lr}, Nesterov momentum 0.9, weight decay 5e-4, cosine, crop+flip; "
        f"{args.gt_steps * args.gt_batch:,} images, {args.gt_steps * args.gt_batch / GT_TRAIN_IMAGES:.2f} epochs of "
        f"CIFAR-10 training images 0..44,999), one seed, then top-1 on {args.gt_test_images} CIFAR-10 test images "
        "(JPEG q75 copy of the official split) with the zero-shot protocol (batch-statistics BN, batches of 250). "
        "This is a short-budget proxy of trained accuracy, not accuracy at convergence: rankings after full "
        "training can differ.",
        f"- Ground-truth top-1 over the nets: mean {100 * sum(gts) / n:.1f} %, min {100 * min(gts):.1f} %, "
        f"max {100 * max(gts):.1f} %; training took {res['ground_truth_seconds'] / 60:.0f} min in all "
        f"({res['env']['threads']} CPU thread(s), device {res['env']['device']}).",
        f"- GHN: `{res['ghn']}`. Zero-shot score: top-1 (and minus loss) of the GHN prediction on "
        f"{args.zs_images} CIFAR-10 training images from 45,000..49,999 (not used for ground truth).",
        f"- Embedding score: ridge regression (penalty by leave-one-out) on mean+max pooled GHN node states, "
        f"{args.folds}-fold cross-validation over the {n} nets (each net scored by a model fitted without it).",
        "- Baselines: log parameter count; grad-norm (one batch of 64) and SynFlow at the default initialization; "
        "the same two proxies on the GHN-predicted parameters.",
        f"- Kendall tau-b and top-{k} precision (overlap of the predicted and true top {k}; a random ranking "
        f"averages {res['random_topk_precision']:.2f}); 95 % intervals: percentile bootstrap over nets, "
        f"{args.bootstrap} resamples.", "",
        "## Results", "",
        f"| score | Kendall tau | 95 % CI | top-{k} precision | 95 % CI |",
        "|---|---|---|---|---|",
    ]
    for name, s in res["stats"].items():
        lines.append(f"| {name} | {s['kendall_tau']:+.3f} | [{s['tau_ci95'][0]:+.3f}, {s['tau_ci95'][1]:+.3f}] | "
                     f"{s[f'top{k}_precision']:.2f} | [{s['precision_ci95'][0]:.2f}, {s['precision_ci95'][1]:.2f}] |")
    sec = res["seconds"]
    zs = [r["zero_shot"] for r in res["nets"]]
    lines += ["", f"Zero-shot top-1 of the GHN predictions on the {args.zs_images} held-out images: mean "
              f"{100 * sum(zs) / n:.1f} %, range {100 * min(zs):.1f}..{100 * max(zs):.1f} % (chance: 10 %). "
              "A zero-shot score can only rank nets as well as the GHN's predictions separate them."]
    lines += ["", f"Scoring time: GHN prediction + zero-shot + proxies on the predictions {sec['ghn_rank']:.0f} s, "
              f"default-init baselines {sec['default_rank']:.0f} s, embedding features + CV {sec['embedding_cv']:.0f} s "
              f"(vs {res['ground_truth_seconds'] / 60:.0f} min of ground-truth training).", "",
              "![scores vs ground truth](nas.png)", ""]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
