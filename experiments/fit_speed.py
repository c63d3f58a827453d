"""How fast do GHN decoder variants fit one net, a fixed pool of nets, and fresh nets? (a cheap proxy)

One net per step, 64 augmented CIFAR-10 training images, Adam (lr 1e-3), gradient clip 5, GHN ``small`` with
the GHNConfig overrides of ``VARIANTS``; nets from the ``cells`` stream (seeds from 7000). The training top-1
of each step's batch is measured before the update, averaged over thirds of the run:

* ``one net``: the same net every step (can the decoder express and fit a net at all, and how fast);
* ``pool of 8``: 8 nets in turn (fitting several nets through shared GHN weights);
* ``fresh``: a new net every step (learning across nets; one net per step is weaker than M = 8).

    python experiments/fit_speed.py            # writes results/fit_speed.md and .json
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_data_arg, require_data  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

SUPERNET = {"decoder": "tile", "node_gate": 0.0, "slot_features": False, "depth_scale": 0.0}
VARIANTS = {
    "low rank + sin (old default)": {},
    "tile decoder": {"decoder": "tile"},
    "tile, no node state, no depth code": {"decoder": "tile", "node_gate": 0.0, "depth_scale": 0.0},
    "supernet (tile, slot type only)": SUPERNET,
}
SETTINGS = {"one net": (1, 90), "pool of 8": (8, 150), "fresh": (150, 150)}  # (distinct nets, steps)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arg(p)
    p.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
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
    train, _ = training_images(args.data, 1000)
    most = max(SETTINGS[s][0] for s in args.settings)
    archs = [build_arch(s, spec) for s, spec in itertools.islice(arch_zoo.train_stream(7000, "cells"), most)]
    rows = []
    for setting in args.settings:
        pool, steps = SETTINGS[setting]
        for name, overrides in VARIANTS.items():
            torch.manual_seed(0)
            ghn = GHN(GHNConfig.named("small", **overrides))
            opt = torch.optim.Adam(ghn.parameters(), lr=1e-3)
            batches = BatchStream(train, 64, seed=1)
            accs, start = [], time.perf_counter()
            for step in range(steps):
                x, y = next(batches)
                arch = archs[step % pool]
                opt.zero_grad()
                sums = StepSums(*torch.zeros(4))
                net_backward(arch.net, ghn([arch.graph])[0], x, y, sums, 0, scale=1.0, amp=False)
                ghn_backward(sums)
                torch.nn.utils.clip_grad_norm_(ghn.parameters(), 5.0)
                opt.step()
                accs.append(float(sums.correct) / len(y))
            k = steps // 3
            thirds = [100 * sum(accs[i * k:(i + 1) * k]) / k for i in range(3)]
            rows.append({"setting": setting, "variant": name, "overrides": overrides, "steps": steps,
                         "acc_thirds": thirds, "seconds": time.perf_counter() - start})
            print(setting, name, [f"{a:.1f}" for a in thirds], flush=True)
    (RESULTS / "fit_speed.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["# Fit speed of decoder variants: one net, a pool of 8, fresh nets", "",
             "Command: `python experiments/fit_speed.py` (1 CPU thread; one net and 64 images per step, Adam 1e-3; "
             "`cells` stream nets from seed 7000; CIFAR-10 JPEG q75 copy). Training top-1 (%) of the step's batch "
             "before the update, per third of the run.", "",
             "| setting | variant | steps | 1st third | 2nd third | 3rd third |", "|---|---|---|---|---|---|"]
    for r in rows:
        a = r["acc_thirds"]
        lines.append(f"| {r['setting']} | {r['variant']} | {r['steps']} | {a[0]:.1f} | {a[1]:.1f} | {a[2]:.1f} |")
    (RESULTS / "fit_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
