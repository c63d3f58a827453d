"""graphparam: predict the parameters of unseen neural networks from their computation graph."""

from graphparam.graph import ArchGraph, TraceError, UnsupportedOperation, trace

__version__ = "0.1.0"

__all__ = ["ArchGraph", "TraceError", "UnsupportedOperation", "trace", "__version__"]
