"""Training metrics: one JSON object per line in ``<out>/metrics.jsonl``, and running averages.

Records carry ``"kind"``: ``"train"`` (one per logged step), ``"val"`` (validation), ``"skip"``
(a step skipped for a non-finite loss or gradient, with the nets involved) and ``"event"``
(start, resume, checkpoint, stop). On resume the file is cut back to the checkpoint's step, so
it reads like the log of an uninterrupted run.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

__all__ = ["MetricsLog", "RunningMean", "read_metrics", "compact_records", "run_cost", "peak_rss_gb"]


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no inf/nan
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class MetricsLog:
    """Append-only JSONL writer (a disabled log, e.g. on ranks other than 0, writes nothing)."""

    def __init__(self, path: str | os.PathLike, enabled: bool = True):
        self.path = Path(path)
        self.enabled = enabled
        self._f = None
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f = open(self.path, "a")

    def write(self, record: dict) -> None:
        if self._f is None:
            return
        self._f.write(json.dumps(_clean(record)) + "\n")
        self._f.flush()

    def truncate_after(self, step: int) -> None:
        """Drop step-numbered records after ``step`` (those of a run killed after its last checkpoint)."""
        if self._f is None:
            return
        self._f.close()
        kept = [r for r in read_metrics(self.path) if int(r.get("step", 0)) <= step]
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        with open(tmp, "w") as f:
            for r in kept:
                f.write(json.dumps(r) + "\n")
        os.replace(tmp, self.path)
        self._f = open(self.path, "a")

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


def read_metrics(path: str | os.PathLike, kind: str | None = None) -> list[dict]:
    """All records of a metrics file (optionally of one ``kind``); a torn last line is ignored."""
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            if kind is None or r.get("kind") == kind:
                out.append(r)
    return out


COMPACT_FIELDS = ("kind", "step", "acc", "ce", "probe", "elapsed", "top1", "top1_min", "top1_max", "top1_nets",
                  "loss", "nets", "images", "final")


def compact_records(rows: list[dict]) -> list[dict]:
    """The train, skip and val records of a metrics file cut to the fields a learning curve needs (a run's
    summary small enough to keep under ``experiments/results``); absent fields are left out."""
    return [{k: r[k] for k in COMPACT_FIELDS if k in r} for r in rows if r.get("kind") in ("train", "skip", "val")]


def run_cost(rows: list[dict]) -> dict | None:
    """What a run cost, from its stop events (one per process that stopped; a resumed run has several): the last
    step and stop reason, training time (the trainer's clock), the CPU seconds of the processes that stopped,
    summed, and their peak memory. ``processes`` counts every process that started or resumed; a process killed
    hard (``killed`` = ``processes`` − stops) leaves no stop event, so its CPU seconds are missing and the steps
    it took after its last checkpoint are on no clock. None for a run with no stop event."""
    events = [r for r in rows if r.get("kind") == "event"]
    stops = [r for r in events if r.get("event") == "stop"]
    if not stops:
        return None
    processes = max(sum(r.get("event") in ("start", "resume") for r in events), len(stops))
    cpu = [r["process_cpu_s"] for r in stops if r.get("process_cpu_s") is not None]
    rss = [r["peak_rss_gb"] for r in stops if r.get("peak_rss_gb") is not None]
    return {"step": stops[-1].get("step"), "reason": stops[-1].get("reason"), "elapsed": stops[-1].get("elapsed"),
            "processes": processes, "killed": processes - len(stops), "process_cpu_s": sum(cpu) if cpu else None,
            "peak_rss_gb": max(rss) if rss else None}


class RunningMean:
    """Exponential moving average with bias correction (``None`` until the first value)."""

    def __init__(self, beta: float = 0.95):
        self.beta = beta
        self._avg = 0.0
        self._n = 0

    def update(self, value: float) -> float | None:
        if math.isfinite(value):
            self._avg = self.beta * self._avg + (1 - self.beta) * value
            self._n += 1
        return self.value

    @property
    def value(self) -> float | None:
        return self._avg / (1 - self.beta ** self._n) if self._n else None


def peak_rss_gb() -> float | None:
    """Peak resident memory of this process so far, in GiB (None where the OS does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2 ** 30 if sys.platform == "darwin" else peak / 2 ** 20  # bytes on macOS, KiB elsewhere
