"""Graceful stop: SIGTERM / SIGINT set a flag; the loop checkpoints at the end of the step and exits.

A second SIGINT while stopping raises ``KeyboardInterrupt`` (the user insists). Handlers can only
be installed from the main thread; elsewhere the flag simply never fires.
"""

from __future__ import annotations

import signal
import threading

__all__ = ["StopFlag"]


class StopFlag:
    def __init__(self, signals=(signal.SIGTERM, signal.SIGINT)):
        self.signals = tuple(signals)
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def __bool__(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str | None:
        return None if self.signum is None else signal.Signals(self.signum).name

    def _handle(self, signum, frame) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self) -> "StopFlag":
        if threading.current_thread() is threading.main_thread():
            for s in self.signals:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()
