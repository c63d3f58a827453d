"""graphparam: predict the parameters of unseen neural networks from their computation graph.

The public surface: ``trace`` / ``trace_onnx`` turn models into :class:`ArchGraph`; :class:`GHN`
(configured by :class:`GHNConfig`) predicts their parameters; ``load_ghn`` loads a GHN by name
(``list_pretrained()``: the ones shipped with the package) or directory, and ``predict`` uses the
shipped one; :class:`GHNInitializer` is a GHN as a drop-in initialization; ``create_model("timm:NAME")``
builds a model as the command line does; :class:`PretrainedCfg` (``ghn.pretrained_cfg``) says what a GHN
was trained on, and gives every default input size. ``load`` and ``load_model`` are deprecated aliases
of ``load_ghn`` and ``create_model``.
"""

from graphparam.errors import GraphparamError
from graphparam.graph import ArchGraph, TraceError, UnsupportedOperation, trace
from graphparam.graph.onnx import trace_onnx
from graphparam.model import GHN, GHNConfig, list_pretrained
from graphparam.predict import GHNInitializer, load, load_ghn, predict, predict_onnx
from graphparam.pretrained_cfg import PretrainedCfg
from graphparam.sources import create_model, load_model

__version__ = "0.1.0"

__all__ = ["ArchGraph", "GHN", "GHNConfig", "GHNInitializer", "GraphparamError", "PretrainedCfg", "TraceError",
           "UnsupportedOperation", "create_model", "list_pretrained", "load", "load_ghn", "load_model", "predict",
           "predict_onnx", "trace", "trace_onnx", "__version__"]
