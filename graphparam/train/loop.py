"""The meta-training loop.

One step:

1. take the next M training nets from the stream (built and traced once, cached by hash) and one
   image batch of ``M × batch_size`` images (net i gets the i-th slice of ``batch_size`` images), or
   with ``shared_images`` one batch of ``batch_size`` images that every net sees;
2. this rank's share of the nets (all M on one process) goes through ONE batched GHN call, which
   predicts every parameter of every net;
3. each net runs its images with ``torch.func.functional_call(net, predicted, x)`` in train mode
   (BatchNorm uses batch statistics), and its loss is backpropagated to its predicted tensors at once,
   so one net's activations are alive at a time (:mod:`graphparam.train.objective`, which defines the
   loss: cross-entropy, optionally distillation, body probe, loss cap and parameter penalty);
4. one backward carries the collected gradients through the GHN; AdamW with warmup + cosine,
   global grad-norm clipping; bf16 autocast on CUDA only.

A step whose loss or gradient is not finite (or whose forward raises) is skipped on every rank:
no update, a ``skip`` record naming the nets (seed and hash), the step counter and the streams
still advance. Many consecutive skips stop the run with an error.

Determinism: the global RNG is reseeded from (seed, step, rank) at every step, and the data and
architecture streams are positions in deterministic sequences saved with each checkpoint, so a
run resumed from a checkpoint computes the same losses as an uninterrupted one (bitwise on CPU
with the same thread count).
"""

from __future__ import annotations

import math
import random
import sys
import time
import traceback
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from graphparam.errors import first_line
from graphparam.model.ghn import check_complete
from graphparam.optim import WarmupCosine, decay_groups
from graphparam.train import distributed as D
from graphparam.train.archs import Arch, ArchSource
from graphparam.errors import OutputExistsError, ResumeError
from graphparam.train.checkpoint import atomic_write_text, has_checkpoint, load_resumable, save_checkpoint
from graphparam.train.config import RESUME_KEYS, TrainConfig, format_duration
from graphparam.train.lineage import cost_record
from graphparam.train.metrics import MetricsLog, RunningMean, peak_rss_gb
from graphparam.train.objective import StepSums, ghn_backward, net_backward
from graphparam.train.signals import StopFlag

__all__ = ["Trainer", "TrainResult", "train", "MAX_CONSECUTIVE_SKIPS", "step_seed"]

MAX_CONSECUTIVE_SKIPS = 20


@dataclass
class TrainResult:
    steps: int                 # steps completed (including skipped ones)
    skipped: int               # steps skipped in this process
    stopped_by: str            # "steps", "time_budget", "SIGTERM", "SIGINT"
    last_loss: float | None
    elapsed: float             # training seconds, summed over resumes
    out: Path
    checkpoint: Path | None


def step_seed(seed: int, step: int, rank: int) -> int:
    """The global RNG seed of ``step`` on ``rank`` (a fixed mix; fits in 63 bits)."""
    x = (seed * 0x9E3779B97F4A7C15 + step * 0xBF58476D1CE4E5B9 + rank * 0x94D049BB133111EB) % (1 << 64)
    x ^= x >> 31
    return x % (1 << 63)


def _rng_state() -> dict:
    py = random.getstate()
    npy = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": [py[0], list(py[1]), -1.0 if py[2] is None else py[2]],
        "numpy": [str(npy[0]), torch.from_numpy(npy[1].astype(np.int64)), int(npy[2]), int(npy[3]), float(npy[4])],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    v, internal, gauss = state["python"]
    random.setstate((int(v), tuple(int(i) for i in internal), None if gauss == -1.0 else gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Trainer:
    """Meta-trains a GHN; ``run()`` returns a :class:`TrainResult`.

    ``on_step(trainer, record)`` is called on every rank after every step (tests use it).
    ``sampler`` replaces ``arch_zoo.train_stream`` (a callable ``start -> iterator of (seed, spec)``).
    """

    def __init__(self, config: TrainConfig, info: D.DistInfo | None = None, device: torch.device | None = None,
                 on_step: Callable[["Trainer", dict], None] | None = None, sampler=None, data=None):
        from graphparam.model import GHN, GHNConfig

        self.config = cfg = config
        self.info = info or D.DistInfo()
        self.device = device or D.resolve_device(cfg.device, self.info.local_rank)
        self.on_step = on_step
        if cfg.meta_batch < self.info.world_size:
            raise ValueError(f"meta_batch={cfg.meta_batch} is smaller than the {self.info.world_size} ranks")
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.out = Path(cfg.out)
        self.ckpt_root = self.out / "checkpoints"
        self.amp = cfg.amp and self.device.type == "cuda"

        # model, optimizer, schedule
        torch.manual_seed(cfg.seed)
        if cfg.init_from:
            self.ghn = GHN.from_pretrained(cfg.init_from, device=self.device)
            self.ghn_config = self.ghn.config
            self.parent_training = (self.ghn.pretrained_cfg or {}).get("training")
        else:
            self.ghn_config = GHNConfig.named(cfg.ghn, **cfg.ghn_overrides)
            self.ghn = GHN(self.ghn_config).to(self.device)
            self.parent_training = None
        self.optimizer = torch.optim.AdamW(decay_groups(self.ghn, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.999))
        self.schedule = WarmupCosine(self.optimizer, cfg.lr, cfg.warmup_steps, cfg.steps, cfg.min_lr_ratio)
        self.model = D.wrap(self.ghn, self.info, self.device)

        # data and architectures
        from graphparam.data import BatchStream
        from graphparam.train.data import training_images
        from graphparam.train.validate import Validator

        if data is None:
            data = training_images(cfg.data, cfg.val_images)
        self.train_images, self.val_images = data
        images_per_step = cfg.batch_size * (1 if cfg.shared_images else cfg.meta_batch)
        self.batches = BatchStream(self.train_images, images_per_step, self.device, seed=cfg.seed, augment=True)
        if sampler is None:
            import functools

            from arch_zoo import train_stream

            sampler = functools.partial(train_stream, stream=cfg.stream)
        self.archs = ArchSource(cfg.arch_start, cfg.arch_pool, cfg.max_params, self.device, cfg.cache_size, sampler,
                                cfg.max_output_std, cfg.arch_workers)
        self.validator = Validator(self.val_images, cfg.val_nets if cfg.eval_every else 0, self.device, cfg.amp)
        self.soft_targets = self._soft_targets() if cfg.distill else None

        # progress state
        self.step = 0
        self.elapsed = 0.0
        self.skipped = 0
        self.consecutive_skips = 0
        self.resumed_from: Path | None = None
        self.log = MetricsLog(self.out / "metrics.jsonl", enabled=self.info.is_main)

    def _soft_targets(self) -> torch.Tensor:
        """The distillation teacher's logits for every training image (computed once, un-augmented)."""
        from graphparam.train.teacher import load_teacher, teacher_logits

        start = time.perf_counter()
        teacher, info = load_teacher(self.config.distill)
        logits = teacher_logits(teacher, self.train_images, device=self.device)
        if self.info.is_main:
            top1 = (logits.argmax(1).cpu() == self.train_images.labels).float().mean().item()
            print(f"distillation teacher {info.model} ({self.config.distill}): logits of "
                  f"{len(self.train_images)} training images in {time.perf_counter() - start:.0f}s, "
                  f"train top-1 {100 * top1:.1f}%", file=sys.stderr)
        return logits

    # ---- checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "elapsed": self.elapsed,
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "rng": _rng_state(),
            "archs": self.archs.state_dict(),
            "batches": self.batches.state_dict(),
            "config": self.config.to_json(indent=None),
            "world_size": self.info.world_size,
        }

    def pretrained_cfg(self) -> dict:
        """What a GHN saved by this run was trained on, for its checkpoint's ``pretrained_cfg``."""
        from graphparam.data.augment import CIFAR10_MEAN, CIFAR10_STD

        cfg = self.config
        training = {"steps": self.step, "seconds": round(self.elapsed, 1),
                    "world_size": self.info.world_size, "device": str(self.device),
                    "threads": torch.get_num_threads(), "stream": cfg.stream,
                    "meta_batch": cfg.meta_batch, "batch_size": cfg.batch_size,
                    "init_from": cfg.init_from, "distill": cfg.distill}
        training.update(cost_record(self.elapsed, self.device.type, training["threads"], self.info.world_size,
                                    self.parent_training))
        if self.parent_training is not None:
            training["parent"] = self.parent_training
        return {"input_size": [3, 32, 32], "num_classes": 10, "mean": list(CIFAR10_MEAN), "std": list(CIFAR10_STD),
                "dataset": self.train_images.name, "batch_norm": "batch statistics (train mode)",
                "training": training}

    def save(self) -> Path | None:
        """Checkpoint now (rank 0 only); returns the checkpoint directory."""
        if not self.info.is_main:
            return None
        self.ghn.pretrained_cfg = self.pretrained_cfg()
        path = save_checkpoint(self.ckpt_root, self.step, self.ghn.save, self.state_dict(),
                               keep=self.config.keep_checkpoints)
        self._last_save = time.monotonic()
        return path

    def resume(self) -> bool:
        """Load the newest readable checkpoint under ``out`` if there is one; returns whether it did.

        A newer checkpoint that cannot be read is named on one line (stderr and a metrics event) and
        the previous one is used; if none reads, :class:`CheckpointError` (never a silent step 0).
        """
        if not has_checkpoint(self.ckpt_root):
            return False
        if not self.config.resume:
            raise OutputExistsError(f"{self.ckpt_root} holds a checkpoint and --no-resume was given; "
                                    "choose another --out or remove it")
        from graphparam.model import GHN

        point = load_resumable(self.ckpt_root, lambda d: GHN.from_pretrained(d, device="cpu"), map_location="cpu",
                               move_aside=self.info.is_main,
                               warn=(lambda line: print(line, file=sys.stderr)) if self.info.is_main else None)
        path, state, loaded = point.path, point.state, point.ghn
        saved = TrainConfig.from_json(state["config"])
        diff = [k for k in RESUME_KEYS if getattr(saved, k) != getattr(self.config, k)]
        if diff:
            raise ResumeError(f"cannot resume {path}: it was trained with different "
                              + ", ".join(f"{k}={getattr(saved, k)!r}" for k in diff)
                              + "; use the same settings or another --out")
        self.ghn.load_state_dict(loaded.state_dict())
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        # the horizon is this run's --steps (None: anneal over the time budget), whatever was saved
        self.schedule.total_steps = None
        if self.config.steps is not None:
            self.schedule.set_total(self.config.steps)
        _set_rng_state(state["rng"])
        self.archs.load_state_dict(state["archs"])
        self.batches.load_state_dict(state["batches"])
        self.step = int(state["step"])
        self.elapsed = float(state["elapsed"])
        self.resumed_from = path
        self.log.truncate_after(self.step)
        for bad, reason in point.skipped:
            self.log.write({"kind": "event", "event": "checkpoint_unreadable", "step": self.step, "path": str(bad),
                            "reason": reason, "resumed_from": str(path)})
        return True

    # ---- one step -----------------------------------------------------------------------------
    def _forward_backward(self, archs: list[Arch], x: torch.Tensor, y: torch.Tensor,
                          soft: torch.Tensor | None = None) -> StepSums:
        """This rank's nets: one batched GHN pass, then each net's loss backpropagated to its predicted
        tensors (:mod:`graphparam.train.objective`), scaled so DDP's gradient average is the mean over all
        M nets; the GHN's own backward is left to the caller. ``soft``: the teacher's logits for ``x``."""
        cfg = self.config
        b = cfg.batch_size
        mine = D.shard(range(len(archs)), self.info)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            predicted = self.model([archs[i].graph for i in mine])
        zero = x.new_zeros((), dtype=torch.float32)
        sums = StepSums(zero, zero, zero, zero)
        for i, params in zip(mine, predicted):
            check_complete(archs[i].param_names, params, f" of net seed {archs[i].seed}")
            part = slice(None) if cfg.shared_images else slice(i * b, (i + 1) * b)
            net_backward(archs[i].net, params, x[part], y[part], sums, i,
                         scale=self.info.world_size / cfg.meta_batch, amp=self.amp, loss_cap=cfg.loss_cap,
                         penalty_weight=cfg.param_penalty, soft=None if soft is None else soft[part],
                         distill_weight=cfg.distill_weight, distill_temperature=cfg.distill_temperature,
                         probe_weight=cfg.probe_weight)
        del predicted
        return sums

    def train_step(self) -> dict:
        """One optimisation step; returns its metrics record (also for skipped steps)."""
        cfg = self.config
        t0 = time.perf_counter()
        archs = self.archs.take(cfg.meta_batch)
        idx = self.batches.next_indices()
        x, y = self.batches.gather(idx)
        soft = None if self.soft_targets is None else self.soft_targets[idx]
        progress = None if cfg.time_budget is None else self.elapsed / cfg.time_budget
        lr = self.schedule.apply(self.step, progress)
        torch.manual_seed(step_seed(cfg.seed, self.step, self.info.rank))
        self.optimizer.zero_grad(set_to_none=True)

        error = None
        try:
            sums = self._forward_backward(archs, x, y, soft)
            bad_local = not sums.finite
        except (RuntimeError, ValueError, torch.cuda.OutOfMemoryError) as exc:  # a net or the GHN failed
            error = first_line(exc)
            traceback.print_exc(file=sys.stderr)
            sums, bad_local = None, True
        # one all-reduce: loss sums, correct count, "skip" flag, and which nets had a non-finite loss
        zero = torch.zeros((), device=self.device)
        net_bad = torch.zeros(cfg.meta_batch, device=self.device)
        for i, ce in (sums.per_net if sums else []):
            net_bad[i] = float(not bool(torch.isfinite(ce)))
        stats = torch.cat([torch.stack([
            sums.ce_sum.float() if sums else zero, sums.pen_sum.float() if sums else zero,
            sums.correct.float() if sums else zero, torch.as_tensor(float(bad_local), device=self.device),
            sums.probe_sum.float() if sums else zero]), net_bad])
        D.all_reduce(stats, self.info)
        ce_sum, pen_sum, correct, bad, probe_sum = stats[:5].tolist()

        grad_norm = float("nan")
        reason = None
        if bad > 0:
            reason = error or "non-finite loss"
            bad_nets = [archs[i] for i, flag in enumerate(stats[5:].tolist()) if flag > 0]
        else:
            ghn_backward(sums)
            params = [p for p in self.ghn.parameters() if p.grad is not None]
            max_norm = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
            if math.isfinite(grad_norm):
                self.optimizer.step()
            else:
                reason, bad_nets = "non-finite gradient", []
        self.optimizer.zero_grad(set_to_none=True)
        del sums

        self.step += 1
        dt = time.perf_counter() - t0
        m = cfg.meta_batch
        record = {"kind": "train", "step": self.step, "lr": lr, "time": dt,
                  "archs_per_s": m / dt, "images_per_s": m * cfg.batch_size / dt,
                  "seeds": [a.seed for a in archs]}
        if reason is None:
            self.consecutive_skips = 0
            record.update(loss=(ce_sum + cfg.param_penalty * pen_sum) / m, ce=ce_sum / m, penalty=pen_sum / m,
                          acc=correct / (m * cfg.batch_size), grad_norm=grad_norm)
            if cfg.probe_weight:
                record["probe"] = probe_sum / m
        else:
            self.skipped += 1
            self.consecutive_skips += 1
            record.update(kind="skip", reason=reason, ce=ce_sum / m if math.isfinite(ce_sum) else ce_sum,
                          grad_norm=grad_norm,
                          nets=[a.describe() for a in archs], bad_nets=[a.describe() for a in bad_nets])
        return record

    # ---- the run ------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        """Resume if ``out`` holds a checkpoint, train, finish; the writing rank holds ``out/.lock``
        throughout, so a second trainer on the same ``out`` stops at once with :class:`RunLockedError`."""
        from graphparam.train.lock import RunLock

        with RunLock(self.out) if self.info.is_main else nullcontext():
            try:
                return self._run()
            finally:
                self.archs.close()

    def _run(self) -> TrainResult:
        cfg = self.config
        main = self.info.is_main
        if main:
            self.out.mkdir(parents=True, exist_ok=True)
        resumed = self.resume()
        if cfg.steps is not None:
            self.schedule.set_total(cfg.steps)
        if main:
            atomic_write_text(self.out / "config.json", cfg.to_json() + "\n")
            self.log.write({"kind": "event", "event": "resume" if resumed else "start", "step": self.step,
                            "checkpoint": str(self.resumed_from) if resumed else None,
                            "world_size": self.info.world_size, "device": str(self.device),
                            "ghn_parameters": self.ghn.num_parameters(), "threads": torch.get_num_threads(),
                            "train_images": len(self.train_images), "wall_time": time.time()})
        bar = self._progress_bar() if main and cfg.progress else None
        loss_avg, acc_avg = RunningMean(0.9), RunningMean(0.9)
        self._last_save = time.monotonic()
        session_start = time.perf_counter()
        elapsed_at_start = self.elapsed
        stopped_by, last_loss, path = "steps", None, None
        with StopFlag() as stop:
            while True:
                if cfg.steps is not None and self.step >= cfg.steps:
                    stopped_by = "steps"
                    break
                record = self.train_step()
                self.elapsed = elapsed_at_start + (time.perf_counter() - session_start)
                record["elapsed"] = self.elapsed
                if record["kind"] == "train":
                    last_loss = record["loss"]
                    loss_avg.update(record["loss"])
                    acc_avg.update(record["acc"])
                if main:
                    if record["kind"] == "skip":
                        print(f"step {self.step}: skipped ({record['reason']}); nets "
                              + ", ".join(f"seed {n['seed']} {n['hash'][:12]}" for n in
                                          (record["bad_nets"] or record["nets"])), file=sys.stderr)
                        self.log.write(record)
                    elif cfg.log_every and self.step % cfg.log_every == 0:
                        self.log.write(record)
                if self.on_step is not None:
                    self.on_step(self, record)
                if self.consecutive_skips >= MAX_CONSECUTIVE_SKIPS:
                    raise RuntimeError(f"{self.consecutive_skips} consecutive steps skipped; see "
                                       f"{self.out / 'metrics.jsonl'} for the nets involved")
                if cfg.eval_every and self.step % cfg.eval_every == 0 and main and self.validator.enabled:
                    self._validate(bar)

                # control: the same decision on every rank
                # (rank 0's clock decides the budget; the learning rate follows rank 0's elapsed time
                # only approximately on other ranks, so keep them in step: use rank 0's elapsed)
                over = cfg.time_budget is not None and self.elapsed >= cfg.time_budget
                ctrl = torch.tensor([float(bool(stop)), float(over and main), self.elapsed if main else 0.0],
                                    dtype=torch.float64)
                if self.info.enabled:
                    ctrl = ctrl.to(self.device)
                D.all_reduce(ctrl, self.info)
                stop_any, over_any, self.elapsed = (float(v) for v in ctrl.tolist())

                if bar is not None:
                    bar.update(1)
                    postfix = {"loss": loss_avg.value, "acc": acc_avg.value,
                               "archs/s": record["archs_per_s"], "img/s": record["images_per_s"]}
                    bar.set_postfix({k: f"{v:.3g}" for k, v in postfix.items() if v is not None}, refresh=False)
                if stop_any:
                    stopped_by = stop.name or "signal"
                    break
                if over_any:
                    stopped_by = "time_budget"
                    break
                if main and ((cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0) or (
                        cfg.checkpoint_minutes > 0
                        and time.monotonic() - self._last_save >= 60 * cfg.checkpoint_minutes)):
                    path = self.save()
                    self.log.write({"kind": "event", "event": "checkpoint", "step": self.step, "path": str(path)})
            # a run that ends on its own (not on a signal: someone wants out) is validated at its last step
            if (stopped_by in ("steps", "time_budget") and cfg.eval_every and main and self.validator.enabled
                    and self.step % cfg.eval_every and self.step > 0):
                self._validate(bar, final=True)
            if bar is not None:
                bar.close()
            path = self.finish(stopped_by)
        return TrainResult(self.step, self.skipped, stopped_by, last_loss, self.elapsed, self.out, path)

    def _validate(self, bar, final: bool = False) -> None:
        from graphparam.train.validate import describe_val

        val = self.validator(self.ghn)
        self.log.write({"kind": "val", "step": self.step, **val, **({"final": True} if final else {})})
        if bar is not None:
            bar.write(describe_val(self.step, val))

    def finish(self, stopped_by: str) -> Path | None:
        """Final checkpoint, exported GHN, curves (rank 0)."""
        if not self.info.is_main:
            return None
        path = self.save()
        self.ghn.save(self.out / "ghn")
        if self.config.export:
            self.ghn.save(self.config.export)
        self.log.write({"kind": "event", "event": "stop", "step": self.step, "reason": stopped_by,
                        "elapsed": self.elapsed, "checkpoint": str(path), "wall_time": time.time(),
                        "peak_rss_gb": peak_rss_gb(), "process_cpu_s": time.process_time()})
        self.log.close()
        try:
            from graphparam.train.plot import plot_curves

            plot_curves(self.out / "metrics.jsonl", self.out / "curves.png",
                        title=f"GHN '{self.config.ghn}' meta-training, M={self.config.meta_batch}, "
                              f"batch {self.config.batch_size}")
        except Exception as exc:  # a plot must never lose a finished run
            print(f"warning: could not plot curves: {exc}", file=sys.stderr)
        print(f"stopped after step {self.step} ({stopped_by}), {format_duration(self.elapsed)} of training; "
              f"checkpoint {path}; GHN saved to {self.out / 'ghn'}"
              + (f" and {self.config.export}" if self.config.export else ""), file=sys.stderr)
        return path

    def _progress_bar(self):
        from tqdm.auto import tqdm

        total = self.config.steps or self.schedule.total_steps
        tty = sys.stderr.isatty()
        return tqdm(total=total, initial=self.step, desc="meta-train", unit="step", dynamic_ncols=True,
                    mininterval=0.5 if tty else 30.0, file=sys.stderr)


def train(config: TrainConfig, **kwargs) -> TrainResult:
    """Run ``config`` in this process, joining torchrun's process group when launched by it."""
    info, device = D.setup(config.device)
    try:
        return Trainer(config, info, device, **kwargs).run()
    finally:
        D.teardown()
