"""Do fresh nets agree on how the GHN should change? Gradient alignment across nets at initialization.

For ``--nets`` training nets (one image batch shared by all), each GHN variant (``VARIANTS``, GHNConfig
overrides of the ``small`` preset, the same seed) gets one gradient per net: cross-entropy of the net
with the predicted parameters, capped at 10 (``graphparam.train.objective.capped_loss``) so that a net whose
logits explode does not stand for all. The table gives the mean pairwise cosine of these per-net
gradients. Near 0: the nets pull the GHN in unrelated directions and the meta-batch average is noise;
large: a shared direction exists (which may also be the trivial one of shrinking every net's logits).

    python experiments/gradient_alignment.py --stream cells --nets 12
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_data_arg, require_data  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

VARIANTS = {
    "old default (low rank + sin, hashed in-channels, depth code)": {},
    "depth code off": {"depth_scale": 0.0},
    "sinusoidal in-channels": {"in_features": "sine"},
    "pure low rank": {"structured_share": 1.0},
    "tile decoder": {"decoder": "tile"},
    "tile decoder, fan-in scaling": {"decoder": "tile", "tile_scale": "fan_in"},
    "supernet (tile, no node state, no size code, no depth code)": {
        "decoder": "tile", "node_gate": 0.0, "slot_features": False, "depth_scale": 0.0},
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stream", default="cells", help="arch_zoo training stream (default: %(default)s)")
    p.add_argument("--nets", type=int, default=12)
    p.add_argument("--start", type=int, default=5000, help="first seed of the stream")
    add_data_arg(p)
    args = p.parse_args(argv)
    args.data = require_data(p, args.data)

    import torch

    import arch_zoo
    from graphparam.data import BatchStream
    from graphparam.model import GHN, GHNConfig
    from graphparam.train.archs import build_arch
    from graphparam.train.data import training_images
    from graphparam.train.objective import StepSums, ghn_backward, net_backward

    torch.set_num_threads(1)
    archs = [build_arch(s, spec) for s, spec in itertools.islice(arch_zoo.train_stream(args.start, args.stream),
                                                                 args.nets)]
    train, _ = training_images(args.data, 1000)
    x, y = next(BatchStream(train, 64, seed=1))
    rows = []
    for name, overrides in VARIANTS.items():
        torch.manual_seed(0)
        ghn = GHN(GHNConfig.named("small", **overrides))
        grads, losses = [], []
        for arch in archs:
            ghn.zero_grad()
            sums = StepSums(*torch.zeros(4))
            net_backward(arch.net, ghn([arch.graph])[0], x, y, sums, 0, scale=1.0, amp=False, loss_cap=10.0)
            ghn_backward(sums)
            ce = sums.ce_sum
            g = torch.cat([q.grad.flatten() for q in ghn.parameters() if q.grad is not None])
            grads.append(g / (g.norm() + 1e-12))
            losses.append(float(ce))
        sims = torch.stack(grads) @ torch.stack(grads).t()
        k = len(grads)
        cos = float((sims.sum() - k) / (k * k - k))
        rows.append({"variant": name, "overrides": overrides, "mean_pairwise_cos": cos, "ce": losses})
        print(f"{name}: {cos:+.4f}", flush=True)
    (RESULTS / "gradient_alignment.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["# Gradient alignment across fresh nets at initialization", "",
             f"Command: `python experiments/gradient_alignment.py --stream {args.stream} --nets {args.nets}` "
             f"(seeds from {args.start}; one shared batch of 64 CIFAR-10 training images; GHN `small`, seed 0; "
             "1 CPU thread). Mean pairwise cosine of the per-net gradients of the GHN's parameters.", "",
             "| variant | mean pairwise cosine | median CE at init |", "|---|---|---|"]
    for r in rows:
        ce = sorted(r["ce"])[len(r["ce"]) // 2]
        lines.append(f"| {r['variant']} | {r['mean_pairwise_cos']:+.4f} | {ce:.2f} |")
    (RESULTS / "gradient_alignment.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
