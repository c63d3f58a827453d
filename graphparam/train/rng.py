"""The run's random number generators: the per-step seed, and the global RNG state a checkpoint keeps.

The global RNG is reseeded from (seed, step, rank) at every step (:func:`step_seed`); the full state of
torch's, Python's and NumPy's generators (and CUDA's, once initialized) goes into each checkpoint as
plain tensors and lists (:func:`rng_state`, :func:`set_rng_state`), so a resumed run draws what an
uninterrupted one would.
"""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["step_seed", "rng_state", "set_rng_state"]


def step_seed(seed: int, step: int, rank: int) -> int:
    """The global RNG seed of ``step`` on ``rank`` (a fixed mix; fits in 63 bits)."""
    x = (seed * 0x9E3779B97F4A7C15 + step * 0xBF58476D1CE4E5B9 + rank * 0x94D049BB133111EB) % (1 << 64)
    x ^= x >> 31
    return x % (1 << 63)


def rng_state() -> dict:
    """The global RNG states of torch, Python and NumPy (and CUDA when initialized), checkpointable."""
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


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    v, internal, gauss = state["python"]
    random.setstate((int(v), tuple(int(i) for i in internal), None if gauss == -1.0 else gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
