"""graphparam: predict the parameters of unseen neural networks from their computation graph.

The public surface: ``trace`` / ``trace_onnx`` turn models into :class:`ArchGraph`; :class:`GHN`
(configured by :class:`GHNConfig`) predicts their parameters; ``load`` and ``predict`` use the
GHN shipped with the package; ``load_model("timm:NAME")`` builds a model as the command line does.
"""

from graphparam.errors import GraphparamError
from graphparam.graph import ArchGraph, TraceError, UnsupportedOperation, trace
from graphparam.graph.onnx import trace_onnx
from graphparam.model import GHN, GHNConfig
from graphparam.predict import load, predict, predict_onnx
from graphparam.sources import load_model

__version__ = "0.1.0"

__all__ = ["ArchGraph", "GHN", "GHNConfig", "GraphparamError", "TraceError", "UnsupportedOperation", "load",
           "load_model", "predict", "predict_onnx", "trace", "trace_onnx", "__version__"]
