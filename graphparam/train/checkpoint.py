"""Atomic, resumable training checkpoints.

Layout under ``<out>/checkpoints/``::

    step-000300/ghn/model.safetensors   GHN weights (+ ghn/config.json): loadable with GHN.from_pretrained
    step-000300/state.pt                resume state: optimizer, schedule, step, RNG states, stream positions
    latest                              name of the newest complete checkpoint directory

A checkpoint is written into ``step-000300.tmp-<pid>/`` and renamed into place with ``os.replace``
only when complete; ``latest`` is then replaced atomically. A crash at any moment leaves either the
previous checkpoint or the new one, never a partial one; stale ``*.tmp-*`` directories are removed
at the next save. ``state.pt`` holds only tensors, numbers, strings, lists and dicts, and is read
with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any, Callable

import torch

from graphparam.errors import CheckpointNotFound

__all__ = ["save_checkpoint", "load_checkpoint", "latest_checkpoint", "list_checkpoints", "atomic_write_text",
           "CheckpointNotFound", "STATE_NAME", "GHN_DIR", "FORMAT"]

STATE_NAME = "state.pt"
GHN_DIR = "ghn"
LATEST = "latest"
FORMAT = 1
_NAME = re.compile(r"^step-(\d+)$")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def list_checkpoints(root: str | os.PathLike) -> list[Path]:
    """Complete checkpoint directories under ``root``, oldest step first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for d in root.iterdir():
        m = _NAME.match(d.name)
        if m and d.is_dir() and (d / STATE_NAME).is_file() and (d / GHN_DIR).is_dir():
            found.append((int(m.group(1)), d))
    return [d for _, d in sorted(found)]


def latest_checkpoint(root: str | os.PathLike) -> Path | None:
    """The directory named by ``root/latest``, else the newest complete one, else None."""
    root = Path(root)
    pointer = root / LATEST
    if pointer.is_file():
        d = root / pointer.read_text().strip()
        if (d / STATE_NAME).is_file() and (d / GHN_DIR).is_dir():
            return d
    found = list_checkpoints(root)
    return found[-1] if found else None


def _remove_stale(root: Path) -> None:
    for d in root.glob("*.tmp-*"):
        shutil.rmtree(d, ignore_errors=True) if d.is_dir() else d.unlink(missing_ok=True)


def save_checkpoint(root: str | os.PathLike, step: int, save_ghn: Callable[[Path], Any], state: dict,
                    keep: int = 2) -> Path:
    """Write checkpoint ``step`` atomically; ``save_ghn(dir)`` writes the GHN into ``dir``.

    Keeps the ``keep`` newest checkpoints. Returns the checkpoint directory.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    _remove_stale(root)
    final = root / f"step-{int(step):06d}"
    tmp = root / f"{final.name}.tmp-{os.getpid()}"
    try:
        tmp.mkdir()
        save_ghn(tmp / GHN_DIR)
        with open(tmp / STATE_NAME, "wb") as f:
            torch.save({"format": FORMAT, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        if final.exists():  # same step saved again (e.g. periodic save then exit): replace it
            old = root / f"{final.name}.old.tmp-{os.getpid()}"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
        _fsync_dir(root)
        atomic_write_text(root / LATEST, final.name + "\n")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    for old in list_checkpoints(root)[:-keep]:
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[Path, dict]:
    """``(checkpoint dir, state)`` for a checkpoint directory or a root holding ``latest``."""
    path = Path(path)
    d = path if (path / STATE_NAME).is_file() else latest_checkpoint(path)
    if d is None:
        raise CheckpointNotFound(f"no complete checkpoint in {path}")
    state = torch.load(d / STATE_NAME, map_location=map_location, weights_only=True)
    if state.get("format") != FORMAT:
        raise ValueError(f"{d / STATE_NAME}: unknown checkpoint format {state.get('format')!r}")
    return d, state
