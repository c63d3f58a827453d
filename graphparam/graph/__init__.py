"""The graph layer: models become typed DAGs whose nodes own the model's parameter tensors."""

from graphparam.graph.ir import ArchGraph, GraphError, Node, ParamSlot, Role
from graphparam.graph.registry import KINDS, UnsupportedOperation, register
from graphparam.graph.trace import InputSizeError, TraceError, trace

__all__ = ["ArchGraph", "GraphError", "InputSizeError", "KINDS", "Node", "ParamSlot", "Role", "TraceError",
           "UnsupportedOperation", "register", "trace"]
