"""The errors of graphparam whose message is meant for the user.

Every one derives from :class:`GraphparamError` (so ``except GraphparamError`` catches them all, as
the command line does) and from the built-in class it has always been (``ValueError``,
``RuntimeError``, ``FileNotFoundError``, ...), so existing ``except`` clauses keep working. Each is
also importable from the module that raises it (``graphparam.graph.GraphError``, ...).
"""

from __future__ import annotations

import re

__all__ = ["GraphparamError", "GraphError", "TraceError", "InputSizeError", "UnsupportedOperation", "OpaqueModule",
           "OnnxError", "ModelSourceError", "CifarStemError", "CheckpointError", "CheckpointNotFound", "DatasetNotFoundError",
           "MissingPredictionError", "ClassCountError", "HeadMismatchError", "RunLockedError", "ResumeError",
           "OutputExistsError", "DatasetFormatError", "ArgumentValueError", "ConfigError", "first_line"]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def first_line(exc: BaseException, *, with_type: bool = True, limit: int | None = None) -> str:
    """``"TypeName: first line of the message"`` (colour codes removed, ``limit`` characters of the line
    at most); the type name alone when the message is empty. ``with_type=False``: the line alone."""
    lines = _ANSI.sub("", str(exc)).strip().splitlines()
    line = lines[0][:limit] if lines else ""
    if not with_type:
        return line or type(exc).__name__
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


class GraphparamError(Exception):
    """Base of graphparam's user-facing errors: the message says what is wrong, on one line."""


class ConfigError(GraphparamError, ValueError):
    """A configuration that cannot build a GHN (unknown preset, bad field, bad value)."""


# ---- graph layer -------------------------------------------------------------------------------
class GraphError(GraphparamError, ValueError):
    """An ArchGraph that breaks an invariant (cycle, dangling edge, double ownership)."""


class TraceError(GraphparamError, RuntimeError):
    """A model that no front end could turn into a graph; the message says why."""


class InputSizeError(TraceError, ValueError):
    """The model does not accept an input of the given size."""


class UnsupportedOperation(GraphparamError, RuntimeError):
    """An operation that the registry does not know. Names the op and where it occurs."""

    def __init__(self, op: str, where: str, hint: str = ""):
        self.op, self.where = op, where
        msg = f"unsupported operation {op} at {where!r}"
        msg += f": {hint}" if hint else " (register it with graphparam.graph.registry.register, or trace with strict=False)"
        super().__init__(msg)


class OpaqueModule(GraphparamError, RuntimeError):
    """A leaf module that owns parameters but has no registry row: fx cannot see inside it."""


class OnnxError(GraphparamError, ValueError):
    """A file or model that is not a usable ONNX model; the message says which and why, in one line."""


# ---- sources, checkpoints, data ----------------------------------------------------------------
class ModelSourceError(GraphparamError, ValueError):
    """A model reference that cannot be resolved; the message is one line meant for the user."""


class CifarStemError(ModelSourceError):
    """A model that ``--cifar-stem`` (:func:`graphparam.cifar_stem.to_cifar_stem`) cannot adapt to 32x32;
    the message names the model and the reason, on one line."""


class CheckpointError(GraphparamError, RuntimeError):
    """A checkpoint that cannot be loaded: missing, not safetensors, or not matching its config."""


class CheckpointNotFound(GraphparamError, FileNotFoundError):
    """No complete checkpoint in the directory."""


class DatasetNotFoundError(GraphparamError, FileNotFoundError):
    """A dataset source could not be found; the message says how to provide one."""


class DatasetFormatError(GraphparamError, ValueError):
    """A dataset file that exists but is not in a format graphparam reads (names the file and why)."""


# ---- prediction ----------------------------------------------------------------------------------
class MissingPredictionError(GraphparamError, KeyError, ValueError):
    """A prediction that lacks tensors for some of a model's parameters."""

    __str__ = Exception.__str__  # the message as is, not quoted like a KeyError's


# ---- argument values -------------------------------------------------------------------------------
class ArgumentValueError(GraphparamError, ValueError):
    """An argument outside the values it can take (a batch size of 0, a negative learning rate, ...)."""


# ---- classes and heads ---------------------------------------------------------------------------
class ClassCountError(GraphparamError, ValueError):
    """A class count that cannot work: below 1 (``--num-classes 0``), or not the data's (subclass)."""


class HeadMismatchError(ClassCountError):
    """A model whose classifier head does not have one output per class of the data it is run on.

    Caught before the loss indexes logits with labels that do not exist (an ``IndexError`` deep in
    ``cross_entropy``) or, for a head wider than the data, before an accuracy is reported for a
    model that could predict classes the data does not have.
    """

    def __init__(self, model_classes: int, data_classes: int, data_name: str = "the data"):
        self.model_classes, self.data_classes = model_classes, data_classes
        super().__init__(f"the model's head has {model_classes} outputs but {data_name} has {data_classes} "
                         f"classes; build the model with num_classes={data_classes} (--num-classes {data_classes})")


# ---- training runs ---------------------------------------------------------------------------------
class RunLockedError(GraphparamError, RuntimeError):
    """Another training run holds the output directory's lock; two runs would overwrite each other."""


class ResumeError(GraphparamError, ValueError):
    """A checkpoint that reads but cannot be continued by this run (it was trained with other settings)."""


class OutputExistsError(GraphparamError, FileExistsError):
    """An output directory that already holds a run, where a fresh one was asked for (``--no-resume``)."""
