"""``trace``: any ``nn.Module`` to an :class:`ArchGraph`, through torch.fx, falling back to torch.export."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Sequence

import torch
import torch.nn as nn

from graphparam.errors import InputSizeError, TraceError, UnsupportedOperation, first_line
from graphparam.graph.builder import build_graph
from graphparam.graph.frontend import eval_mode, example_input
from graphparam.graph.ir import ArchGraph

_log = logging.getLogger(__name__)


def trace(model: nn.Module, input_size: Sequence[int] = (3, 224, 224), *, strict: bool = True,
          frontend: str = "auto", name: str | None = None) -> ArchGraph:
    """Trace ``model`` into a typed DAG whose nodes own every parameter tensor exactly once.

    ``frontend`` is ``"fx"``, ``"export"`` or ``"auto"`` (fx, then torch.export where fx fails; the
    ``graphparam.graph.trace`` logger says why at INFO level, and ``graph.frontend`` which one traced).
    With ``strict=False`` unknown operations become nodes of kind ``unknown`` instead of raising
    :class:`UnsupportedOperation`.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"trace expects a torch.nn.Module, got {type(model).__name__}")
    if frontend not in ("auto", "fx", "export"):
        raise ValueError(f"frontend must be 'auto', 'fx' or 'export', got {frontend!r}")
    name = name or type(model).__name__
    input_size = tuple(input_size) if not isinstance(input_size, int) else input_size
    example = example_input(model, input_size)
    tracers = {"fx": _trace_fx, "export": _trace_export}
    errors: dict[str, BaseException] = {}
    for key in (("fx", "export") if frontend == "auto" else (frontend,)):
        try:
            return tracers[key](model, example, strict=strict, name=name, input_size=input_size)
        except InputSizeError:
            raise
        except Exception as exc:
            errors[key] = exc
            if key == "fx" and frontend == "auto":
                _log.info("%s: torch.fx failed (%s); trying torch.export", name, first_line(exc))
    unsupported = [e for e in errors.values() if isinstance(e, UnsupportedOperation)]
    if unsupported:
        raise unsupported[0]
    reasons = "; ".join(f"torch.{key}: {first_line(exc)}" for key, exc in errors.items())
    raise TraceError(f"could not trace {name} ({reasons}). Python branches on tensor values cannot be "
                     "traced: rewrite them with torch.where, or trace a model without them.") from next(
        iter(errors.values()))


@contextmanager
def _input_errors(model: nn.Module, example: torch.Tensor, name: str):
    """When a front end fails, check whether the model itself rejects ``example``: if so, say that."""
    try:
        yield
    except Exception:
        try:
            with eval_mode(model), torch.no_grad():
                model(example)
        except Exception as direct:
            raise InputSizeError(f"{name} does not accept an input of size {tuple(example.shape[1:])}: "
                                 f"{first_line(direct)}") from direct
        raise


def _trace_fx(model, example, *, strict, name, input_size) -> ArchGraph:
    from graphparam.graph.fx import OpaqueModule, fx_ops, opaque_modules, record_shapes, symbolic_trace

    graph = symbolic_trace(model)
    opaque = opaque_modules(model, graph)
    if opaque:
        raise OpaqueModule(", ".join(opaque))
    with eval_mode(model), _input_errors(model, example, name):
        shapes, channels = record_shapes(model, graph, example)
    ops, params = fx_ops(model, graph, shapes, strict=strict, channels=channels)
    return build_graph(ops, name=name, input_size=input_size, all_params=params)


def _trace_export(model, example, *, strict, name, input_size) -> ArchGraph:
    from graphparam.graph.export import export_ops, export_program

    with eval_mode(model), _input_errors(model, example, name):
        program = export_program(model, example)
    ops, params = export_ops(model, program, strict=strict)
    graph = build_graph(ops, name=name, input_size=input_size, all_params=params)
    graph.frontend = "export"
    return graph
