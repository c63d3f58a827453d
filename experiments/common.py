"""What the experiment scripts share: the repository on ``sys.path``, GHN loading, the ``--data`` and
``--shard`` arguments, shard processes, the provenance header, atomic writes of a result's JSON/Markdown/PNG.

Scripts import it, before anything of ``graphparam`` or ``arch_zoo``, after putting their own folder on
``sys.path`` (importing it puts the repository root there too, so a checkout runs without an install)::

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import RESULTS, add_data_arg, command_line, load_ghn, write_results  # noqa: E402

``python experiments/common.py`` prints the provenance header and the CIFAR-10 source a script would use.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Callable, Iterator

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
DATA_ENV = "GRAPHPARAM_DATA"
#: the forms of the held-out real models in ``real_zero_shot.py``'s cache, and their names in tables
HELDOUT_FORMS = {"timm": "as built", "cifar_stem": "CIFAR stem"}

if str(ROOT) not in sys.path:  # after the scripts' own folder, before an installed copy of the library
    sys.path.insert(1, str(ROOT))


def load_ghn(name: str):
    """``(ghn, trained)``: a checkpoint path/registered name, or ``untrained:PRESET`` (seed 0) for smoke tests."""
    import torch

    from graphparam.model import GHN, GHNConfig

    if name.startswith("untrained:"):
        torch.manual_seed(0)
        return GHN(GHNConfig.named(name.split(":", 1)[1])).eval(), False
    return GHN.from_pretrained(name).eval(), True


def add_probe_args(p: argparse.ArgumentParser, out: str) -> None:
    """The arguments of a probe of one GHN on held-out models: ``--ghn``, ``--images``, ``--out``, ``--data``."""
    p.add_argument("--ghn", default="cifar10", help="GHN checkpoint directory or registered name")
    p.add_argument("--images", type=int, default=2000, help="first N test images of the evaluation order")
    p.add_argument("--out", default=str(RESULTS / out), help="results stem")
    add_data_arg(p)


def probe_inputs(p: argparse.ArgumentParser, args: argparse.Namespace):
    """``(ghn, test images)`` of :func:`add_probe_args`' arguments, with one torch thread."""
    import torch

    from graphparam.data import load_dataset
    from graphparam.evaluate import first_images

    data_path = require_data(p, args.data)
    torch.set_num_threads(1)
    ghn, _ = load_ghn(args.ghn)
    return ghn, first_images(load_dataset(data_path, "test"), args.images)


def modules_of_kind(model, kinds: tuple[str, ...]) -> list:
    """The model's modules whose op-registry kind is one of ``kinds`` (``"batch_norm"``, ``"layer_norm"``, ...): the
    table every front end traces with, so a probe sees the layers the GHN sees."""
    from graphparam.graph.registry import module_rule, register_library_rows

    register_library_rows()
    return [m for m in model.modules() if getattr(module_rule(m), "kind", None) in kinds]


def add_tile_layout_arg(p: argparse.ArgumentParser) -> None:
    """``--tile-layout``, ``--channel-order`` and ``--channel-ties``: decode with these ``GHNConfig`` fields instead of the
    checkpoint's (another fingerprint, so cached results stay apart)."""
    from graphparam.model.config import TILE_LAYOUTS

    p.add_argument("--tile-layout", choices=TILE_LAYOUTS, default=None,
                   help="decode with this tile layout instead of the checkpoint's (GHNConfig.tile_layout)")
    p.add_argument("--channel-order", type=int, choices=(0, 1), default=None,
                   help="1: decode weights at the positions their channels flow to (GHNConfig.channel_order); "
                        "0: in order; default: the checkpoint's")
    p.add_argument("--channel-ties", type=int, choices=(0, 1), default=None,
                   help="1: channels that a sum or a gate combines share a position (GHNConfig.channel_ties); "
                        "default: the checkpoint's")


def load_ghn_for(args: argparse.Namespace, device=None):
    """The GHN of ``args.ghn`` on ``device``, in eval mode, with ``args.tile_layout``, ``args.channel_order`` and
    ``args.channel_ties`` where given."""
    from graphparam.model import GHN

    overrides = {"tile_layout": getattr(args, "tile_layout", None),
                 "channel_order": getattr(args, "channel_order", None),
                 "channel_ties": getattr(args, "channel_ties", None)}
    overrides = {k: (v if k == "tile_layout" else bool(v)) for k, v in overrides.items() if v is not None}
    return GHN.from_pretrained(args.ghn, device=device, config_overrides=overrides or None).eval()


def atomic_write(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so that an interrupted run never leaves half a file."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_results(stem: str | os.PathLike, data=None, markdown: str | None = None,
                  plot: Callable[[Path], None] | None = None, indent: int | None = 1) -> Path:
    """``STEM.json`` (``data``), ``STEM.md`` (``markdown``) and ``STEM.png`` (``plot(path)``), each one that is
    given; the folder is made and the text files are written atomically. Returns ``stem`` as a Path."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    if data is not None:
        atomic_write(stem.with_suffix(".json"), json.dumps(data, indent=indent) + "\n")
    if markdown is not None:
        atomic_write(stem.with_suffix(".md"), markdown if markdown.endswith("\n") else markdown + "\n")
    if plot is not None:
        plot(stem.with_suffix(".png"))
    return stem


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend (no display on the machines that run these)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def command_line(script: str, argv: list[str] | None = None) -> str:
    """``python experiments/SCRIPT.py ARGS`` as run (``argv``: the arguments, default ``sys.argv[1:]``)."""
    args = sys.argv[1:] if argv is None else argv
    return " ".join(["python", f"experiments/{Path(script).name}", *(shlex.quote(str(a)) for a in args)])


def machine() -> dict:
    """Where a result was measured: processor, cores, Python and torch versions."""
    import torch

    return {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "torch": torch.__version__}


def provenance(script: str, argv: list[str] | None = None) -> list[str]:
    """The Markdown header lines every result starts with: the command line and the machine."""
    m = machine()
    return [f"Command: `{command_line(script, argv)}`", "",
            f"Machine: {m['machine']}, {m['cpus']} cores, Python {m['python']}, torch {m['torch']}.", ""]


def add_data_arg(p: argparse.ArgumentParser, note: str = "") -> None:
    """``--data``: the CIFAR-10 npz, by default ``$GRAPHPARAM_DATA`` (checked by :func:`require_data`)."""
    p.add_argument("--data", default=os.environ.get(DATA_ENV) or None,
                   help=f"CIFAR-10 npz (default: ${DATA_ENV}){note}")


def require_data(p: argparse.ArgumentParser, data: str | None) -> str:
    """``data``, or a clear usage error when neither ``--data`` nor ``$GRAPHPARAM_DATA`` names a source."""
    if not data:
        p.error(f"no CIFAR-10 data: pass --data PATH or set ${DATA_ENV}")
    return str(data)


def parse_shard(p: argparse.ArgumentParser, text: str) -> tuple[int, int]:
    """``--shard I/N`` as ``(I, N)``, or a usage error unless ``0 <= I < N``."""
    i, _, n = text.partition("/")
    if not (i.isdigit() and n.isdigit() and int(i) < int(n)):
        p.error(f"--shard takes I/N with 0 <= I < N, got {text!r}")
    return int(i), int(n)


def run_shards(script: str, argv: list[str], jobs: int, extra: tuple[str, ...] | list[str] = (),
               label: str = "") -> None:
    """Run ``jobs`` copies of ``script`` with ``argv`` side by side, one thread and one ``--shard I/N`` each
    (plus ``extra`` flags), and wait; any failure ends the script with a message that says the cache keeps
    what was measured."""
    import subprocess

    procs = [subprocess.Popen([sys.executable, script, *argv, "--jobs", "1", "--shard", f"{i}/{jobs}",
                               "--threads", "1", *extra]) for i in range(jobs)]
    try:
        codes = [proc.wait() for proc in procs]
    except KeyboardInterrupt:
        for proc in procs:
            proc.terminate()
        raise
    if any(codes):
        raise SystemExit(f"{label}{': ' if label else ''}a shard process failed (exit {max(codes)}); what it "
                         "measured is in the cache, run the same command again to resume")


def pairs(items: list[str], what: str) -> dict[str, str]:
    """``{NAME: VALUE}`` from command-line items ``NAME=VALUE`` (``what``: the flag, for the error)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise SystemExit(f"{what} takes NAME=VALUE, got {item!r}")
        out[key] = value
    return out


def means_over_common(rows: dict[tuple[str, str], dict[str, float]], groups, fingerprints: dict[str, str]
                      ) -> dict[str, dict]:
    """Per group (a form, a split) of ``rows`` (``{(group, fingerprint): {model: top-1}}``): each GHN's mean top-1
    (%) over the models measured for every GHN of ``fingerprints`` (``{label: fingerprint}``), and their top-1."""
    out = {}
    for group in groups:
        per = {label: rows.get((group, fp), {}) for label, fp in fingerprints.items()}
        common = set.intersection(*(set(v) for v in per.values())) if per else set()
        if common:
            out[group] = {"models": len(common),
                          "mean": {k: 100 * sum(v[m] for m in common) / len(common) for k, v in per.items()},
                          "per_model": {k: {m: v[m] for m in sorted(common)} for k, v in per.items()}}
    return out


def same_graph(row: dict | None, ref: str, form: str) -> dict | None:
    """A cached GHN row, or None where it was measured on another graph of the model than the committed one
    (a tracer change since: the GHN saw other nodes, so the row is measured again). Default-init rows do not
    depend on the graph."""
    from arch_zoo import real_heldout

    committed = real_heldout.load()["hashes"].get(ref, {}).get(form)
    if row is None or committed is None:  # a model outside the committed list has nothing to compare with
        return row
    return row if row.get("structure_hash", committed) == committed else None


def heldout_means(cache: Path, fingerprints: dict[str, str]) -> dict[str, dict]:
    """Per form of ``real_zero_shot.py``'s per-model ``cache``: the held-out mean top-1 (%) of each GHN
    (``{label: fingerprint}``) over the models measured for every one on today's graphs (:func:`same_graph`),
    and their per-model top-1."""
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for form, r in heldout_rows(cache):
        if same_graph(r["result"], r["name"], form) is not None:
            rows.setdefault((form, r["ghn"]), {})[r["name"]] = r["result"]["top1"]
    return means_over_common(rows, HELDOUT_FORMS, fingerprints)


def heldout_rows(cache: Path) -> Iterator[tuple[str, dict]]:
    """``(form, row)`` for each row of ``real_zero_shot.py``'s per-model ``cache`` in a held-out form."""
    with open(cache) as f:
        for line in f:
            r = json.loads(line)
            form = r["split"].rpartition("/")[2]
            if form in HELDOUT_FORMS:
                yield form, r

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arg(parser)
    args = parser.parse_args()
    print("\n".join(provenance(__file__, [])))
    print(f"CIFAR-10 data: {args.data or f'none (pass --data or set ${DATA_ENV})'}")
