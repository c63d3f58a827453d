"""The channel positions a trace gives (with and without ties), dumped so that two revisions of the tracer can be
compared, and the time the placement takes over the same graphs (``ChannelSources.placements``; ``orders``, called
once with ties and once without, in revisions before it).

Graphs: the held-out real models in both forms (``arch_zoo/splits/real_heldout.json``) and the first
``--zoo-nets`` nets of six zoo splits. A change to ``graphparam/graph/channels.py`` that is meant to keep every
position dumps before and after and compares::

    python experiments/channel_positions.py --out /tmp/before.json     # at the old revision
    python experiments/channel_positions.py --out /tmp/after.json      # at the new one
    python experiments/channel_positions.py --compare /tmp/before.json /tmp/after.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import atomic_write  # noqa: E402

ZOO_SPLITS = ("train", "val", "test", "deep", "wide", "dense")


def dump(zoo_nets: int) -> tuple[dict[str, list], float]:
    """``({graph: [[node, {attr: positions}] ...]}, seconds placing channels)``."""
    import graphparam.graph.channels as channels
    from arch_zoo import real_heldout, sample
    from graphparam.graph import trace
    from graphparam.train.archs import build_arch

    keys = [channels.ORDER_ATTR, channels.SOURCES_ATTR, *channels.UNTIED_ATTRS.values()]
    spent = [0.0]
    method = "placements" if hasattr(channels.ChannelSources, "placements") else "orders"
    place = getattr(channels.ChannelSources, method)

    def timed(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return place(self, *args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    def positions(graph) -> list:
        return [[n.name, {k: list(n.attrs[k]) for k in keys if n.attrs.get(k) is not None}] for n in graph.nodes]

    setattr(channels.ChannelSources, method, timed)
    try:
        out = {}
        for m in real_heldout.models():
            for form in real_heldout.FORMS:
                out[f"{m['ref']}/{form}"] = positions(trace(real_heldout.build(m["ref"], form),
                                                            real_heldout.INPUT_SIZE))
        for split in ZOO_SPLITS:
            for i in range(zoo_nets):
                out[f"{split}/{i}"] = positions(build_arch(i, sample(i, split)).graph)
    finally:
        setattr(channels.ChannelSources, method, place)
    return out, spent[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", help="write the positions of every graph here (JSON)")
    p.add_argument("--zoo-nets", type=int, default=6, help="nets per zoo split")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"), help="compare two dumps instead")
    args = p.parse_args(argv)
    if args.compare:
        a, b = (json.loads(Path(f).read_text())["graphs"] for f in args.compare)
        differ = sorted(k for k in a.keys() & b.keys() if a[k] != b[k])
        print(f"{len(a.keys() & b.keys())} graphs in both, {len(differ)} differ"
              + (f": {', '.join(differ[:10])}" if differ else "")
              + (f"; only in one: {sorted(a.keys() ^ b.keys())[:10]}" if a.keys() ^ b.keys() else ""))
        return 1 if differ or a.keys() ^ b.keys() else 0
    if not args.out:
        p.error("give --out FILE or --compare A B")
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    graphs, seconds = dump(args.zoo_nets)
    atomic_write(args.out, json.dumps({"placement_seconds": round(seconds, 3), "graphs": graphs}))
    print(f"{len(graphs)} graphs; placing channels (with and without ties) took {seconds:.3f} s over them")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
