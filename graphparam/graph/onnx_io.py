"""ONNX files in and out: loading with one-line errors, export from PyTorch, writing initializers.

:func:`load_onnx` checks a model structurally (every value defined before it is read, outputs
computed, initializers as long as their shapes say) so that a truncated or foreign file fails with
an :class:`OnnxError` naming the problem. :func:`export_onnx` exports a PyTorch model so that each
used parameter is one initializer of the same name (its list is stored in the model's metadata,
:data:`PARAMS_METADATA_KEY`); :func:`write_initializers` writes predicted tensors into a copy.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from graphparam.errors import OnnxError, first_line

__all__ = ["DEFAULT_OPSET", "FLOAT_TYPES", "OnnxError", "PARAMS_METADATA_KEY", "export_onnx", "load_onnx",
           "write_initializers"]

PARAMS_METADATA_KEY = "graphparam.parameters"
#: opset 23 has ``Attention`` and ``GroupNormalization`` (21), so SDPA and GroupNorm export as one
#: op each, as in the torch graph, instead of a dozen primitives
DEFAULT_OPSET = 23
#: ONNX float element types → dtype names
FLOAT_TYPES = {TensorProto.FLOAT: "float32", TensorProto.FLOAT16: "float16",
               TensorProto.BFLOAT16: "bfloat16", TensorProto.DOUBLE: "float64"}
_EXTERNAL_LIMIT = 1_800_000_000  # bytes; protobuf cannot serialise 2 GiB, larger models go external


def load_onnx(source: str | os.PathLike | bytes | onnx.ModelProto, *,
              load_external_data: bool = True) -> onnx.ModelProto:
    """Load and structurally check an ONNX model; every failure is a one-line :class:`OnnxError`.

    A path that does not exist raises :class:`FileNotFoundError`. A ``ModelProto`` is checked and
    returned as is (not copied).
    """
    if isinstance(source, onnx.ModelProto):
        model, label = source, f"ONNX model {source.graph.name or '(unnamed)'}"
    elif isinstance(source, (bytes, bytearray)):
        label = "ONNX bytes"
        try:
            model = onnx.load_model_from_string(bytes(source))
        except Exception as exc:
            raise OnnxError(f"{label} are not a readable ONNX model ({first_line(exc)})") from None
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = str(path)
        if not path.exists():
            raise FileNotFoundError(f"ONNX file not found: {path}")
        if path.is_dir():
            raise OnnxError(f"{path} is a directory, not an ONNX file")
        try:
            model = onnx.load(str(path), load_external_data=load_external_data)
        except Exception as exc:
            raise OnnxError(f"{path} is not a readable ONNX model: truncated, corrupt or not ONNX "
                            f"({first_line(exc)})") from None
    else:
        raise TypeError(f"expected a path, bytes or onnx.ModelProto, got {type(source).__name__}")
    _validate(model, label)
    return model


def _validate(model: onnx.ModelProto, label: str) -> None:
    graph = model.graph
    if not model.HasField("graph") or not graph.node or not graph.output:
        raise OnnxError(f"{label} is not an ONNX model: it has no graph with nodes and outputs")
    if model.ir_version <= 0 or not model.opset_import:
        raise OnnxError(f"{label} is not an ONNX model: no IR version or opset import")
    defined = {v.name for v in graph.input} | {t.name for t in graph.initializer}
    defined |= {t.values.name for t in graph.sparse_initializer}
    for i, node in enumerate(graph.node):
        for name in node.input:
            if name and name not in defined:
                raise OnnxError(f"{label}: node {node.name or i} ({node.op_type}) reads {name!r}, which no "
                                "earlier node, input or initializer defines (truncated file or unsorted graph)")
        defined.update(o for o in node.output if o)
    for out in graph.output:
        if out.name not in defined:
            raise OnnxError(f"{label}: graph output {out.name!r} is never computed (truncated file?)")
    for t in graph.initializer:
        if t.data_location == TensorProto.EXTERNAL or t.data_type not in FLOAT_TYPES:
            continue
        numel = int(np.prod(t.dims, dtype=np.int64)) if t.dims else 1
        itemsize = 8 if t.data_type == TensorProto.DOUBLE else 4 if t.data_type == TensorProto.FLOAT else 2
        have = (len(t.raw_data) // itemsize if t.raw_data else
                len(t.double_data) if t.data_type == TensorProto.DOUBLE else
                len(t.float_data) if t.data_type == TensorProto.FLOAT else len(t.int32_data))
        if have != numel:
            raise OnnxError(f"{label}: initializer {t.name!r} holds {have} values but its shape "
                            f"{list(t.dims)} needs {numel} (truncated file?)")



def export_onnx(model, input_size: Sequence[int], path: str | os.PathLike | None = None, *,
                opset: int | None = DEFAULT_OPSET, example=None) -> onnx.ModelProto:
    """Export ``model`` (eval mode, batch 1) so that each used parameter is one initializer of the same name.

    Uses torch's dynamo exporter with ``optimize=False``: no BatchNorm folding, no constant
    folding, no renaming; BatchNorm running statistics stay initializers of their own. Opset
    :data:`DEFAULT_OPSET` unless ``opset`` says otherwise (None: torch's default). ``example``
    replaces the random ``1 × input_size`` input (token ids for an embedding model). The exported
    parameter names are stored in the model metadata (``graphparam.parameters``), which
    :func:`trace_onnx` reads. Writes ``path`` when given and returns the model.
    """
    import torch

    from graphparam.graph.frontend import eval_mode, example_input

    if example is None:
        size = tuple(input_size)
        if not size:
            raise ValueError(f"input_size must be a tuple of positive ints such as (3, 224, 224), got {input_size!r}")
        example = example_input(model, size)
    try:
        with eval_mode(model), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(model, (example,), dynamo=True, optimize=False, verbose=False,
                                        opset_version=opset)
    except Exception as exc:
        raise OnnxError(f"could not export {type(model).__name__} to ONNX ({first_line(exc)})") from exc
    proto = program.model_proto
    init_names = {t.name for t in proto.graph.initializer}
    names = [n for n, _ in model.named_parameters()]
    exported = [n for n in names if n in init_names]
    if len(exported) < len(names):
        missing = [n for n in names if n not in init_names]
        warnings.warn(f"{type(model).__name__}: {len(missing)} parameter(s) unused in forward are not in the "
                      f"ONNX model: {', '.join(missing[:5])}", stacklevel=2)
    proto.metadata_props.add(key=PARAMS_METADATA_KEY, value=json.dumps(exported))
    if path is not None:
        _save(proto, path)
    return proto


def _save(proto: onnx.ModelProto, path: str | os.PathLike) -> None:
    size = sum(len(t.raw_data) for t in proto.graph.initializer)
    if size > _EXTERNAL_LIMIT:
        onnx.save_model(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=f"{Path(path).name}.data", size_threshold=1024)
    else:
        onnx.save_model(proto, str(path))


def _to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    detach = getattr(value, "detach", None)
    if detach is not None:  # a torch tensor
        t = detach().cpu()
        return (t.float() if str(t.dtype) == "torch.bfloat16" else t).numpy()
    return np.asarray(value)


def write_initializers(model: str | os.PathLike | bytes | onnx.ModelProto, tensors: Mapping[str, Any],
                       out_path: str | os.PathLike | None = None) -> onnx.ModelProto:
    """A copy of ``model`` whose initializers named in ``tensors`` hold the given values.

    Values (torch tensors or arrays) must have the initializer's shape; they are cast to its
    dtype. Unknown names and shape mismatches raise :class:`OnnxError`. Writes ``out_path`` when
    given and returns the new model; the source model is never changed.
    """
    source = load_onnx(model, load_external_data=True)
    proto = onnx.ModelProto()
    proto.CopyFrom(source)
    index = {t.name: t for t in proto.graph.initializer}
    unknown = [n for n in tensors if n not in index]
    if unknown:
        raise OnnxError(f"{len(unknown)} name(s) are no initializer of the model: {', '.join(unknown[:5])}")
    for name, value in tensors.items():
        init = index[name]
        array = _to_numpy(value)
        if tuple(array.shape) != tuple(init.dims):
            raise OnnxError(f"initializer {name!r} has shape {list(init.dims)}, got a tensor of shape "
                            f"{list(array.shape)}")
        target = onnx.helper.tensor_dtype_to_np_dtype(init.data_type)
        init.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(array.astype(target, copy=False)), name))
    if out_path is not None:
        _save(proto, out_path)
    return proto
