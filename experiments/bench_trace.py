"""Time trace + IR + shortest paths for ResNet-50 and ViT-B/16 at 224×224 on this CPU.

    python experiments/bench_trace.py --repeats 5

Writes experiments/results/bench_trace.{md,json}. Each repeat traces a fresh model instance
(nothing cached between repeats); the median over repeats is reported, with the minimum.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, provenance, write_results  # noqa: E402

import torch  # noqa: E402

import graphparam  # noqa: E402
MODELS = {"resnet50": "timm:resnet50", "vit_base_patch16_224": "timm:vit_base_patch16_224"}


def time_once(name: str) -> dict[str, float]:
    import timm

    model = timm.create_model(name)
    t0 = time.perf_counter()
    graph = graphparam.trace(model, (3, 224, 224))
    t1 = time.perf_counter()
    graph.shortest_paths()
    t2 = time.perf_counter()
    return {"trace": t1 - t0, "shortest_paths": t2 - t1, "total": t2 - t0, "nodes": len(graph.nodes)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)  # the shape pass runs on the meta device: no arithmetic to share
    warnings.simplefilter("ignore")
    time_once("resnet18")  # warm-up: imports, first-call caches
    rows = []
    for name in MODELS:
        runs = [time_once(name) for _ in range(args.repeats)]
        row = {"model": name, "nodes": runs[0]["nodes"]}
        for key in ("trace", "shortest_paths", "total"):
            row[f"{key}_median"] = statistics.median(r[key] for r in runs)
            row[f"{key}_min"] = min(r[key] for r in runs)
        rows.append(row)
    lines = ["# Trace speed", "", *provenance(__file__),
             f"{args.threads} thread(s), load average at the end {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
             "(a shared machine). Input 1×3×224×224. Bar: total ≤ 0.5 s.", "",
             "| model | nodes | trace + IR (s) median / min | shortest paths (s) median / min | total (s) median / min |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['nodes']} | {r['trace_median']:.3f} / {r['trace_min']:.3f} | "
                     f"{r['shortest_paths_median']:.4f} / {r['shortest_paths_min']:.4f} | "
                     f"{r['total_median']:.3f} / {r['total_min']:.3f} |")
    write_results(RESULTS / "bench_trace", rows, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
