"""What the front ends (torch.fx, torch.export, ONNX) share: sentinel rules, the parameter table,
the example input and the eval-mode context a model is traced or exported under."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn as nn

from graphparam.errors import InputSizeError
from graphparam.graph.builder import ParamRef
from graphparam.graph.registry import OpRule

__all__ = ["INPUT", "OUTPUT", "CONSTANT", "UNKNOWN", "SLICE", "ParamTable", "parameter_table", "example_input", "eval_mode"]

# rules of the nodes every front end makes outside the registry
INPUT, OUTPUT = OpRule("input"), OpRule("output")
CONSTANT, UNKNOWN, SLICE = OpRule("constant"), OpRule("unknown"), OpRule("slice")


@dataclass(frozen=True)
class ParamTable:
    """A model's parameters as the front ends see them; tied parameters appear once, under their first name.

    ``refs``: canonical name → :class:`ParamRef`; ``by_id``: ``id(tensor)`` → canonical name;
    ``canonical``: every name, the aliases of tied parameters included → canonical name.
    """

    refs: dict[str, ParamRef]
    by_id: dict[int, str]
    canonical: dict[str, str]


def constant_value(tensor: torch.Tensor) -> float | None:
    """The value of a tensor all of whose elements are one number (as an architecture initialises a layer
    scale), else None; None for tensors without values (meta)."""
    if tensor.is_meta or tensor.numel() == 0 or not tensor.is_floating_point():
        return None
    flat = tensor.detach().reshape(-1)
    first = flat[0]
    if flat.numel() > 1 and bool(flat[-1] != first):  # a drawn weight: settled without reading all of it (trace
        return None                                   # runs on every predict)
    return float(first) if bool((flat == first).all()) else None


#: each parameter's :func:`constant_value` when a trace first saw it: the architecture's initialisation, not what
#: a prediction or fine-tuning later wrote into the same tensor (a norm scale predicted at its bound is constant
#: too), so that tracing a model again gives the same roles and predicting twice the same tensors
_FIRST_SEEN: dict[int, float | None] = {}  # by id: a WeakKeyDictionary compares tensors with ==, element-wise


def initial_value(param: torch.Tensor) -> float | None:
    """:func:`constant_value` of ``param`` as the first trace of it saw it (forgotten when it is freed)."""
    key = id(param)
    if key not in _FIRST_SEEN:
        _FIRST_SEEN[key] = constant_value(param)
        weakref.finalize(param, _FIRST_SEEN.pop, key, None)
    return _FIRST_SEEN[key]


def parameter_table(model: nn.Module) -> ParamTable:
    refs = {name: ParamRef(name, tuple(p.shape), str(p.dtype).replace("torch.", ""), initial_value(p))
            for name, p in model.named_parameters()}
    by_id = {id(p): name for name, p in model.named_parameters()}
    canonical = {name: by_id[id(p)] for name, p in model.named_parameters(remove_duplicate=False)}
    return ParamTable(refs, by_id, canonical)


def example_input(model: nn.Module, input_size: Sequence[int]) -> torch.Tensor:
    """A random ``1 × input_size`` batch on the model's device, in its floating dtype."""
    if isinstance(input_size, int) or not all(isinstance(s, int) and s > 0 for s in input_size):
        raise InputSizeError(f"input_size must be a tuple of positive ints such as (3, 224, 224), got {input_size!r}")
    param = next(iter(model.parameters()), None)
    device = param.device if param is not None and param.device.type != "meta" else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    return torch.randn(1, *input_size, device=device, dtype=dtype)


class eval_mode:
    """Run a forward pass in eval mode (batch-1 friendly BatchNorm), restoring every module's mode."""

    def __init__(self, model: nn.Module):
        self.model = model

    def __enter__(self):
        self.modes = [(m, m.training) for m in self.model.modules()]
        self.model.eval()

    def __exit__(self, *exc):
        for m, mode in self.modes:
            m.training = mode
