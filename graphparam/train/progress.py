"""A run's progress on the terminal: a tqdm bar of steps with running loss, accuracy and speed (rank 0)."""

from __future__ import annotations

import sys

from graphparam.train.metrics import RunningMean

__all__ = ["ProgressBar"]


class ProgressBar:
    """Steps ``initial..total`` on stderr; ``enabled=False`` (other ranks, ``--no-progress``): shows nothing.
    Off a terminal it redraws at most every 30 s, so a log file gets a line now and then, not one per step."""

    def __init__(self, total: int | None, initial: int = 0, enabled: bool = True):
        self.loss, self.acc = RunningMean(0.9), RunningMean(0.9)
        self._bar = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, initial=initial, desc="meta-train", unit="step", dynamic_ncols=True,
                             mininterval=0.5 if sys.stderr.isatty() else 30.0, file=sys.stderr)

    def update(self, record: dict) -> None:
        """One step done (``record``: its metrics record, a train or a skip record)."""
        if record["kind"] == "train":
            self.loss.update(record["loss"])
            self.acc.update(record["acc"])
        if self._bar is None:
            return
        self._bar.update(1)
        postfix = {"loss": self.loss.value, "acc": self.acc.value,
                   "archs/s": record["archs_per_s"], "img/s": record["images_per_s"]}
        self._bar.set_postfix({k: f"{v:.3g}" for k, v in postfix.items() if v is not None}, refresh=False)

    def write(self, line: str) -> None:
        """A line above the bar (shown only when the bar is)."""
        if self._bar is not None:
            self._bar.write(line)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
