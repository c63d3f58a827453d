"""Is the GHN predicting useful *bodies*, or only heads? -> results/linear_probe.{md,json}

    python experiments/linear_probe.py --ghn cifar10 --nets 10

For each of the first ``--nets`` nets of the ``val`` split, once with the GHN's prediction and once
with PyTorch's default initialization (same seed per net): zero-shot top-1 on the 1,000 held-out
training images (the meta-training validation images, BatchNorm with batch statistics), and the
top-1 of a linear probe (logistic regression, Adam, standardized features) trained on the features
that enter the net's last ``nn.Linear`` for ``--train-images`` meta-training images and tested on
the held-out ones. If the predicted bodies were better feature extractors than random ones, their
probe would beat the default-init probe. A colour baseline (a probe on each image's per-channel
mean and std, 6 features) shows what a classifier without any spatial feature reaches.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_data_arg, command_line, require_data  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def penultimate(net: nn.Module, images: torch.Tensor, batch_size: int = 250) -> tuple[torch.Tensor, torch.Tensor]:
    """(features entering the last ``nn.Linear``, logits) under batch-statistics BatchNorm."""
    from graphparam.evaluate import batch_statistics_bn
    from graphparam.train.probe_loss import head_inputs

    logits = []
    with torch.no_grad(), batch_statistics_bn(net), head_inputs(net) as feats:
        for i in range(0, len(images), batch_size):
            logits.append(net(images[i:i + batch_size]))
    return torch.cat(feats), torch.cat(logits)


def probe_top1(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
               steps: int = 300, seed: int = 0) -> float:
    """Top-1 on ``test`` of a logistic regression fitted on ``train`` (features standardized on train)."""
    mu, sd = train_x.mean(0), train_x.std(0) + 1e-6
    train_x, test_x = (train_x - mu) / sd, (test_x - mu) / sd
    torch.manual_seed(seed)
    lin = nn.Linear(train_x.shape[1], 10)
    opt = torch.optim.Adam(lin.parameters(), lr=1e-2, weight_decay=1e-4)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(lin(train_x), train_y).backward()
        opt.step()
    with torch.no_grad():
        return (lin(test_x).argmax(1) == test_y).float().mean().item()


def colour_features(images: torch.Tensor) -> torch.Tensor:
    x = images.float().flatten(2)
    return torch.cat([x.mean(2), x.std(2)], 1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ghn", default="cifar10", help="GHN checkpoint directory or registered name")
    p.add_argument("--nets", type=int, default=10, help="first N nets of the val split")
    p.add_argument("--train-images", type=int, default=4000, help="meta-training images the probe is fitted on")
    add_data_arg(p)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(RESULTS / "linear_probe"), help="output stem")
    args = p.parse_args(argv)
    args.data = require_data(p, args.data)
    torch.set_num_threads(args.threads)

    import arch_zoo
    from graphparam.data import normalize
    from graphparam.graph import trace
    from graphparam.model import GHN, fill
    from graphparam.train.data import training_images

    train, held = training_images(args.data, 1000)
    pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:args.train_images]
    train_x, train_y = normalize(train.images[pick]), train.labels[pick]
    held_x, held_y = normalize(held.images), held.labels
    ghn = GHN.from_pretrained(args.ghn).eval()
    colour = probe_top1(colour_features(train.images[pick]), train_y, colour_features(held.images), held_y)
    rows = []
    start = time.perf_counter()
    for k, spec in enumerate(arch_zoo.split("val")[:args.nets]):
        row = {"net": k, "hash": spec.hash}
        for who in ("ghn", "default_init"):
            torch.manual_seed(k)
            net = spec.build(num_classes=10)
            if who == "ghn":
                with torch.no_grad():
                    fill(net, ghn([trace(net, (3, 32, 32))])[0])
            f_train, _ = penultimate(net, train_x)
            f_held, logits = penultimate(net, held_x)
            row[who] = {"zero_shot": (logits.argmax(1) == held_y).float().mean().item(),
                        "probe": probe_top1(f_train, train_y, f_held, held_y),
                        "features": f_train.shape[1], "logit_std": logits.std(0).mean().item()}
        rows.append(row)
        g, d = row["ghn"], row["default_init"]
        print(f"val {k:02d}: GHN zero-shot {100 * g['zero_shot']:.1f} probe {100 * g['probe']:.1f} | default init "
              f"zero-shot {100 * d['zero_shot']:.1f} probe {100 * d['probe']:.1f} ({g['features']} features)",
              file=sys.stderr, flush=True)

    def mean(who: str, key: str) -> float:
        return 100 * statistics.mean(r[who][key] for r in rows)

    wins = sum(r["ghn"]["probe"] > r["default_init"]["probe"] for r in rows)
    command = command_line(__file__, argv)
    res = {"meta": {"command": command.strip(), "ghn": args.ghn, "train_images": args.train_images,
                    "held_out": held.name, "seconds": round(time.perf_counter() - start, 1)},
           "colour_probe": colour, "nets": rows}
    stem = Path(args.out)
    stem.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n")
    lines = ["# Linear probe: predicted bodies against random ones", "", f"Command: `{res['meta']['command']}`", "",
             f"GHN `{args.ghn}`; first {len(rows)} `val` nets; probe fitted on {args.train_images:,} meta-training "
             f"images, top-1 on the {len(held_y):,} held-out ones ({held.name}).", "",
             "| init | zero-shot top-1 % | linear-probe top-1 % |", "|---|---|---|",
             f"| GHN prediction | {mean('ghn', 'zero_shot'):.1f} | {mean('ghn', 'probe'):.1f} |",
             f"| default init | {mean('default_init', 'zero_shot'):.1f} | {mean('default_init', 'probe'):.1f} |",
             f"| colour only (per-channel mean and std of the image) | - | {100 * colour:.1f} |", "",
             f"The GHN's features probe better than the default init's on {wins} of {len(rows)} nets.", "",
             "| net | features | GHN zero-shot | GHN probe | default zero-shot | default probe |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        g, d = r["ghn"], r["default_init"]
        lines.append(f"| val {r['net']:02d} | {g['features']} | {100 * g['zero_shot']:.1f} | {100 * g['probe']:.1f} | "
                     f"{100 * d['zero_shot']:.1f} | {100 * d['probe']:.1f} |")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {stem}.{{json,md}}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
