"""ONNX: tracing an ONNX model into an :class:`ArchGraph` (:mod:`.onnx_trace`) and ONNX files in
and out (:mod:`.onnx_io`: loading with one-line errors, export from PyTorch, writing initializers).

This module keeps the names of both importable from one place.
"""

from graphparam.errors import OnnxError
from graphparam.graph.onnx_io import (DEFAULT_OPSET, FLOAT_TYPES, PARAMS_METADATA_KEY, export_onnx, load_onnx,
                                      write_initializers)
from graphparam.graph.onnx_trace import ONNX_PARAM_ARGS, REWRITES, trace_onnx

__all__ = ["DEFAULT_OPSET", "FLOAT_TYPES", "ONNX_PARAM_ARGS", "OnnxError", "PARAMS_METADATA_KEY", "REWRITES",
           "export_onnx", "load_onnx", "trace_onnx", "write_initializers"]
