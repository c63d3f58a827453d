"""Where a meta-training step's time and memory go (issue "Meta-training that learns on every seed").

Runs the library's own ``Trainer`` (defaults unless flags say otherwise) for ``--warmup`` steps, then
profiles ``--steps`` steps with cProfile and reports the inclusive time of each stage of a step, the
step time and the process's peak resident memory:

    python experiments/profile_step.py --steps 20 --out experiments/results/profile_step_before
    python experiments/profile_step.py --steps 20 --out experiments/results/profile_step_after

Stages are functions of the step (building and tracing the drawn nets, collating, the GHN's encoder
and decoder, the nets' forward, backward, the optimizer); their times are cProfile's cumulative times,
which include the profiler's own overhead, so shares are read against the profiled step time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_data_arg, command_line, write_results  # noqa: E402

STAGES = {
    "take nets (build, trace)": ("archs.py", "take"),
    "collate graphs": ("batch.py", "collate"),
    "GHN encoder": ("ghn.py", "encode"),
    "GHN decoder": ("decoder.py", "forward"),
    "nets' forward (functional_call)": ("functional_call.py", "functional_call"),
    "nets: forward and backward": ("objective.py", "net_backward"),
    "GHN backward (from predicted tensors)": ("objective.py", "ghn_backward"),
    "backward (whole)": ("_tensor.py", "backward"),
    "optimizer step": ("optimizer.py", "wrapper"),
    "image batch": ("stream.py", "gather"),
}


def _stage_times(stats: pstats.Stats) -> dict[str, float]:
    out = {}
    for label, (file, func) in STAGES.items():
        total = 0.0
        for (path, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
            if path.endswith(file) and name == func:
                total = max(total, ct)
        if total:
            out[label] = total
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20, help="profiled steps")
    p.add_argument("--warmup", type=int, default=3, help="steps before profiling")
    add_data_arg(p)
    p.add_argument("--out", required=True, help="writes OUT.json and OUT.md")
    p.add_argument("train_flags", nargs="*", help="extra training flags after --, e.g. -- --seed 7")
    args = p.parse_args(argv)

    import torch

    from graphparam.train import Trainer, TrainConfig

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        from graphparam.train.config import add_arguments, from_args, parse_args

        parser = add_arguments(argparse.ArgumentParser())
        flags = ["--steps", str(args.warmup + args.steps), "--eval-every", "0", "--threads", "1",
                 "--out", tmp, "--no-progress", *(["--data", args.data] if args.data else []), *args.train_flags]
        cfg: TrainConfig = from_args(parse_args(parser, flags))
        trainer = Trainer(cfg)
        for _ in range(args.warmup):
            trainer.train_step()
        profiler = cProfile.Profile()
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            profiler.enable()
            trainer.train_step()
            profiler.disable()
            times.append(time.perf_counter() - t0)
        trainer.archs.close()
    stats = pstats.Stats(profiler)
    stages = _stage_times(stats)
    total = sum(times)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    result = {"command": command_line(__file__, argv),
              "config": cfg.to_dict(), "steps": args.steps, "warmup": args.warmup,
              "step_seconds_mean": total / args.steps, "step_seconds": times,
              "stage_seconds_per_step": {k: v / args.steps for k, v in stages.items()},
              "peak_rss_gb": peak_gb, "torch": torch.__version__, "threads": 1}
    lines = ["# Profile of a meta-training step", "",
             f"Command: `{result['command']}` (1 thread; cProfile on, so times include its overhead)", "",
             f"Mean profiled step: **{total / args.steps:.2f} s** over {args.steps} steps after {args.warmup} "
             f"warm-up steps; peak resident memory of the process: **{peak_gb:.2f} GB**.", "",
             "| stage (inclusive) | s / step | share |", "|---|---|---|"]
    for k, v in sorted(stages.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {k} | {v / args.steps:.3f} | {100 * v / total:.0f} % |")
    lines += ["", "Top functions by own time:", "", "```"]
    buf = io.StringIO()
    pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(15)
    lines += [ln for ln in buf.getvalue().splitlines() if ln.strip()][-17:] + ["```", ""]
    write_results(args.out, result, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
