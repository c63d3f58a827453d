"""Zero-shot top-1 of one GHN's predictions for timm ResNets of growing width, under each tile layout.

A GHN decodes every weight from one ``tile × tile`` block (32 × 32 × 3×3) laid over the weight's rows and
columns (:func:`graphparam.model.tiles.tile_layout`). With ``permuted`` copies, a layer reads its inputs
beyond the first 32 channels with other tile indices than the layer before gave them; with ``repeat``,
channel ``c`` keeps the meaning of tile index ``c mod 32`` from layer to layer. This sweep shows what
that does as nets get wider than the tile: ResNet-10/50-shaped nets (basic and bottleneck blocks) at base
widths 16, 32 and 64 (64 is timm's ``resnet18``/``resnet50``), with the CIFAR stem, the same GHN weights
decoded both ways, on the first ``--images`` images of the fixed evaluation order (BatchNorm with batch
statistics, as :mod:`graphparam.evaluate`)::

    python experiments/width_sweep.py --ghn experiments/results/campaign21_ghn --images 1000 --threads 1

Writes ``experiments/results/width_sweep.{json,md,png}`` (``--out``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, add_data_arg, command_line, machine, pyplot, write_results  # noqa: E402

from graphparam.model.config import TILE_LAYOUTS as LAYOUTS  # noqa: E402
SHAPES = {"basic (1,1,1,1)": ("basic", (1, 1, 1, 1)), "basic (2,2,2,2)": ("basic", (2, 2, 2, 2)),
          "bottleneck (1,1,1,1)": ("bottleneck", (1, 1, 1, 1)), "bottleneck (3,4,6,3)": ("bottleneck", (3, 4, 6, 3))}
WIDTHS = (16, 32, 64)


def build(block: str, layers: tuple[int, ...], width: int) -> torch.nn.Module:
    """timm's ``ResNet`` with ``block`` blocks, ``layers`` per stage and base width ``width``, CIFAR stem."""
    from timm.models.resnet import BasicBlock, Bottleneck, ResNet

    from graphparam.sources import to_cifar_stem

    model = ResNet(BasicBlock if block == "basic" else Bottleneck, layers, num_classes=10,
                   channels=tuple(width << i for i in range(4)))
    return to_cifar_stem(model, (3, 32, 32))


def markdown(res: dict) -> str:
    meta, rows = res["meta"], res["rows"]
    lines = ["# Zero-shot top-1 (%) against width, per tile layout", "", f"Command: `{meta['command']}`", "",
             f"GHN `{meta['ghn']}`, the same weights decoded with each tile layout (tile {meta['tile']}); timm "
             f"`ResNet` with the CIFAR stem, base width w (stages w, 2w, 4w, 8w; bottlenecks end 4x wider); "
             f"{meta['data']}, first {meta['images']} images, BatchNorm with batch statistics. "
             f"{meta['seconds']:.0f} s on {meta['threads']} thread(s) of {meta['machine']['machine']} "
             f"({meta['machine']['cpus']} cores, shared).", "",
             "| net | width | " + " | ".join(LAYOUTS) + " |", "|---|---|" + "---|" * len(LAYOUTS)]
    for r in rows:
        lines.append(f"| {r['shape']} | {r['width']} | " + " | ".join(f"{r[k]:.1f}" for k in LAYOUTS) + " |")
    return "\n".join(lines)


def plot(res: dict, path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(SHAPES), figsize=(3.2 * len(SHAPES), 3.2), sharey=True)
    for ax, shape in zip(axes, SHAPES):
        rows = [r for r in res["rows"] if r["shape"] == shape]
        for layout, style in zip(LAYOUTS, ("o--", "s-")):
            ax.plot([r["width"] for r in rows], [r[layout] for r in rows], style, label=layout)
        ax.axhline(10, color="k", lw=0.6, ls=":")
        ax.set_xscale("log", base=2)
        ax.set_xticks(WIDTHS, [str(w) for w in WIDTHS])
        ax.set_title(shape, fontsize=9)
        ax.set_xlabel("base width")
    axes[0].set_ylabel("zero-shot top-1 %")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"GHN {res['meta']['ghn']}: one tile ({res['meta']['tile']} channels) over wider nets", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ghn", default="cifar10", help="GHN checkpoint directory or registered name")
    add_data_arg(p)
    p.add_argument("--images", type=int, default=1000, help="first N images of the evaluation order")
    p.add_argument("--widths", type=int, nargs="+", default=list(WIDTHS))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(RESULTS / "width_sweep"), help="output stem")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    from graphparam.data import load_dataset
    from graphparam.evaluate import evaluate, first_images
    from graphparam.model import GHN

    ghns = {layout: GHN.from_pretrained(args.ghn, config_overrides={"tile_layout": layout}).eval()
            for layout in LAYOUTS}
    data = first_images(load_dataset(args.data, "test"), args.images)
    start, rows = time.perf_counter(), []
    for shape, (block, layers) in SHAPES.items():
        for width in args.widths:
            row = {"shape": shape, "width": width}
            for layout, ghn in ghns.items():
                model = ghn.predict(build(block, layers, width), input_size=(3, 32, 32))
                row[layout] = 100 * evaluate(model, data, progress=False, cfg=ghn.pretrained_cfg).top1
            rows.append(row)
            print(f"{shape} w={width}: " + "  ".join(f"{k} {row[k]:.1f}" for k in LAYOUTS), file=sys.stderr,
                  flush=True)
    res = {"meta": {"command": command_line(__file__, argv), "ghn": args.ghn, "tile": ghns["repeat"].config.tile,
                    "fingerprints": {k: g.fingerprint() for k, g in ghns.items()}, "data": data.name,
                    "images": len(data), "threads": args.threads, "seconds": time.perf_counter() - start,
                    "machine": machine()},
           "rows": rows}
    write_results(args.out, res, markdown(res), lambda path: plot(res, path))
    print(f"wrote {args.out}.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
