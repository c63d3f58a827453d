"""Atomic, resumable training checkpoints.

Layout under ``<out>/checkpoints/``::

    step-000300/ghn/model.safetensors   GHN weights (+ ghn/config.json): loadable with GHN.from_pretrained
    step-000300/state.safetensors       resume state: optimizer, schedule, step, RNG states, stream positions
    latest                              name of the newest complete checkpoint directory

A checkpoint is written into ``step-000300.tmp-<pid>/`` and renamed into place with ``os.replace``
only when complete; ``latest`` is then replaced atomically. A crash at any moment leaves either the
previous checkpoint or the new one, never a partial one; stale ``*.tmp-*`` directories are removed
at the next save. The resume state is a safetensors file whose metadata holds its structure as JSON
(:mod:`graphparam.train.state_file`): like the GHN itself, nothing in a checkpoint is pickled.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any, Callable, NamedTuple

import torch

from graphparam.errors import CheckpointError, CheckpointNotFound, first_line
from graphparam.train.state_file import read_state, write_state

__all__ = ["save_checkpoint", "load_checkpoint", "latest_checkpoint", "list_checkpoints", "atomic_write_text",
           "has_checkpoint", "load_resumable", "ResumePoint", "CheckpointNotFound", "STATE_NAME", "GHN_DIR",
           "FORMAT", "UNREADABLE"]

STATE_NAME = "state.safetensors"
LEGACY_STATE_NAME = "state.pt"  # torch.save zip of graphparam <= 6f373af: refused with a clear message
GHN_DIR = "ghn"
LATEST = "latest"
FORMAT = 1
UNREADABLE = ".unreadable"  # suffix of a checkpoint directory moved aside because it could not be read
#: keys every resume state has; a state without them is as unreadable as a truncated file
REQUIRED_KEYS = ("format", "step", "optimizer", "rng", "config")
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
            write_state(f, {"format": FORMAT, **state})
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


def _read_state(d: Path, map_location, where: str = "") -> dict:
    """The resume state of checkpoint ``d`` in this version's format; :class:`CheckpointError` otherwise,
    its message starting with ``where`` + the file name."""
    name = where + STATE_NAME
    if not (d / STATE_NAME).exists():
        raise CheckpointError(f"{name} is missing")
    try:
        state = read_state(d / STATE_NAME, map_location)
    except Exception as exc:  # truncated file, garbage bytes, a header that is not a resume state, ...
        raise CheckpointError(f"{name}: {first_line(exc)}") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{name}: unknown checkpoint format "
                              f"{state.get('format') if isinstance(state, dict) else type(state).__name__!r}")
    return state


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[Path, dict]:
    """``(checkpoint dir, state)`` for a checkpoint directory or a root holding ``latest``."""
    path = Path(path)
    d = path if (path / STATE_NAME).is_file() else latest_checkpoint(path)
    if d is None:
        raise CheckpointNotFound(f"no complete checkpoint in {path}")
    return d, _read_state(d, map_location, where=f"{d}/")


# ---- resuming: the newest checkpoint that reads completely -------------------------------------------
class ResumePoint(NamedTuple):
    path: Path                          # the checkpoint directory resumed from
    state: dict                         # its resume state
    ghn: Any                            # what ``load_ghn(path / GHN_DIR)`` returned
    skipped: list[tuple[Path, str]]     # newer checkpoints that could not be read, and why (one line each)


def _step_dirs(root: Path) -> list[Path]:
    """Every ``step-N`` directory under ``root``, complete or not, newest step first."""
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), d) for d in root.iterdir() if (m := _NAME.match(d.name)) and d.is_dir()]
    return [d for _, d in sorted(found, reverse=True)]


def has_checkpoint(root: str | os.PathLike) -> bool:
    """Whether ``root`` holds any checkpoint, readable or not (a ``step-N`` directory or ``latest``)."""
    root = Path(root)
    return bool(_step_dirs(root)) or (root / LATEST).is_file()


def _read(d: Path, load_ghn: Callable[[Path], Any], map_location) -> tuple[dict, Any]:
    """``(state, ghn)`` of checkpoint ``d``; raises whatever reading it raises."""
    if not (d / STATE_NAME).exists() and (d / LEGACY_STATE_NAME).exists():
        raise CheckpointError(f"{LEGACY_STATE_NAME} is a pickled resume state of an older graphparam, which this "
                              "version does not unpickle; resume it with the version that wrote it")
    state = _read_state(d, map_location)
    if not (d / GHN_DIR).exists():
        raise CheckpointError(f"{GHN_DIR} is missing")
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"{STATE_NAME} lacks {', '.join(missing)}")
    try:
        ghn = load_ghn(d / GHN_DIR)
    except Exception as exc:
        raise CheckpointError(f"{GHN_DIR}/: {first_line(exc)}") from exc
    return state, ghn


def _move_aside(d: Path) -> Path:
    target = d.with_name(d.name + UNREADABLE)
    n = 1
    while target.exists():
        n += 1
        target = d.with_name(f"{d.name}{UNREADABLE}-{n}")
    os.replace(d, target)
    return target


def load_resumable(root: str | os.PathLike, load_ghn: Callable[[Path], Any],
                   map_location: str | torch.device = "cpu", move_aside: bool = False,
                   warn: Callable[[str], None] | None = None) -> ResumePoint | None:
    """The newest checkpoint under ``root`` whose state and GHN both read completely.

    Checkpoints are written atomically, so an unreadable one means damage from outside (a disk
    error, a truncated copy). Each newer checkpoint that fails to read is skipped and, once an
    older one has read, reported through ``warn`` in one line naming it, the reason and the
    checkpoint resumed from. With ``move_aside`` (the writing rank only) skipped ones are renamed
    ``step-N.unreadable`` (kept for inspection, never pruned in place of a good one) and ``latest``
    names the one resumed from. Returns None when ``root`` holds no checkpoint at all; raises
    :class:`CheckpointError` naming every failure when it holds some but none reads: a run with
    checkpoints never silently restarts from step 0.
    """
    root = Path(root)
    dirs = _step_dirs(root)
    if not dirs:
        if (root / LATEST).is_file():
            raise CheckpointError(f"cannot resume: {root / LATEST} names {(root / LATEST).read_text().strip()!r} "
                                  f"but {root} holds no checkpoint directory; remove {root} to start over")
        return None
    skipped: list[tuple[Path, str]] = []
    for d in dirs:
        try:
            state, ghn = _read(d, load_ghn, map_location)
        except Exception as exc:  # any failure to read makes the checkpoint unusable; say which and why
            skipped.append((d, first_line(exc, with_type=False, limit=300)))
            continue
        for bad, reason in skipped:
            moved = _move_aside(bad) if move_aside else None
            if warn is not None:
                warn(f"warning: checkpoint {bad} is unreadable ({reason})"
                     + (f", moved to {moved.name}" if moved else "") + f"; resuming from {d.name} instead")
        if move_aside and skipped:
            atomic_write_text(root / LATEST, d.name + "\n")
        return ResumePoint(d, state, ghn, skipped)
    raise CheckpointError(f"cannot resume: none of the {len(dirs)} checkpoint(s) in {root} is readable ("
                          + "; ".join(f"{d.name}: {why}" for d, why in skipped)
                          + f"); remove {root} to start over")
