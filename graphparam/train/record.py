"""A run's record under its ``out`` directory: ``config.json``, ``metrics.jsonl`` and ``curves.png``.

:class:`RunRecord` is what the trainer writes about itself: the settings, the start (or resume) event,
the train, skip and validation records (:mod:`graphparam.train.metrics` says what each holds),
the checkpoint events and the stop event, after which the curves are drawn (:mod:`graphparam.train.plot`).
Only the writing rank (rank 0) keeps a record; on the other ranks every method does nothing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from graphparam.train.checkpoint import atomic_write_text
from graphparam.train.config import TrainConfig
from graphparam.train.metrics import MetricsLog, peak_rss_gb

__all__ = ["RunRecord"]


class RunRecord:
    """The record of the run writing to ``out`` (``enabled=False``: write nothing, e.g. on ranks other than 0)."""

    def __init__(self, out: str | Path, enabled: bool = True):
        self.out = Path(out)
        self.enabled = enabled
        self.metrics_path = self.out / "metrics.jsonl"
        self.log = MetricsLog(self.metrics_path, enabled=enabled)

    def write(self, record: dict) -> None:
        self.log.write(record)

    def resumed(self, step: int, checkpoint: Path, unreadable: list[tuple[Path, str]] = ()) -> None:
        """Resuming from ``checkpoint`` at ``step``: the records after it are dropped (those of a run killed after
        its last checkpoint), and each newer checkpoint that could not be read is named in an event."""
        self.log.truncate_after(step)
        for bad, reason in unreadable:
            self.write({"kind": "event", "event": "checkpoint_unreadable", "step": step, "path": str(bad),
                        "reason": reason, "resumed_from": str(checkpoint)})

    def start(self, config: TrainConfig, step: int, resumed_from: Path | None, **facts) -> None:
        """``config.json`` and the start event (``resume`` when resumed from a checkpoint) with ``facts``."""
        if not self.enabled:
            return
        atomic_write_text(self.out / "config.json", config.to_json() + "\n")
        self.write({"kind": "event", "event": "start" if resumed_from is None else "resume", "step": step,
                    "checkpoint": None if resumed_from is None else str(resumed_from), **facts,
                    "wall_time": time.time()})

    def step(self, record: dict, log_every: int) -> None:
        """A step's record: every skipped step (also named on stderr with its nets), every ``log_every``-th one."""
        if not self.enabled:
            return
        if record["kind"] == "skip":
            print(f"step {record['step']}: skipped ({record['reason']}); nets "
                  + ", ".join(f"seed {n['seed']} {n['hash'][:12]}" for n in (record["bad_nets"] or record["nets"])),
                  file=sys.stderr)
            self.write(record)
        elif log_every and record["step"] % log_every == 0:
            self.write(record)

    def validation(self, step: int, val: dict, final: bool = False) -> None:
        self.write({"kind": "val", "step": step, **val, **({"final": True} if final else {})})

    def checkpoint(self, step: int, path: Path | None) -> None:
        self.write({"kind": "event", "event": "checkpoint", "step": step, "path": str(path)})

    def stop(self, step: int, reason: str, elapsed: float, checkpoint: Path | None, title: str = "") -> None:
        """The stop event (with the process's peak memory and CPU time), then the curves; closes the log."""
        if not self.enabled:
            return
        self.write({"kind": "event", "event": "stop", "step": step, "reason": reason, "elapsed": elapsed,
                    "checkpoint": str(checkpoint), "wall_time": time.time(), "peak_rss_gb": peak_rss_gb(),
                    "process_cpu_s": time.process_time()})
        self.log.close()
        try:
            from graphparam.train.plot import plot_curves

            plot_curves(self.metrics_path, self.out / "curves.png", title=title)
        except Exception as exc:  # a plot must never lose a finished run
            print(f"warning: could not plot curves: {exc}", file=sys.stderr)
