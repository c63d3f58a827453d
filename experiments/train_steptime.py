"""Step time of GHN meta-training next to plain training of the same nets, on this machine.

For each of ``--groups`` groups of M consecutive nets of ``arch_zoo.train_stream`` (M=8, 64 images
per net by default), in one process:

* ``ghn cold``: ``Trainer.train_step`` when the nets are new (build + trace + GHN prediction +
  functional forward/backward of every net + AdamW on the GHN), what the training loop pays for
  each step of the endless stream;
* ``ghn warm``: the same step again with the nets cached (no build/trace), split into its parts;
* ``plain``: ordinary training of the same nets with their own parameters: forward, backward and
  an AdamW step for each net on its own 64 images (BatchNorm in train mode), nets already built.

Each warm / plain measurement is repeated ``--repeats`` times; the table reports medians.
Writes ``experiments/results/train_steptime.md`` (and ``.json``).

    python experiments/train_steptime.py --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command_line  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _group_sampler(groups):
    """A train_stream stand-in that replays the given (seed, spec) groups, then repeats them."""
    flat = [item for g in groups for item in g]

    def sampler(start):
        i = 0
        while True:
            yield flat[i % len(flat)]
            i += 1

    return sampler


def _params(spec) -> int:
    with torch.device("meta"):
        return sum(q.numel() for q in spec.build().parameters())


def _now():
    return time.perf_counter()


def _cpu():
    return time.process_time()


def ghn_breakdown(trainer, archs, x, y):
    """CPU seconds of the parts of one warm GHN step (same arithmetic as Trainer._forward)."""
    from graphparam.evaluate import logits_of
    from graphparam.train.objective import param_penalty as _param_penalty

    cfg = trainer.config
    b = cfg.batch_size
    t = {}
    trainer.optimizer.zero_grad(set_to_none=True)
    t0 = _cpu()
    batch = trainer.ghn.collate([a.graph for a in archs])
    t["collate"] = _cpu() - t0
    t0 = _cpu()
    predicted = trainer.ghn(batch)
    t["ghn forward"] = _cpu() - t0
    t0 = _cpu()
    loss = 0.0
    for i, (a, params) in enumerate(zip(archs, predicted)):
        out = logits_of(torch.func.functional_call(a.net, params, (x[i * b:(i + 1) * b],)))
        loss = loss + F.cross_entropy(out.float(), y[i * b:(i + 1) * b]) + cfg.param_penalty * _param_penalty(params)
    loss = loss / len(archs)
    t["nets forward"] = _cpu() - t0
    t0 = _cpu()
    loss.backward()
    t["backward (nets + GHN)"] = _cpu() - t0
    t0 = _cpu()
    torch.nn.utils.clip_grad_norm_(trainer.ghn.parameters(), cfg.grad_clip)
    trainer.optimizer.step()
    trainer.optimizer.zero_grad(set_to_none=True)
    t["clip + AdamW"] = _cpu() - t0
    return t


def plain_step(nets, optimizer, x, y, b):
    """CPU seconds of forward, backward and AdamW of every net on its own batch, with its own parameters."""
    t = {}
    optimizer.zero_grad(set_to_none=True)
    t0 = _cpu()
    losses = []
    for i, net in enumerate(nets):
        out = net(x[i * b:(i + 1) * b])
        out = out[0] if isinstance(out, (tuple, list)) else out
        losses.append(F.cross_entropy(out.float(), y[i * b:(i + 1) * b]))
    loss = torch.stack(losses).mean()
    t["forward"] = _cpu() - t0
    t0 = _cpu()
    loss.backward()
    t["backward"] = _cpu() - t0
    t0 = _cpu()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    t["AdamW"] = _cpu() - t0
    return t


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ghn", default="small")
    p.add_argument("--max-params", type=int, default=None, help="only nets with at most this many parameters")
    p.add_argument("-M", "--meta-batch", type=int, default=8)
    p.add_argument("-b", "--batch-size", type=int, default=64)
    p.add_argument("--groups", type=int, default=3, help="groups of M nets (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data", default=None, help="CIFAR-10 source (default: the shared copy)")
    p.add_argument("--out", default=str(RESULTS / "train_steptime"), help="writes OUT.md and OUT.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    code = _git_state()  # at the start: the code this process imports
    import arch_zoo
    from graphparam.train import TrainConfig, Trainer
    from graphparam.train.data import training_images

    m, b = args.meta_batch, args.batch_size
    stream = arch_zoo.train_stream()
    if args.max_params is not None:
        stream = ((seed, spec) for seed, spec in stream if _params(spec) <= args.max_params)
    groups = [[next(stream) for _ in range(m)] for _ in range(args.groups)]
    data = training_images(args.data, 0)
    cfg = TrainConfig(ghn=args.ghn, meta_batch=m, batch_size=b, steps=10 ** 6, out="/tmp/unused-steptime",
                      val_images=0, eval_every=0, progress=False, device="cpu", threads=args.threads)
    trainer = Trainer(cfg, sampler=_group_sampler(groups), data=data)
    print(f"GHN {args.ghn}: {trainer.ghn.num_parameters():,} parameters; {torch.get_num_threads()} threads",
          file=sys.stderr)

    rows = []
    for gi, group in enumerate(groups):
        t0, c0 = _now(), time.process_time()
        trainer.train_step()          # cold: builds and traces the group's nets
        cold, cold_cpu = _now() - t0, time.process_time() - c0
        archs = [trainer.archs.cache._items[spec.hash] for _, spec in group]
        x, y = next(trainer.batches)
        warm_total, warm_cpu, warm_parts = [], [], []
        for _ in range(args.repeats):
            t0, c0 = _now(), time.process_time()
            parts = ghn_breakdown(trainer, archs, x, y)
            warm_total.append(_now() - t0)
            warm_cpu.append(time.process_time() - c0)
            warm_parts.append(parts)
        nets = [a.net for a in archs]
        originals = [{k: v.detach().clone() for k, v in net.state_dict().items()} for net in nets]
        opt = torch.optim.AdamW([q for net in nets for q in net.parameters()], lr=1e-3)
        plain_total, plain_cpu, plain_parts = [], [], []
        for _ in range(args.repeats):
            t0, c0 = _now(), time.process_time()
            parts = plain_step(nets, opt, x, y, b)
            plain_total.append(_now() - t0)
            plain_cpu.append(time.process_time() - c0)
            plain_parts.append(parts)
        for net, sd in zip(nets, originals):   # leave the cached nets as they were
            net.load_state_dict(sd)
        med = lambda xs: statistics.median(xs)  # noqa: E731
        row = {
            "group": gi, "seeds": [s for s, _ in group], "families": [spec.to_dict().get("family") for _, spec in group],
            "net_params": [a.num_params for a in archs], "graph_nodes": [len(a.graph) for a in archs],
            "ghn_cold_s": cold, "ghn_warm_s": med(warm_total), "plain_s": med(plain_total),
            "ghn_cold_cpu_s": cold_cpu, "ghn_warm_cpu_s": med(warm_cpu), "plain_cpu_s": med(plain_cpu),
            "ghn_parts_s": {k: med([p[k] for p in warm_parts]) for k in warm_parts[0]},
            "plain_parts_s": {k: med([p[k] for p in plain_parts]) for k in plain_parts[0]},
            "ghn_warm_all_s": warm_total, "plain_all_s": plain_total,
        }
        rows.append(row)
        print(f"group {gi}: ghn cold {cold:.2f}s, warm {row['ghn_warm_s']:.2f}s, plain {row['plain_s']:.2f}s; "
              f"CPU s: cold {cold_cpu:.2f}, warm {row['ghn_warm_cpu_s']:.2f}, plain {row['plain_cpu_s']:.2f} "
              f"({row['ghn_parts_s']})", file=sys.stderr)

    load = os.getloadavg()
    meta = {"max_params": args.max_params, "command": command_line(__file__, argv),
            "ghn": args.ghn, "ghn_parameters": trainer.ghn.num_parameters(), "meta_batch": m, "batch_size": b,
            "threads": torch.get_num_threads(), "torch": torch.__version__, "cpu": _cpu_name(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "load_average_after": [round(v, 2) for v in load], "code": code}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "groups": rows}, indent=1) + "\n")
    out.with_suffix(".md").write_text(_markdown(meta, rows))
    print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.json')}", file=sys.stderr)
    return 0


def _git_state() -> str:
    """HEAD commit, and whether the code this run imports differs from it (others edit the tree)."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "graphparam", "arch_zoo"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.split("\n")
        dirty = sorted(line[3:] for line in dirty if line.strip() and not line[3:].startswith("graphparam/train"))
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (f" with uncommitted changes in {', '.join(dirty)}" if dirty else " (clean)")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _markdown(meta: dict, rows: list[dict]) -> str:
    m, b = meta["meta_batch"], meta["batch_size"]
    mean = lambda key: statistics.fmean(r[key] for r in rows)  # noqa: E731
    lines = [
        "# Meta-training step time vs plain training (CPU)",
        "",
        f"Command: `{meta['command']}`",
        "",
        f"Machine: {meta['cpu']}, {meta['cpu_count']} cores visible, {meta['threads']} torch threads, "
        f"torch {meta['torch']}, Python {meta['python']}, code at {meta['code']}. Load average right after the run: "
        f"{', '.join(map(str, meta['load_average_after']))} (the cores are shared with other jobs, so "
        "absolute times are noisy; ratios within a group are measured back to back).",
        "",
        f"GHN `{meta['ghn']}` ({meta['ghn_parameters']:,} parameters); M = {m} nets per step, {b} images per net "
        f"({m * b} images per step). Each group is {m} consecutive nets of `arch_zoo.train_stream()`"
        + (f" with at most {meta['max_params']:,} parameters" if meta["max_params"] else "") + ". "
        "`ghn cold` = one `Trainer.train_step` on nets never seen (includes building and tracing them); "
        "`ghn warm` = the same nets cached; `plain` = forward + backward + AdamW of the same nets with their own "
        "parameters on the same images. Medians of repeats.",
        "",
        "CPU seconds (`time.process_time`, all threads of the process) are less sensitive to other jobs than wall "
        "seconds (which include waiting for the cores), but still vary between runs on shared cores (the plain step of group 0 "
        "took 1.78 CPU s in one run of this script and 0.99 in the next); compare GHN and plain within a group.",
        "",
        "| group | seeds | net params (min-max) | ghn cold CPU s | ghn warm CPU s | plain CPU s | warm / plain (CPU) "
        "| ghn cold wall s | ghn warm wall s | plain wall s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['group']} | {r['seeds'][0]}..{r['seeds'][-1]} | {min(r['net_params']):,}-"
                     f"{max(r['net_params']):,} | {r['ghn_cold_cpu_s']:.2f} | {r['ghn_warm_cpu_s']:.2f} | "
                     f"{r['plain_cpu_s']:.2f} | {r['ghn_warm_cpu_s'] / r['plain_cpu_s']:.2f} | {r['ghn_cold_s']:.2f} | "
                     f"{r['ghn_warm_s']:.2f} | {r['plain_s']:.2f} |")
    lines.append(f"| mean | | | {mean('ghn_cold_cpu_s'):.2f} | {mean('ghn_warm_cpu_s'):.2f} | {mean('plain_cpu_s'):.2f} | "
                 f"{mean('ghn_warm_cpu_s') / mean('plain_cpu_s'):.2f} | {mean('ghn_cold_s'):.2f} | "
                 f"{mean('ghn_warm_s'):.2f} | {mean('plain_s'):.2f} |")
    lines += ["", f"Throughput per CPU-second (mean over groups): GHN warm {m / mean('ghn_warm_cpu_s'):.2f} archs, "
              f"{m * b / mean('ghn_warm_cpu_s'):.0f} images; GHN cold {m / mean('ghn_cold_cpu_s'):.2f} archs; "
              f"plain {m / mean('plain_cpu_s'):.2f} archs, {m * b / mean('plain_cpu_s'):.0f} images.", "",
              "Parts of the warm GHN step (CPU seconds, median of repeats):", "",
              "| group | " + " | ".join(rows[0]["ghn_parts_s"]) + " |",
              "|---|" + "---|" * len(rows[0]["ghn_parts_s"])]
    for r in rows:
        lines.append(f"| {r['group']} | " + " | ".join(f"{v:.2f}" for v in r["ghn_parts_s"].values()) + " |")
    lines += ["", "Parts of the plain step (CPU seconds, median of repeats):", "", "| group | " + " | ".join(rows[0]["plain_parts_s"]) + " |",
              "|---|" + "---|" * len(rows[0]["plain_parts_s"])]
    for r in rows:
        lines.append(f"| {r['group']} | " + " | ".join(f"{v:.2f}" for v in r["plain_parts_s"].values()) + " |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
