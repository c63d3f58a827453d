"""A training run's resume state as one safetensors file: its tensors, and its structure as JSON.

The state a checkpoint keeps (optimizer moments, schedule, RNG states, stream positions, the config) is a
tree of dicts, lists, tuples, numbers, strings and tensors. :func:`write_state` stores every tensor under
a generated key and the tree, with each tensor replaced by ``{"$tensor": key}``, as JSON in the file's
metadata; :func:`read_state` rebuilds it. Nothing is pickled, so reading a file never runs code, and the
round trip keeps what ``torch.optim`` needs: integer dict keys (parameter ids) and tuples (``betas``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save

__all__ = ["write_state", "read_state", "STATE_KEY"]

STATE_KEY = "state"  # metadata entry that holds the JSON tree
_TENSOR, _TUPLE, _ITEMS = "$tensor", "$tuple", "$items"


def _encode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj.detach().to("cpu").contiguous().clone()
        return {_TENSOR: key}
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in obj):
            return {k: _encode(v, tensors) for k, v in obj.items()}
        return {_ITEMS: [[_encode(k, tensors), _encode(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {_TUPLE: [_encode(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, tensors) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} in a resume state (tensors, numbers, strings, "
                    "lists, tuples and dicts only)")


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if _TENSOR in obj:
        return tensors[obj[_TENSOR]]
    if _TUPLE in obj:
        return tuple(_decode(v, tensors) for v in obj[_TUPLE])
    if _ITEMS in obj:
        return {_decode(k, tensors): _decode(v, tensors) for k, v in obj[_ITEMS]}
    return {k: _decode(v, tensors) for k, v in obj.items()}


def write_state(f, state: dict) -> None:
    """Write ``state`` to the open binary file ``f`` (the caller flushes, syncs and renames)."""
    tensors: dict[str, torch.Tensor] = {}
    tree = json.dumps(_encode(state, tensors), separators=(",", ":"))
    f.write(save(tensors, metadata={STATE_KEY: tree}))


def read_state(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """The state :func:`write_state` wrote to ``path``, tensors on ``map_location``."""
    with safe_open(Path(path), framework="pt", device=str(map_location)) as f:
        meta = f.metadata() or {}
        if STATE_KEY not in meta:
            raise ValueError("not a resume state (no structure in its metadata)")
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    state = _decode(json.loads(meta[STATE_KEY]), tensors)
    if not isinstance(state, dict):
        raise ValueError(f"a resume state is a dict, not a {type(state).__name__}")
    return state
