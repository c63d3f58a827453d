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
   loss: cross-entropy, optionally on standardized logits, and a parameter penalty);
4. one backward carries the collected gradients through the GHN; AdamW with warmup + cosine,
   global grad-norm clipping; bf16 autocast on CUDA only.

A step whose loss or gradient is not finite (or whose forward raises) is skipped on every rank:
no update, a ``skip`` record naming the nets (seed and hash), the step counter and the streams
still advance. Many consecutive skips stop the run with an error.

Determinism: the global RNG is reseeded from (seed, step, rank) at every step (:mod:`graphparam.train.rng`),
and the data and architecture streams are positions in deterministic sequences saved with each checkpoint,
so a run resumed from a checkpoint computes the same losses as an uninterrupted one (bitwise on CPU with the
same thread count). What the run writes about itself (config, metrics, events, curves) is its
:class:`~graphparam.train.record.RunRecord`.
"""

from __future__ import annotations

import math
import sys
import time
import traceback
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import torch

from graphparam.errors import OutputExistsError, ResumeError, first_line
from graphparam.optim import WarmupCosine, decay_groups
from graphparam.pretrained_cfg import PretrainedCfg
from graphparam.train import distributed as D
from graphparam.train.archs import ArchSource
from graphparam.train.checkpoint import has_checkpoint, load_resumable, save_checkpoint
from graphparam.train.config import TrainConfig, format_duration, trajectory_changes
from graphparam.train.lineage import cost_record, training_of
from graphparam.train.objective import ghn_backward, reduce_sums, step_backward
from graphparam.train.progress import ProgressBar
from graphparam.train.record import RunRecord
from graphparam.train.rng import rng_state, set_rng_state, step_seed
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
            self.ghn = GHN.from_pretrained(cfg.init_from, device=self.device, config_overrides=cfg.ghn_overrides)
            self.ghn_config = self.ghn.config
            self.parent_training = training_of(self.ghn.pretrained_cfg)
        else:
            self.ghn_config = GHNConfig.named(cfg.ghn, **cfg.ghn_overrides)
            self.ghn = GHN(self.ghn_config).to(self.device)
            self.parent_training = None
        self.optimizer = torch.optim.AdamW(decay_groups(self.ghn, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.999))
        self.schedule = WarmupCosine(self.optimizer, cfg.lr, cfg.warmup_steps, cfg.steps, cfg.min_lr_ratio)
        self.model = D.wrap(self.ghn, self.info, self.device)

        # data and architectures
        from graphparam.data import BatchStream
        from graphparam.train.data import data_cfg, training_images
        from graphparam.train.validate import Validator

        if data is None:
            data = training_images(cfg.data, cfg.val_images)
        self.train_images, self.val_images = data
        images_per_step = cfg.batch_size * (1 if cfg.shared_images else cfg.meta_batch)
        self.batches = BatchStream(self.train_images, images_per_step, self.device, seed=cfg.seed, augment=True)
        self.data_cfg = data_cfg(self.train_images, self.batches.mean, self.batches.std)
        if cfg.desaturate:
            self._desaturate(cfg.desaturate)
        if sampler is None:
            import functools

            from arch_zoo import train_stream

            sampler = functools.partial(train_stream, stream=cfg.stream)
        self.archs = ArchSource(cfg.arch_start, cfg.arch_pool, cfg.max_params, self.device, cfg.cache_size, sampler,
                                cfg.max_output_std, cfg.arch_workers, num_classes=self.data_cfg.num_classes,
                                input_size=self.data_cfg.input_size)
        self.validator = Validator(self.val_images, cfg.val_nets if cfg.eval_every else 0, self.device, cfg.amp)

        # progress state
        self.step = 0
        self.elapsed = 0.0
        self.skipped = 0
        self.consecutive_skips = 0
        self.resumed_from: Path | None = None
        self.record = RunRecord(self.out, enabled=self.info.is_main)

    def _desaturate(self, target: float) -> None:
        """Revive the loaded GHN's bounded read-outs (:func:`graphparam.train.desaturate.desaturate`), measured on
        the first 8 ``val`` nets; on a resume the checkpoint's weights replace the result."""
        from graphparam.train.desaturate import desaturate
        from graphparam.train.validate import val_archs

        archs = val_archs(8, self.device, self.data_cfg.num_classes, self.data_cfg.input_size)
        d = desaturate(self.ghn, [a.graph for a in archs], target)
        if self.info.is_main:
            print(f"desaturated read-outs: vectors median |raw| {d.vector_before:.3g} -> {d.vector_after:.3g}, "
                  f"gains {d.gain_before:.3g} -> {d.gain_after:.3g}", flush=True)

    # ---- checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "elapsed": self.elapsed,
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "rng": rng_state(),
            "archs": self.archs.state_dict(),
            "batches": self.batches.state_dict(),
            "config": self.config.to_json(indent=None),
            "world_size": self.info.world_size,
        }

    def pretrained_cfg(self) -> PretrainedCfg:
        """What a GHN saved by this run was trained on (its data's input size, classes, mean and std) and how
        (``training``: steps, time, cost, settings, and the ``--init-from`` parent's record)."""
        cfg = self.config
        training = {"steps": self.step, "seconds": round(self.elapsed, 1), "clock": cfg.clock,
                    "world_size": self.info.world_size, "device": str(self.device),
                    "threads": torch.get_num_threads(), "stream": cfg.stream,
                    "meta_batch": cfg.meta_batch, "batch_size": cfg.batch_size,
                    "init_from": cfg.init_from}
        threads = 1 if cfg.clock == "cpu" else training["threads"]  # CPU seconds already count every thread
        training.update(cost_record(self.elapsed, self.device.type, threads, self.info.world_size,
                                    self.parent_training))
        if self.parent_training is not None:
            training["parent"] = self.parent_training
        return replace(self.data_cfg, training=training)

    def save(self) -> Path | None:
        """Checkpoint now (rank 0 only); returns the checkpoint directory."""
        if not self.info.is_main:
            return None
        # as its JSON dict: what GHN.save writes, whether or not it takes a PretrainedCfg too
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
        changed = trajectory_changes(TrainConfig.from_json(state["config"]), self.config)
        if changed:
            raise ResumeError(f"cannot resume {path}: it was trained with different {changed}; "
                              "use the same settings or another --out")
        self.ghn.load_state_dict(loaded.state_dict())
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        # the horizon is this run's --steps (None: anneal over the time budget), whatever was saved
        self.schedule.total_steps = None
        if self.config.steps is not None:
            self.schedule.set_total(self.config.steps)
        set_rng_state(state["rng"])
        self.archs.load_state_dict(state["archs"])
        self.batches.load_state_dict(state["batches"])
        self.step = int(state["step"])
        self.elapsed = float(state["elapsed"])
        self.resumed_from = path
        self.record.resumed(self.step, path, point.skipped)
        return True

    # ---- one step -----------------------------------------------------------------------------
    def train_step(self) -> dict:
        """One optimisation step; returns its metrics record (also for skipped steps)."""
        cfg = self.config
        t0 = time.perf_counter()
        archs = self.archs.take(cfg.meta_batch)
        x, y = next(self.batches)
        progress = None if cfg.time_budget is None else self.elapsed / cfg.time_budget
        lr = self.schedule.apply(self.step, progress)
        torch.manual_seed(step_seed(cfg.seed, self.step, self.info.rank))
        self.optimizer.zero_grad(set_to_none=True)

        error = None
        try:
            sums = step_backward(self.model, archs, x, y, cfg, self.info, self.amp)
            bad_local = not sums.finite
        except (RuntimeError, ValueError, torch.cuda.OutOfMemoryError) as exc:  # a net or the GHN failed
            error = first_line(exc)
            traceback.print_exc(file=sys.stderr)
            sums, bad_local = None, True
        total = reduce_sums(sums, bad_local, cfg.meta_batch, self.info, self.device)  # over every rank's nets
        ce_sum, pen_sum = total.ce_sum, total.pen_sum

        grad_norm = float("nan")
        reason = None
        if total.failed:
            reason = error or "non-finite loss"
            bad_nets = [archs[i] for i in total.bad_nets]
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
                          acc=total.correct / max(total.images, 1), images=int(total.images), grad_norm=grad_norm)
        else:
            self.skipped += 1
            self.consecutive_skips += 1
            record.update(kind="skip", reason=reason, ce=ce_sum / m if math.isfinite(ce_sum) else ce_sum,
                          grad_norm=grad_norm,
                          nets=[a.describe() for a in archs], bad_nets=[a.describe() for a in bad_nets])
        return record

    # ---- the run ------------------------------------------------------------------------------
    def run(self, stop: StopFlag | None = None) -> TrainResult:
        """Resume if ``out`` holds a checkpoint, train, finish; the writing rank holds ``out/.lock``
        throughout, so a second trainer on the same ``out`` stops at once with :class:`RunLockedError`.

        ``stop``: a flag installed before this trainer was built (as :func:`train` does), so that a signal
        during setup stops the run before its first step; by default one is installed here."""
        from graphparam.train.lock import RunLock

        with RunLock(self.out) if self.info.is_main else nullcontext():
            try:
                with nullcontext(stop) if stop is not None else StopFlag() as flag:
                    return self._run(flag)
            finally:
                self.archs.close()

    def _stop_reason(self, stop: StopFlag) -> str | None:
        """Why to stop now, decided the same on every rank: a signal, the time budget, or ``None``."""
        over = self.config.time_budget is not None and self.elapsed >= self.config.time_budget
        stop_any, over_any, self.elapsed = D.agree(bool(stop), over, self.elapsed, self.info, self.device)
        if stop_any:
            return stop.name or "signal"
        return "time_budget" if over_any else None

    def _run(self, stop: StopFlag) -> TrainResult:
        cfg = self.config
        main = self.info.is_main
        if main:
            self.out.mkdir(parents=True, exist_ok=True)
        resumed = self.resume()
        if cfg.steps is not None:
            self.schedule.set_total(cfg.steps)
        self.record.start(cfg, self.step, self.resumed_from if resumed else None,
                          world_size=self.info.world_size, device=str(self.device),
                          ghn_parameters=self.ghn.num_parameters(), threads=torch.get_num_threads(),
                          train_images=len(self.train_images))
        bar = ProgressBar(cfg.steps or self.schedule.total_steps, self.step, enabled=main and cfg.progress)
        self._last_save = time.monotonic()
        clock = time.process_time if cfg.clock == "cpu" else time.perf_counter
        session_start = clock()
        elapsed_at_start = self.elapsed
        last_loss, path = None, None
        # a signal during setup, or a resumed run already over its budget, stops before any step
        stopped_by = self._stop_reason(stop)
        while stopped_by is None:
            if cfg.steps is not None and self.step >= cfg.steps:
                stopped_by = "steps"
                break
            record = self.train_step()
            self.elapsed = elapsed_at_start + (clock() - session_start)
            record["elapsed"] = self.elapsed
            if record["kind"] == "train":
                last_loss = record["loss"]
            self.record.step(record, cfg.log_every)
            if self.on_step is not None:
                self.on_step(self, record)
            if self.consecutive_skips >= MAX_CONSECUTIVE_SKIPS:
                raise RuntimeError(f"{self.consecutive_skips} consecutive steps skipped; see "
                                   f"{self.record.metrics_path} for the nets involved")
            if cfg.eval_every and self.step % cfg.eval_every == 0 and main and self.validator.enabled:
                self._validate(bar)

            bar.update(record)
            stopped_by = self._stop_reason(stop)   # rank 0's clock decides the time budget
            if stopped_by is not None:
                break
            if main and ((cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0) or (
                    cfg.checkpoint_minutes > 0
                    and time.monotonic() - self._last_save >= 60 * cfg.checkpoint_minutes)):
                path = self.save()
                self.record.checkpoint(self.step, path)
        # a run that ends on its own (not on a signal: someone wants out) is validated at its last step
        if (stopped_by in ("steps", "time_budget") and cfg.eval_every and main and self.validator.enabled
                and self.step % cfg.eval_every and self.step > 0):
            self._validate(bar, final=True)
        bar.close()
        path = self.finish(stopped_by)
        return TrainResult(self.step, self.skipped, stopped_by, last_loss, self.elapsed, self.out, path)

    def _validate(self, bar: ProgressBar, final: bool = False) -> None:
        from graphparam.train.validate import describe_val

        val = self.validator(self.ghn)
        self.record.validation(self.step, val, final)
        bar.write(describe_val(self.step, val))

    def finish(self, stopped_by: str) -> Path | None:
        """Final checkpoint, exported GHN, curves (rank 0)."""
        if not self.info.is_main:
            return None
        path = self.save()
        self.ghn.save(self.out / "ghn")
        if self.config.export:
            self.ghn.save(self.config.export)
        self.record.stop(self.step, stopped_by, self.elapsed, path,
                         title=f"GHN '{self.config.ghn}' meta-training, M={self.config.meta_batch}, "
                               f"batch {self.config.batch_size}")
        print(f"stopped after step {self.step} ({stopped_by}), {format_duration(self.elapsed)} of training; "
              f"checkpoint {path}; GHN saved to {self.out / 'ghn'}"
              + (f" and {self.config.export}" if self.config.export else ""), file=sys.stderr)
        return path


def train(config: TrainConfig, **kwargs) -> TrainResult:
    """Run ``config`` in this process, joining torchrun's process group when launched by it."""
    info, device = D.setup(config.device)
    try:
        with StopFlag() as stop:  # from the start: a signal while the data and GHN load stops the run too
            return Trainer(config, info, device, **kwargs).run(stop)
    finally:
        D.teardown()
