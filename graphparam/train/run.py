"""``main(argv)``: the command line of meta-training (``python -m graphparam.train`` / ``graphparam train``)."""

from __future__ import annotations

import argparse
import sys

from graphparam.train.config import add_arguments, from_args, parse_args

__all__ = ["build_parser", "main"]

EPILOG = """examples:
  python -m graphparam.train --out runs/main --ghn small --time-budget 70m --threads 2
  python -m graphparam.train --out runs/dbg --ghn tiny -M 2 -b 8 --steps 20 --data embedded --val-images 100
  torchrun --nproc_per_node=4 -m graphparam.train --out runs/ddp --steps 10000
A run writes <out>/config.json, metrics.jsonl, checkpoints/step-N/, ghn/ (final GHN, loadable with
GHN.from_pretrained) and curves.png. Running the same command again resumes from the latest checkpoint.
SIGTERM/SIGINT checkpoint and stop cleanly."""


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    if parser is None:
        parser = argparse.ArgumentParser(prog="python -m graphparam.train",
                                         description="Meta-train a graph hypernetwork on arch_zoo training nets "
                                                     "and CIFAR-10.", epilog=EPILOG,
                                         formatter_class=argparse.RawDescriptionHelpFormatter)
    return add_arguments(parser)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parse_args(parser, argv)
    try:
        config = from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    from graphparam.errors import GraphparamError, first_line
    from graphparam.train.loop import train

    try:
        result = train(config)
    except GraphparamError as exc:  # a locked --out, unreadable checkpoints, a missing dataset: one line
        print(f"{parser.prog}: error: {first_line(exc, with_type=False)}", file=sys.stderr)
        return 2
    return 130 if result.stopped_by == "SIGINT" else 0


if __name__ == "__main__":
    sys.exit(main())
