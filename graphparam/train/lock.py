"""One training run per output directory: an exclusive ``fcntl.flock`` on ``<out>/.lock``.

Two trainers writing the same ``--out`` would overwrite each other's checkpoints and interleave
their metrics. The lock is held by the writing rank from before resuming until the run has
finished; the kernel drops it when the process ends however it ends (SIGKILL included), so a lock
file left behind by a killed run never blocks the next one. The file is never deleted (deleting
it would let two processes lock two different files of the same name); it holds the holder's pid,
for the message. Where ``fcntl`` does not exist (Windows) runs are not locked.
"""

from __future__ import annotations

import os
from pathlib import Path

from graphparam.errors import RunLockedError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None

__all__ = ["RunLock", "LOCK_NAME", "RunLockedError"]

LOCK_NAME = ".lock"


class RunLock:
    """``with RunLock(out):`` holds ``out/.lock`` or raises :class:`RunLockedError` at once (no waiting)."""

    def __init__(self, out: str | os.PathLike):
        self.path = Path(out) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        if fcntl is None or self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # BlockingIOError: held by another open file (another process, or this one)
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunLockedError(f"{self.path.parent} is in use by another training run (pid {holder}, lock "
                                 f"{self.path}); wait for it to finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
