"""The ``graphparam`` command line: parses arguments and calls the public API, nothing more."""

from __future__ import annotations

import argparse
import sys
from typing import Callable

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def wrap(fn):
        COMMANDS[name] = fn
        return fn

    return wrap


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", default="timm:resnet18",
                   help="timm:NAME, torchvision:NAME, zoo:SEED, real:NAME or a path to an .onnx file "
                        "(default: timm:resnet18)")
    p.add_argument("--num-classes", type=int, default=None, help="classifier size (default: the model's own)")
    p.add_argument("--cifar-stem", action="store_true", help="3x3 stride-1 stem without max-pool (ResNets)")
    p.add_argument("--input-size", type=int, nargs=3, default=[3, 32, 32], metavar=("C", "H", "W"))


def _resolve_graph(args: argparse.Namespace):
    from graphparam.graph import trace
    from graphparam.sources import is_onnx_path, load_model

    if is_onnx_path(args.model):
        from graphparam.graph import trace_onnx

        return trace_onnx(args.model)
    model = load_model(args.model, num_classes=args.num_classes, cifar_stem=args.cifar_stem)
    return trace(model, tuple(args.input_size), name=args.model)


@command("graph")
def cmd_graph(args: argparse.Namespace) -> int:
    graph = _resolve_graph(args)
    print(graph.summary())
    if args.png:
        graph.draw(args.png)
        print(f"drawing written to {args.png}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphparam", description="Predict neural-network parameters from "
                                     "computation graphs with a graph hypernetwork.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("graph", help="trace a model and print (and optionally draw) its graph")
    _add_model_args(p)
    p.add_argument("--png", help="write a drawing of the graph to this PNG file")
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors whose message is meant for the user: printed on one line, no traceback."""
    from graphparam.graph import GraphError, TraceError, UnsupportedOperation
    from graphparam.sources import ModelSourceError

    errors: list[type[BaseException]] = [ModelSourceError, TraceError, UnsupportedOperation, GraphError,
                                         FileNotFoundError, IsADirectoryError, PermissionError]
    for module, name in (("graphparam.graph.onnx_frontend", "OnnxError"), ("graphparam.model.checkpoint",
                         "CheckpointError"), ("graphparam.data", "DatasetNotFoundError")):
        try:
            errors.append(getattr(__import__(module, fromlist=[name]), name))
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("graphparam: interrupted", file=sys.stderr)
        return 130
    except _user_errors() as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"graphparam: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
