"""Statistics and sanity checks of the architecture zoo.

    python experiments/zoo_stats.py                      # 10,000 train nets + every eval net -> results/zoo.{md,png}
    python experiments/zoo_stats.py --num-train 200 --num-hash-check 5000 --out /tmp/zoo   # quick

Every net (training seeds and all evaluation splits, real models included) is built, run
forward in train mode on a 2x3x32x32 input (finite (2, 10) logits required) and traced with
``graphparam.trace`` (strict, every parameter owned). Also measured: sample+build time per
net, time to draw 8 fresh nets per training step, batch-64 CPU forward/backward time of
training nets, and whether any of the first ``--num-hash-check`` training seeds collides with
an evaluation net (``train_stream`` skips those). Only measured numbers are written.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, provenance, pyplot, write_results  # noqa: E402

import arch_zoo  # noqa: E402
import graphparam  # noqa: E402
from arch_zoo import real, sample, split  # noqa: E402
from arch_zoo.ops import OPS  # noqa: E402
from arch_zoo.splits import EVAL_SPLITS, eval_hashes  # noqa: E402


@dataclass
class NetStats:
    split: str
    name: str
    family: str
    params: int = 0
    cells: int = 0
    width: int = 0
    graph_nodes: int = 0
    depth: int = 0
    ops: Counter = field(default_factory=Counter)
    build_ms: float = float("nan")
    trace_ms: float = float("nan")
    error: str = ""


def longest_param_path(graph) -> int:
    """Longest chain of parameter-owning nodes along data-flow edges (nodes are topologically ordered)."""
    preds = graph.predecessors()
    depth = [0] * len(graph.nodes)
    for i, node in enumerate(graph.nodes):
        depth[i] = max((depth[p] for p in preds[i]), default=0) + (1 if node.params else 0)
    return max(depth, default=0)


def check(model: torch.nn.Module, stats: NetStats, x: torch.Tensor) -> None:
    """Forward (train mode) and trace; fill sizes or the error."""
    try:
        stats.params = real.count_params(model)
        with torch.no_grad():
            y = model.train()(x)
        if tuple(y.shape) != (2, 10) or not torch.isfinite(y).all():
            raise ValueError(f"bad output: shape {tuple(y.shape)}, finite {bool(torch.isfinite(y).all())}")
        t0 = time.perf_counter()
        graph = graphparam.trace(model, input_size=(3, 32, 32))
        stats.trace_ms = 1e3 * (time.perf_counter() - t0)
        stats.graph_nodes = len(graph.nodes)
        stats.depth = longest_param_path(graph)
        if graph.num_params != stats.params:
            raise ValueError(f"graph owns {graph.num_params} of {stats.params} parameters")
    except Exception as e:  # noqa: BLE001 - every failure is recorded and reported
        stats.error = f"{type(e).__name__}: {str(e)[:200]}"
        if not stats.error.strip():
            stats.error = traceback.format_exc(limit=2)


def spec_stats(spec, split_name: str, name: str) -> NetStats:
    return NetStats(
        split=split_name,
        name=name,
        family=spec.family,
        cells=spec.num_cells,
        width=max(c.channels for c in spec.cells),
        ops=Counter(n.op for c in spec.cells for n in c.nodes),
    )


def run_train(n: int, x: torch.Tensor) -> list[NetStats]:
    excluded, out = eval_hashes(), []
    seeds = (seed for seed in itertools.count())
    bar = tqdm(total=n, desc="train", unit="net")
    for seed in seeds:
        if len(out) == n:
            break
        t0 = time.perf_counter()
        spec = sample(seed, "train")
        if spec.hash in excluded:
            continue
        model = spec.build()
        build_ms = 1e3 * (time.perf_counter() - t0)
        stats = spec_stats(spec, "train", str(seed))
        stats.build_ms = build_ms
        check(model, stats, x)
        out.append(stats)
        bar.update()
    bar.close()
    return out


def run_eval(x: torch.Tensor) -> list[NetStats]:
    out = []
    for name in EVAL_SPLITS:
        for i, spec in enumerate(tqdm(split(name), desc=name, unit="net")):
            t0 = time.perf_counter()
            model = spec.build()
            stats = spec_stats(spec, name, str(i))
            stats.build_ms = 1e3 * (time.perf_counter() - t0)
            check(model, stats, x)
            out.append(stats)
    return out


def run_real(x: torch.Tensor, batch: int) -> tuple[list[NetStats], dict[str, float]]:
    out, fwd = [], {}
    for name in tqdm(split("real"), desc="real", unit="net"):
        t0 = time.perf_counter()
        model = real.build(name)
        stats = NetStats("real", name, real.REAL_MODELS[name].source)
        stats.build_ms = 1e3 * (time.perf_counter() - t0)
        check(model, stats, x)
        if not stats.error and batch:
            fwd[name] = forward_ms(model, batch, backward=False)
        out.append(stats)
    return out, fwd


def forward_ms(model: torch.nn.Module, batch: int, backward: bool) -> float:
    x = torch.randn(batch, 3, 32, 32)
    model.train()
    t0 = time.perf_counter()
    y = model(x)
    if backward:
        y.sum().backward()
    return 1e3 * (time.perf_counter() - t0)


def time_steps(steps: int, per_step: int) -> list[float]:
    """Wall time (ms) to draw and build ``per_step`` fresh training nets, for ``steps`` steps."""
    stream, times = arch_zoo.train_stream(start=10_000_000), []
    for _ in tqdm(range(steps), desc="8-net steps", unit="step"):
        t0 = time.perf_counter()
        for _, spec in itertools.islice(stream, per_step):
            spec.build()
        times.append(1e3 * (time.perf_counter() - t0))
    return times


def time_batch64(n: int, batch: int) -> list[tuple[int, float, float]]:
    """(params, forward ms, forward+backward ms) for the first ``n`` training nets at ``batch``."""
    out = []
    for _, spec in tqdm(itertools.islice(arch_zoo.train_stream(), n), total=n, desc=f"batch {batch}", unit="net"):
        model = spec.build()
        forward_ms(model, 2, backward=False)  # warm-up
        f = forward_ms(model, batch, backward=False)
        fb = forward_ms(model, batch, backward=True)
        out.append((real.count_params(model), f, fb))
    return out


def hash_check(n: int) -> tuple[int, int, Counter]:
    """(colliding seeds, distinct train specs, colliding seeds per eval split) over seeds 0..n-1."""
    owner = {h: name for name in EVAL_SPLITS for h in (s.hash for s in split(name))}
    hits, seen = Counter(), set()
    for seed in tqdm(range(n), desc="hash check", unit="seed", mininterval=2):
        h = sample(seed, "train").hash
        seen.add(h)
        if h in owner:
            hits[owner[h]] += 1
    return sum(hits.values()), len(seen), hits


def q(values, f):
    values = sorted(values)
    return values[min(len(values) - 1, int(f * (len(values) - 1) + 0.5))] if values else float("nan")


def fmt(n: float) -> str:
    if n != n:
        return "-"
    for unit, div in (("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:.3g}"


def plot(rows: list[NetStats], path: Path) -> None:
    plt = pyplot()
    names = ["train", *EVAL_SPLITS]
    by = {n: [r for r in rows if r.split == n and not r.error] for n in names}
    fig, axes = plt.subplots(2, 3, figsize=(18, 10))
    panels = [
        ("parameters", lambda r: r.params, True),
        ("cells", lambda r: r.cells, False),
        ("max width (channels)", lambda r: r.width, True),
        ("depth (longest chain of parametric graph nodes)", lambda r: r.depth, False),
    ]
    for ax, (title, get, log) in zip(axes.flat, panels):
        values = [get(r) for n in names for r in by[n]]
        lo, hi = max(1, min(values)), max(values)
        bins = np.geomspace(lo, hi * 1.01, 40) if log else np.arange(lo, hi + 2) - 0.5
        if not log and len(bins) > 60:
            bins = np.linspace(lo, hi + 1, 50)
        for n in names:
            if by[n]:
                vals = [get(r) for r in by[n]]
                ax.hist(vals, bins=bins, histtype="step", weights=np.full(len(vals), 1 / len(vals)), label=n, lw=1.5)
        ax.set_xscale("log" if log else "linear")
        ax.set_title(title)
        ax.set_ylabel("fraction of nets")
    axes[0, 0].legend()
    ops = list(OPS)
    ax = axes[1, 1]
    width = 0.8 / len(names)
    for k, n in enumerate(names):
        total = Counter()
        for r in by[n]:
            total.update(r.ops)
        s = sum(total.values()) or 1
        ax.bar(np.arange(len(ops)) + k * width, [total[o] / s for o in ops], width, label=n)
    ax.set_xticks(np.arange(len(ops)) + 0.4, ops, rotation=60, ha="right")
    ax.set_title("op frequency in DAG cells (fraction of nodes)")
    ax = axes[1, 2]
    fams = list(arch_zoo.spec.FAMILIES)
    for k, n in enumerate(names):
        c = Counter(r.family for r in by[n])
        ax.bar(np.arange(len(fams)) + k * width, [c[f] / max(1, len(by[n])) for f in fams], width, label=n)
    ax.set_xticks(np.arange(len(fams)) + 0.4, fams)
    ax.set_title("family mix (fraction of nets)")
    ax.legend(fontsize=8)
    fig.suptitle("arch_zoo: per-split distributions (nets that built, ran and traced)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def report(args, rows, real_fwd, steps, b64, hashes, total_s) -> str:
    names = ["train", *EVAL_SPLITS, "real"]
    ok = {n: [r for r in rows if r.split == n and not r.error] for n in names}
    failed = [r for r in rows if r.error]
    train = ok["train"]
    build = [r.build_ms for r in rows if r.split == "train"]
    lines = [
        "# Architecture zoo statistics",
        "",
        *provenance(__file__),
        f"{torch.get_num_threads()} torch thread(s), a shared machine; total run {total_s / 60:.1f} min.",
        "",
        "## Build, forward, trace",
        "",
        "Each net: built, forward in train mode on 2x3x32x32 (finite (2, 10) logits), traced with "
        "`graphparam.trace(model, input_size=(3, 32, 32))` (strict) and the graph owns every parameter.",
        "",
        "| split | nets | failed | params min / median / p90 / max | cells min / med / max "
        "| max width med / max | graph nodes med / max | depth med / max | families |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n in names:
        rs = [r for r in rows if r.split == n]
        if not rs:
            continue
        g = ok[n]
        p = [r.params for r in g]
        fam = Counter(r.family for r in g)
        fam_s = ", ".join(f"{f} {c}" for f, c in fam.most_common())
        cells = "-" if n == "real" else f"{q([r.cells for r in g], 0)} / {q([r.cells for r in g], .5)} / {q([r.cells for r in g], 1)}"
        width = "-" if n == "real" else f"{q([r.width for r in g], .5)} / {q([r.width for r in g], 1)}"
        lines.append(
            f"| {n} | {len(rs)} | {len(rs) - len(g)} | {fmt(q(p, 0))} / {fmt(q(p, .5))} / {fmt(q(p, .9))} / {fmt(q(p, 1))} "
            f"| {cells} | {width} | {q([r.graph_nodes for r in g], .5)} / {q([r.graph_nodes for r in g], 1)} "
            f"| {q([r.depth for r in g], .5)} / {q([r.depth for r in g], 1)} | {fam_s} |"
        )
    lines += ["", f"Failures: {len(failed)}."]
    for r in failed[:20]:
        lines.append(f"- {r.split} {r.name}: `{r.error}`")
    small = sum(r.params < 1_000_000 for r in train)
    lines += [
        "",
        f"Training nets under 1M parameters: {small}/{len(train)} ({100 * small / max(1, len(train)):.1f}%); "
        f"over 10M: {sum(r.params > 10_000_000 for r in train)}.",
        "",
        "## Timing (CPU, 1 thread)",
        "",
        f"- sample + build, per training net ({len(build)} nets): median {statistics.median(build):.1f} ms, "
        f"p90 {q(build, .9):.1f} ms, max {max(build):.1f} ms. Bar <= 50 ms (median): "
        f"{'met' if statistics.median(build) <= 50 else 'NOT met'}.",
        f"- draw + build 8 fresh nets (`train_stream`) per step ({len(steps)} steps): median {statistics.median(steps):.0f} ms, "
        f"p90 {q(steps, .9):.0f} ms, max {max(steps):.0f} ms.",
        f"- `graphparam.trace` per training net: median {statistics.median([r.trace_ms for r in train]):.0f} ms, "
        f"p90 {q([r.trace_ms for r in train], .9):.0f} ms.",
    ]
    if b64:
        f = [t[1] for t in b64]
        fb = [t[2] for t in b64]
        lines += [
            f"- batch {args.batch} train-mode forward, first {len(b64)} training nets: median {statistics.median(f):.0f} ms, "
            f"p90 {q(f, .9):.0f} ms, max {max(f):.0f} ms; forward+backward median {statistics.median(fb):.0f} ms, "
            f"p90 {q(fb, .9):.0f} ms, max {max(fb):.0f} ms (params of these nets: median {fmt(statistics.median([t[0] for t in b64]))}).",
        ]
    n_hits, distinct, per = hashes
    lines += [
        "",
        "## Training stream vs evaluation splits",
        "",
        f"Of training seeds 0..{args.num_hash_check - 1:,}, {n_hits} sample an evaluation net "
        f"({', '.join(f'{k} {v}' for k, v in per.most_common()) or 'none'}); `train_stream` skips them. "
        f"Distinct training specs among these seeds: {distinct:,}.",
        "",
        "## Op vocabulary in training DAG cells",
        "",
    ]
    total = Counter()
    for r in train:
        total.update(r.ops)
    missing = [o for o in OPS if not total[o]]
    lines.append(" ".join(f"`{o}` {total[o]}," for o in OPS).rstrip(","))
    lines += ["", f"Every op used in training: {'yes' if not missing else 'NO, missing ' + ', '.join(missing)}.", ""]
    lines += ["## Real models", "", "| name | source | params | traced | batch-64 forward ms | adaptation |", "|---|---|---|---|---|---|"]
    for r in (r for r in rows if r.split == "real"):
        e = real.REAL_MODELS[r.name]
        fwd = f"{real_fwd[r.name]:.0f}" if r.name in real_fwd else "-"
        lines.append(f"| {r.name} | {e.source} | {fmt(r.params)} | {'yes' if not r.error else 'NO'} | {fwd} | {e.adaptation} |")
    lines += ["", "![zoo distributions](zoo.png)", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-train", type=int, default=10_000, help="training nets to build/forward/trace")
    parser.add_argument("--num-hash-check", type=int, default=100_000, help="training seeds checked against eval hashes")
    parser.add_argument("--steps", type=int, default=200, help="steps of 8 fresh nets to time")
    parser.add_argument("--num-timing", type=int, default=200, help="training nets timed at --batch (0: skip)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--no-eval", action="store_true", help="skip the evaluation splits")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    t0 = time.time()
    x = torch.randn(2, 3, 32, 32)

    rows = run_train(args.num_train, x)
    real_fwd: dict[str, float] = {}
    if not args.no_eval:
        rows += run_eval(x)
        real_rows, real_fwd = run_real(x, args.batch if args.num_timing else 0)
        rows += real_rows
    steps = time_steps(args.steps, 8)
    b64 = time_batch64(args.num_timing, args.batch) if args.num_timing else []
    hashes = hash_check(args.num_hash_check)

    text = report(args, rows, real_fwd, steps, b64, hashes, time.time() - t0)
    write_results(args.out / "zoo", markdown=text, plot=lambda path: plot(rows, path))
    print(text)


if __name__ == "__main__":
    main()
