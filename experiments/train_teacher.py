"""Train the distillation teacher once on this CPU: a small CIFAR-10 net, plain SGD, saved for
``python -m graphparam.train --distill DIR``.

    python experiments/train_teacher.py --model zoo:SEED --epochs 3 --out runs/teacher

It trains on the meta-training images only (the CIFAR-10 training set minus the 1,000 held-out
validation images, as ``graphparam.train`` splits them), so the teacher has never seen an image the
GHN is validated on; its top-1 is measured on the first ``--test-images`` CIFAR-10 test images.
Writes ``DIR/teacher.json`` + ``DIR/model.safetensors`` and ``experiments/results/teacher.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, ROOT, add_data_arg, command_line, require_data, write_results  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="model reference, e.g. zoo:SEED or timm:NAME")
    p.add_argument("--cifar-stem", action="store_true")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--test-images", type=int, default=2000)
    p.add_argument("--threads", type=int, default=1)
    add_data_arg(p)
    p.add_argument("--out", default=str(ROOT / "runs" / "teacher"))
    args = p.parse_args(argv)
    args.data = require_data(p, args.data)

    import torch

    from graphparam.data import load_dataset
    from graphparam.finetune import finetune
    from graphparam.sources import create_model
    from graphparam.train.data import training_images
    from graphparam.train.teacher import TeacherInfo, save_teacher

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    train, _ = training_images(args.data, 1000)
    test = load_dataset(args.data, "test").subset(slice(0, args.test_images))
    model = create_model(args.model, num_classes=10, cifar_stem=args.cifar_stem)
    start = time.perf_counter()
    result = finetune(model, train, test, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                      weight_decay=5e-4, grad_clip=5.0, device="cpu", eval_initial=False, init="teacher")
    seconds = time.perf_counter() - start
    info = TeacherInfo(model=args.model, cifar_stem=args.cifar_stem, num_classes=10,
                       test_top1=result.final_top1,
                       training={"epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size,
                                 "optimizer": "sgd nesterov 0.9, wd 5e-4, cosine", "threads": args.threads,
                                 "seconds": round(seconds, 1), "train_data": train.name,
                                 "test_data": f"{test.name}[:{len(test)}]",
                                 "test_top1_per_epoch": result.test_top1[1:]})
    save_teacher(model, info, args.out)
    params = sum(t.numel() for t in model.parameters())
    lines = ["# Distillation teacher", "",
             f"Command: `{command_line(__file__, argv)}`", "",
             f"- model `{args.model}`, {params:,} parameters; trained on {train.name} ({len(train):,} images, "
             "crop+flip), SGD Nesterov 0.9, weight decay 5e-4, cosine.",
             f"- test top-1 per epoch on the first {len(test):,} CIFAR-10 test images: "
             + ", ".join(f"{100 * a:.1f} %" for a in result.test_top1[1:]),
             f"- {seconds / 60:.1f} min on {args.threads} CPU thread(s) "
             f"({seconds * args.threads / 3600:.2f} core-hours), on a 2-core machine shared with other jobs.", ""]
    write_results(RESULTS / "teacher", markdown="\n".join(lines))
    print("\n".join(lines), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
