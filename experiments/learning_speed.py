"""How fast do different parameterizations learn CIFAR-10, on one net and across fresh nets?

    python experiments/learning_speed.py            # writes experiments/results/learning_speed.{json,md}

Diagnoses why meta-training on this CPU stays at chance. Every variant trains with Adam (lr 1e-3), one
batch of 64 augmented training images per step, batch-statistics BatchNorm, and reports the mean training
loss/accuracy of the last 25 steps (each batch is seen before the update, so on fresh nets this is a
zero-shot accuracy):

* ``one net``: the same training net (the first of ``arch_zoo.train_stream`` under 150k parameters) every
  step, parameterized as
  - ``direct``: the net's own tensors (plain training);
  - ``normalized``: free tensors through the GHN's operation-dependent normalization (fan-in std,
    bounded norm scales and shifts);
  - (``low-rank 32``, free rank-32 factors, is retired with the low-rank decoder: see git 686753c)
  - ``GHN small``: an untrained GHN predicting the net's parameters.
* ``fresh nets``: a new training net every step (the meta-training setting):
  - ``GHN small``; ``GHN small, loss cap 10``: the same with ``graphparam.train.objective.capped_loss``
    (a loss above 10 contributes the gradient of a loss of 10);
  - ``shared by shape``: a weight-sharing supernet, one free tensor per (transform, shape), through the
    same normalization: the simplest possible cross-net learner (shapes rarely repeat across nets);
  - ``sliced supernet``: a slimmable supernet, one 512-wide tensor per (transform, kernel size), each net
    taking its leading slice: weight sharing across every net.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from graphparam.model import GHNConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command_line  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULTS = GHNConfig()  # the GHN's default bounds on norm scales, shifts and layer scales


def _vector(p, spec):
    from graphparam.model.normalize import TRANSFORM_INDEX, vector_transform

    c = DEFAULTS
    return vector_transform(p, torch.full(spec.shape, TRANSFORM_INDEX[spec.rule.transform]), c.scale_bound,
                            c.shift_bound, c.layer_scale_init)


def _standardized(p, spec):
    return (p - p.mean()) / (p.std() + 1e-6) * spec.rule.base_std


class Sliced(torch.nn.Module):
    """A slimmable weight-sharing supernet: one ``max_width``-sized tensor per (transform, kernel size, number
    of dims); a net's tensor is its leading slice (indices beyond ``max_width`` wrap around)."""

    def __init__(self, max_width: int = 512):
        super().__init__()
        self.max_width = max_width
        self.bank = torch.nn.ParameterDict()

    @staticmethod
    def key(spec) -> str:
        return f"{spec.rule.transform}_{spec.rule.kernel[0]}x{spec.rule.kernel[1]}_{len(spec.shape)}"

    def new_params(self, specs) -> list[torch.nn.Parameter]:
        new = []
        for spec in specs:
            k = self.key(spec)
            if k not in self.bank:
                kk = spec.rule.kernel[0] * spec.rule.kernel[1]
                shape = (self.max_width, self.max_width * kk) if spec.rule.mode == "matrix" else (self.max_width,)
                self.bank[k] = torch.nn.Parameter(torch.randn(shape) * (1.0 if spec.rule.mode == "matrix" else 0.01))
                new.append(self.bank[k])
        return new

    def params_for(self, specs) -> dict[str, torch.Tensor]:
        out = {}
        for spec in specs:
            p = self.bank[self.key(spec)]
            rows = torch.arange(spec.rule.rows) % self.max_width
            if spec.rule.mode != "matrix":
                out[spec.name] = _vector(p[rows].reshape(spec.shape), spec)
                continue
            kk = spec.rule.kernel[0] * spec.rule.kernel[1]
            cols = ((torch.arange(spec.rule.cols) % self.max_width)[:, None] * kk + torch.arange(kk)).reshape(-1)
            out[spec.name] = _standardized(p[rows][:, cols].reshape(spec.shape), spec)
        return out


class Free(torch.nn.Module):
    """Free tensors per slot (``key`` decides which slots share one), through the GHN's normalization."""

    def __init__(self, key):
        super().__init__()
        self.key = key
        self.bank = torch.nn.ParameterDict()

    def new_params(self, specs) -> list[torch.nn.Parameter]:
        new = []
        for spec in specs:
            k = self.key(spec)
            if k in self.bank:
                continue
            if spec.rule.mode != "matrix":
                self.bank[k] = torch.nn.Parameter(torch.randn(spec.shape) * 0.01)
            else:
                self.bank[k] = torch.nn.Parameter(torch.randn(spec.shape))
            new.append(self.bank[k])
        return new

    def params_for(self, specs) -> dict[str, torch.Tensor]:
        out = {}
        for spec in specs:
            p = self.bank[self.key(spec)]
            if spec.rule.mode != "matrix":
                out[spec.name] = _vector(p, spec)
            else:
                out[spec.name] = _standardized(p, spec)
        return out


def run_variant(name: str, archs, stream, steps: int, lr: float) -> dict:
    from graphparam.evaluate import logits_of
    from graphparam.model import GHN
    from graphparam.model.batch import prepare

    torch.manual_seed(0)
    from graphparam.train.objective import StepSums, capped_loss, ghn_backward, net_backward

    ghn = GHN(GHNConfig.named("small")) if name.startswith("GHN") else None
    cap = 10.0 if "loss cap" in name else 0.0
    shapes = lambda s: f"{s.rule.transform}_{'x'.join(map(str, s.shape))}"  # noqa: E731
    by_name = lambda s: s.name.replace(".", "/")  # noqa: E731  (ParameterDict keys cannot hold dots)
    free = {"normalized": Free(by_name), 
            "shared by shape": Free(shapes), "sliced supernet": Sliced()}.get(name)
    if name == "direct":
        params = [p for a in archs[:1] for p in a.net.parameters()]
    elif ghn is not None:
        params = list(ghn.parameters())
    else:
        params = free.new_params(prepare(archs[0].graph).slots)
    opt = torch.optim.Adam(params, lr=lr)
    losses, accs = [], []
    start = time.perf_counter()
    for step in range(steps):
        arch = archs[step % len(archs)]
        x, y = next(stream)
        if name == "direct":
            out = logits_of(arch.net(x))
            loss = F.cross_entropy(out, y)
            opt.zero_grad()
            capped_loss(loss, cap).backward()
            correct = (out.argmax(1) == y).sum()
        else:
            if ghn is not None:
                predicted = ghn([arch.graph])[0]
            else:
                specs = prepare(arch.graph).slots  # decoding layouts, cached on the graph
                new = free.new_params(specs)
                if new:
                    opt.add_param_group({"params": new})
                predicted = free.params_for(specs)
            opt.zero_grad()
            sums = StepSums(*torch.zeros(4))
            net_backward(arch.net, predicted, x, y, sums, 0, scale=1.0, amp=False, loss_cap=cap)
            ghn_backward(sums)
            loss, correct = sums.ce_sum, sums.correct
        opt.step()
        losses.append(loss.item())
        accs.append(correct.item() / len(y))
    tail = slice(-25, None)
    return {"variant": name, "nets": len(archs), "steps": steps, "loss_last25": sum(losses[tail]) / 25,
            "acc_last25": sum(accs[tail]) / 25, "loss_first25": sum(losses[:25]) / 25,
            "acc_first25": sum(accs[:25]) / 25, "seconds": round(time.perf_counter() - start, 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=150, help="steps of the one-net runs")
    p.add_argument("--fresh-steps", type=int, default=300, help="steps (= fresh nets) of the cross-net runs")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--fresh-variants", nargs="+", default=["GHN small", "shared by shape", "sliced supernet"])
    p.add_argument("--skip-one-net", action="store_true")
    p.add_argument("--out", default=str(RESULTS / "learning_speed"), help="output stem")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from graphparam.data import BatchStream, load_dataset
    from graphparam.train.archs import ArchSource

    data = load_dataset(args.data, "train")
    archs = ArchSource(max_params=150_000).take(max(args.fresh_steps, 1))
    rows = []
    for setting, nets, steps, variants in (
            ("one net", archs[:1], args.steps,
             () if args.skip_one_net else ("direct", "normalized", "GHN small")),
            ("fresh nets", archs, args.fresh_steps, tuple(args.fresh_variants))):
        for name in variants:
            stream = BatchStream(data, 64, seed=0)
            row = run_variant(name, nets, stream, steps, args.lr) | {"setting": setting}
            rows.append(row)
            print(f"{setting:10s} {name:16s} acc first25 {100 * row['acc_first25']:.1f}% last25 "
                  f"{100 * row['acc_last25']:.1f}%  loss last25 {row['loss_last25']:.3f}  ({row['seconds']}s)",
                  file=sys.stderr, flush=True)
    command = command_line(__file__, argv)
    stem = Path(args.out)
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps({"command": command.strip(), "rows": rows}, indent=1))
    lines = ["# Learning speed of parameterizations (diagnosis of slow meta-training)", "",
             f"Command: `{command.strip()}` (1 CPU thread, shared cores)", "",
             "Adam lr %g, batch 64, training-set accuracy of the batches *before* each update, mean of the first "
             "and last 25 steps. See the script's docstring for the variants." % args.lr, "",
             "| setting | variant | steps | acc first 25 % | acc last 25 % | loss last 25 | seconds |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['setting']} | {r['variant']} | {r['steps']} | {100 * r['acc_first25']:.1f} | "
                     f"{100 * r['acc_last25']:.1f} | {r['loss_last25']:.3f} | {r['seconds']} |")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
