"""The ``graphparam`` command line: parses arguments and calls the public API, nothing more."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Callable

from graphparam.errors import GraphparamError, first_line


@dataclass(frozen=True)
class Command:
    """One subcommand, declared in one place: its help line, its arguments and its handler."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    add_help: bool = True


COMMANDS: dict[str, Command] = {}


def command(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None], *, add_help: bool = True):
    """Register the decorated handler as subcommand ``name`` with the parser ``arguments`` fills in."""
    def wrap(fn: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = Command(name, help, arguments, fn, add_help)
        return fn

    return wrap


#: the classifier size every command (and the API) builds by default: CIFAR-10's
DEFAULT_NUM_CLASSES = 10


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", default="timm:resnet18",
                   help="timm:NAME, torchvision:NAME, zoo:SEED, real:NAME, python:MODULE:ATTR or FILE.py:ATTR (your "
                        "own nn.Module class or factory) or a path to an .onnx file (default: timm:resnet18)")
    p.add_argument("--num-classes", type=int, default=DEFAULT_NUM_CLASSES,
                   help="classifier size (default: %(default)s)")
    p.add_argument("--cifar-stem", action="store_true",
                   help="adapt to 32x32: img_size and a 4-pixel patch for timm models that take img_size (ViT, "
                        "DeiT, Swin, Mixer, ...); else the first 4x of the early downsampling removed, found from "
                        "the model's structure (a ResNet's 7x7/2 conv and max-pool become a 3x3/1 conv, ...)")
    p.add_argument("--input-size", type=int, nargs=3, default=None, metavar=("C", "H", "W"),
                   help="the image size the model is built for and traced at (default: the one the GHN was "
                        "trained at, its pretrained_cfg)")


def _set_input_size(args: argparse.Namespace, ghn=None) -> tuple[int, ...]:
    """``--input-size``, else the GHN's ``pretrained_cfg.input_size`` (the default config's without a
    GHN), written back to ``args.input_size`` for the rest of the command."""
    from graphparam.pretrained_cfg import resolve_input_size

    args.input_size = resolve_input_size(args.input_size, ghn)
    return args.input_size


def _resolve_graph(args: argparse.Namespace):
    from graphparam.graph import trace
    from graphparam.sources import is_onnx_path

    if is_onnx_path(args.model):
        from graphparam.graph.onnx import trace_onnx

        return trace_onnx(args.model)
    return trace(_model(args), _set_input_size(args), name=args.model)


def _graph_args(p: argparse.ArgumentParser) -> None:
    _add_model_args(p)
    p.add_argument("--png", help="write a drawing of the graph to this PNG file")


@command("graph", "trace a model and print (and optionally draw) its graph", _graph_args)
def cmd_graph(args: argparse.Namespace) -> int:
    graph = _resolve_graph(args)
    print(graph.summary())
    if args.png:
        graph.draw(args.png)
        print(f"drawing written to {args.png}")
    return 0


def _model(args: argparse.Namespace):
    from graphparam.sources import create_model

    return create_model(args.model, num_classes=args.num_classes, cifar_stem=args.cifar_stem,
                        input_size=_set_input_size(args))


def _check_input_size(args: argparse.Namespace, data) -> None:
    """Refuse an ``--input-size`` that is not the size of the images the model will be run on."""
    from graphparam.errors import InputSizeError

    size = tuple(int(s) for s in data.images.shape[1:])
    if tuple(_set_input_size(args)) != size:
        raise InputSizeError(f"--input-size {' '.join(map(str, args.input_size))} does not match the images of "
                             f"{data.name} ({'x'.join(map(str, size))}); use --input-size {' '.join(map(str, size))} "
                             f"(timm models with a fixed input size, e.g. ViTs, are built for it)")


def _add_download_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--download", action="store_true",
                   help="download CIFAR-10 with torchvision into --data (default: ~/.cache/graphparam/cifar10)")


def _predict_args(p: argparse.ArgumentParser) -> None:
    _add_model_args(p)
    p.add_argument("--ghn", default="cifar10", help="GHN name or checkpoint directory (default: %(default)s)")
    p.add_argument("--out", help="output file (default: weights.safetensors, or predicted.onnx for ONNX input)")


@command("predict", "predict a model's parameters (safetensors, or a predicted .onnx copy)", _predict_args)
def cmd_predict(args: argparse.Namespace) -> int:
    from graphparam.predict import load_ghn, predict, predict_onnx
    from graphparam.sources import is_onnx_path

    ghn = load_ghn(args.ghn)
    _set_input_size(args, ghn)
    if is_onnx_path(args.model):
        out = args.out or "predicted.onnx"
        predict_onnx(args.model, out, ghn=ghn)
    else:
        from safetensors.torch import save

        model = predict(_model(args), args.input_size, ghn=ghn)
        out = args.out or "weights.safetensors"
        tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        with open(out, "wb") as f:  # a plain open: the usual mode under the umask (save_file wrote 0600)
            f.write(save(tensors))
        print(f"{len(tensors)} tensors ({sum(t.numel() for t in tensors.values()):,} values) of {args.model}")
    print(f"predicted parameters written to {out} ({_size(out)})")
    return 0


def _size(path: str) -> str:
    import os

    n = os.path.getsize(path)
    return f"{n / 2 ** 20:.1f} MiB" if n >= 2 ** 20 else f"{n / 2 ** 10:.1f} KiB"


def _eval_args(p: argparse.ArgumentParser) -> None:
    _add_model_args(p)
    p.add_argument("--ghn", default="cifar10", help="GHN name or checkpoint directory (default: %(default)s)")
    p.add_argument("--data", help="CIFAR-10 npz / torchvision root / ImageFolder (default: the embedded "
                                  "1,000 CIFAR-10 test images shipped in the package)")
    _add_download_arg(p)
    p.add_argument("--max-images", type=int, default=None,
                   help="evaluate the first N images of the fixed class-mixed order (default: all)")
    p.add_argument("--batch-size", type=int, default=250,
                   help="images per forward pass; BatchNorm uses each batch's statistics (default: %(default)s, "
                        "the protocol's)")


@command("eval", "zero-shot accuracy of predicted parameters (no training)", _eval_args)
def cmd_eval(args: argparse.Namespace) -> int:
    from graphparam.data import load_dataset
    from graphparam.evaluate import evaluate, first_images
    from graphparam.predict import load_ghn, predict

    source = args.data or (None if args.download else "embedded")
    data = first_images(load_dataset(source, split="test", download=args.download), args.max_images)
    ghn = load_ghn(args.ghn)
    _set_input_size(args, ghn)
    _check_input_size(args, data)
    model = predict(_model(args), args.input_size, ghn=ghn)
    result = evaluate(model, data, batch_size=args.batch_size, cfg=ghn.pretrained_cfg)
    print(f"{args.model}: zero-shot top-1 {100 * result.top1:.2f}% on {data.name} ({result.n} images, "
          f"GHN {args.ghn}, no training)")
    return 0


def _finetune_args(p: argparse.ArgumentParser) -> None:
    _add_model_args(p)
    p.add_argument("--ghn", default="cifar10", help="GHN name or checkpoint directory (default: %(default)s)")
    p.add_argument("--init", choices=["ghn", "random", "both"], default="both",
                   help="start from the GHN's prediction, default init, or both side by side (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=1, help="(default: %(default)s)")
    p.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=128, help="(default: %(default)s)")
    p.add_argument("--max-steps", type=int, default=None, help="cap on steps per epoch (quick runs)")
    p.add_argument("--evals-per-epoch", type=int, default=1,
                   help="test accuracy at every 1/N of an epoch (default: %(default)s, after each epoch)")
    p.add_argument("--data", help="CIFAR-10 source, an image folder or a Fashion-MNIST IDX directory "
                                  "(default: $GRAPHPARAM_DATA, else a previous --download)")
    _add_download_arg(p)
    p.add_argument("--test-images", type=int, default=None,
                   help="test on the first N test images of the fixed class-mixed order (default: all)")
    p.add_argument("--png", default="finetune.png", help="plot of both curves (default: %(default)s)")


@command("finetune", "train from the GHN prediction and/or default init with one recipe", _finetune_args)
def cmd_finetune(args: argparse.Namespace) -> int:
    from graphparam.data import load_dataset
    from graphparam.evaluate import first_images
    from graphparam.finetune import check_recipe, compare_inits, format_results, plot_curves
    from graphparam.predict import load_ghn

    check_recipe(args.epochs, args.lr, args.batch_size, args.evals_per_epoch)
    inits = ("ghn", "random") if args.init == "both" else (args.init,)
    train = load_dataset(args.data, split="train", download=args.download)
    test = first_images(load_dataset(args.data, split="test"), args.test_images)
    ghn = load_ghn(args.ghn) if "ghn" in inits else None
    _set_input_size(args, ghn)
    _check_input_size(args, train)
    results = compare_inits(lambda: _model(args), ghn, train, test,
                            inits=inits, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                            max_steps_per_epoch=args.max_steps, evals_per_epoch=args.evals_per_epoch,
                            input_size=args.input_size)
    print(format_results(results))
    if args.png:
        plot_curves(results, args.png)
        print(f"curves written to {args.png}")
    return 0


def _zoo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["list", "show", "sample"], nargs="?", default="list")
    p.add_argument("--seed", type=int, default=0, help="the net to show, or the first of those to sample "
                                                       "(default: %(default)s)")
    p.add_argument("--split", default="train", help="generator config of the nets: train, val, test, wide, deep, "
                                                    "dense or bnfree (default: %(default)s)")
    p.add_argument("-n", type=int, default=5, help="how many nets 'sample' prints")
    p.add_argument("--json", action="store_true", help="'show': the spec as canonical JSON instead of a table")


@command("zoo", "browse the architecture zoo", _zoo_args)
def cmd_zoo(args: argparse.Namespace) -> int:
    import arch_zoo
    from arch_zoo.generator import PRESETS
    from graphparam.errors import ArgumentValueError

    if args.split not in PRESETS:
        raise ArgumentValueError(f"unknown zoo split {args.split!r}; known: {', '.join(sorted(PRESETS))}")

    if args.action == "list":
        for name in arch_zoo.SPLITS:
            members = arch_zoo.split(name) if name != "train" else None
            print(f"{name:<8} {'endless stream by seed' if members is None else f'{len(members)} nets'}")
    elif args.action == "show":
        spec = arch_zoo.sample(args.seed, split=args.split)
        n = sum(p.numel() for p in spec.build(num_classes=10).parameters())
        print(spec.to_json() if args.json else
              f"zoo seed {args.seed} (split {args.split}): {n:,} parameters, hash {spec.hash}\n{spec_table(spec)}")
    else:
        for seed in range(args.seed, args.seed + args.n):
            spec = arch_zoo.sample(seed, split=args.split)
            n = sum(p.numel() for p in spec.build(num_classes=10).parameters())
            print(f"seed {seed:>8}  {spec.family:<10} {n:>12,} params  hash {spec.hash}")
    return 0


def spec_table(spec) -> str:
    """An ``ArchSpec`` as a table a person can read: the net-wide fields, the stem, one row per cell, the head."""
    yes = {True: "yes", False: "no"}
    st, hd = spec.stem, spec.head
    lines = [f"family {spec.family}, norm {spec.norm}, act {spec.act}, image {spec.image_size}x{spec.image_size}",
             f"stem   {st.kind}, {st.channels} channels, kernel {st.kernel}, stride {st.stride}"
             + (", cls token" if st.cls_token else ""),
             f"{'cell':>4}  {'kind':<11} {'channels':>8} {'stride':>6} {'hidden':>6} {'kernel':>6} {'groups':>6} "
             f"{'se':>3} {'heads':>5} {'residual':>8}  nodes"]
    for i, c in enumerate(spec.cells):
        nodes = " ".join(f"{n.op}({'+'.join(map(str, n.inputs))})" for n in c.nodes)
        nodes += f" -> {c.output}" if c.nodes else "-"
        lines.append(f"{i:>4}  {c.kind:<11} {c.channels:>8} {c.stride:>6} {c.hidden:>6} {c.kernel:>6} {c.groups:>6} "
                     f"{yes[c.se]:>3} {c.heads:>5} {yes[c.residual]:>8}  {nodes}"
                     + (f" (layer scale {c.layer_scale:g})" if c.layer_scale else ""))
    lines.append(f"head   pool {hd.pool}, norm {yes[hd.norm]}, hidden {hd.hidden or '-'}")
    return "\n".join(lines)


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("train_args", nargs=argparse.REMAINDER)


@command("train", "meta-train a GHN (all options: graphparam train --help)", _train_args, add_help=False)
def cmd_train(args: argparse.Namespace) -> int:
    from graphparam.train import main as train_main

    rest = args.train_args
    return train_main(rest[1:] if rest[:1] == ["--"] else rest) or 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphparam", description="Predict neural-network parameters from "
                                     "computation graphs with a graph hypernetwork.")
    sub = parser.add_subparsers(dest="command", required=True)
    for cmd in COMMANDS.values():
        cmd.arguments(sub.add_parser(cmd.name, help=cmd.help, add_help=cmd.add_help))
    return parser


#: errors whose message is meant for the user: printed on one line, no traceback, exit status 2
USER_ERRORS: tuple[type[BaseException], ...] = (GraphparamError, FileNotFoundError, IsADirectoryError,
                                                PermissionError)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["train"]:  # the training command owns all of its flags, --help included
        argv = ["train", "--", *argv[1:]] if len(argv) > 1 else argv
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "num_classes", None) is not None:  # refused before any model or data is loaded
            from graphparam.sources import check_num_classes

            check_num_classes(args.num_classes)
        return COMMANDS[args.command].run(args)
    except KeyboardInterrupt:
        print("graphparam: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as exc:
        print(f"graphparam: error: {first_line(exc, with_type=False)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
