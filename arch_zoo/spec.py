"""``ArchSpec``: a frozen, JSON-serialisable description of one network.

A spec is plain data (nested frozen dataclasses and tuples), validated as a
whole when an ``ArchSpec`` is constructed, so an error names the full path of
the offending field. ``spec.build()`` turns it into an ``nn.Module``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field, fields
from functools import cache, cached_property
from typing import Any, get_type_hints

from torch import nn

from .ops import ACTS, NORMS, OPS

__all__ = [
    "ArchSpec",
    "StemSpec",
    "CellSpec",
    "NodeSpec",
    "HeadSpec",
    "SpecError",
    "FAMILIES",
    "CELL_KINDS",
]

FAMILIES: dict[str, tuple[str, ...]] = {
    "dag": ("dag",),
    "resnet": ("basic", "bottleneck"),
    "mobilenet": ("inverted",),
    "convnext": ("convnext",),
    "vit": ("transformer",),
}
"""Family -> the cell kinds it may contain."""

CELL_KINDS = ("dag", "basic", "bottleneck", "inverted", "convnext", "transformer")
_HIDDEN_KINDS = ("bottleneck", "inverted", "convnext", "transformer")
STEM_KINDS = ("conv", "patch", "tokens")
POOLS = ("avg", "cls")
MERGES = ("sum", "concat")


class SpecError(ValueError):
    """A malformed spec; the message starts with the path of the bad field."""


@dataclass(frozen=True)
class NodeSpec:
    """A DAG node: merge ``inputs`` (0 = cell input, k = node k-1) by ``combine``, then apply ``op``."""

    inputs: tuple[int, ...]
    op: str
    combine: str = "sum"


@dataclass(frozen=True)
class CellSpec:
    """One block of the stack. Fields a kind does not use keep their defaults.

    ``hidden`` is the inner width (bottleneck mid width, inverted-residual
    expansion width, ConvNeXt/transformer MLP width); ``layer_scale`` is the
    initial value of a per-channel residual scale (0 disables it).
    """

    kind: str
    channels: int
    stride: int = 1
    hidden: int = 0
    kernel: int = 3
    groups: int = 1
    se: bool = False
    heads: int = 0
    layer_scale: float = 0.0
    residual: bool = True
    nodes: tuple[NodeSpec, ...] = ()
    output: str = "concat"

    def __post_init__(self) -> None:
        if type(self.layer_scale) is int:  # 0 and 0.0 must serialise (and hash) the same
            object.__setattr__(self, "layer_scale", float(self.layer_scale))


@dataclass(frozen=True)
class StemSpec:
    """``conv``: conv-norm-act; ``patch``: patchify conv + norm; ``tokens``: patchify to tokens + pos embedding."""

    kind: str
    channels: int
    kernel: int = 3
    stride: int = 1
    cls_token: bool = False


@dataclass(frozen=True)
class HeadSpec:
    """Pool (``avg`` over positions/tokens, or the ``cls`` token), optional norm and hidden layer, then linear."""

    pool: str = "avg"
    norm: bool = False
    hidden: int = 0


@dataclass(frozen=True)
class ArchSpec:
    """A whole network: stem, a stack of cells, a classifier head, and net-wide norm/activation."""

    family: str
    stem: StemSpec
    cells: tuple[CellSpec, ...]
    head: HeadSpec = HeadSpec()
    norm: str = "bn"
    act: str = "relu"
    image_size: int = 32

    def __post_init__(self) -> None:
        _validate(self)

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(self)

    def to_json(self, indent: int | None = None) -> str:
        """Canonical JSON (sorted keys); ``ArchSpec.from_json`` inverts it exactly."""
        separators = (",", ":") if indent is None else None
        return json.dumps(self.to_dict(), sort_keys=True, indent=indent, separators=separators)

    @classmethod
    def from_dict(cls, data: Any) -> ArchSpec:
        return _from_plain(cls, data, "")

    @classmethod
    def from_json(cls, text: str) -> ArchSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SpecError(f"<json>: {e}") from None
        return cls.from_dict(data)

    @cached_property
    def hash(self) -> str:
        """Stable 16-hex-digit id: sha1 of the canonical JSON."""
        return hashlib.sha1(self.to_json().encode()).hexdigest()[:16]

    @property
    def num_cells(self) -> int:
        return len(self.cells)

    def build(self, num_classes: int = 10, in_channels: int = 3) -> nn.Module:
        """A freshly initialised ``nn.Module`` for ``(B, in_channels, image_size, image_size)`` inputs."""
        from .blocks import Net

        return Net(self, num_classes, in_channels)


_CLASSES = (ArchSpec, StemSpec, CellSpec, NodeSpec, HeadSpec)
_hints = cache(get_type_hints)


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, tuple):
        return [_to_plain(v) for v in obj]
    return obj


def _from_plain(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise SpecError(f"{path or '<spec>'}: expected an object, got {type(data).__name__}")
    hints = _hints(cls)
    known = {f.name for f in fields(cls)}
    for key in data:
        if key not in known:
            raise SpecError(f"{_join(path, key)}: unknown field; known: {', '.join(sorted(known))}")
    kwargs = {}
    for f in fields(cls):
        sub = _join(path, f.name)
        if f.name not in data:
            if f.default is dataclasses.MISSING:
                raise SpecError(f"{sub}: missing")
            continue
        value, hint = data[f.name], hints[f.name]
        if hint in _CLASSES:
            value = _from_plain(hint, value, sub)
        elif getattr(hint, "__origin__", None) is tuple:
            if not isinstance(value, list):
                raise SpecError(f"{sub}: expected a list, got {type(value).__name__}")
            item = hint.__args__[0]
            if item in _CLASSES:
                value = tuple(_from_plain(item, v, f"{sub}[{i}]") for i, v in enumerate(value))
            else:
                value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check_fields(obj: Any, path: str) -> None:
    """Type-check every scalar field of a dataclass (bool is not an int; int is accepted as float)."""
    hints = _hints(type(obj))
    for f in fields(obj):
        value, hint, sub = getattr(obj, f.name), hints[f.name], _join(path, f.name)
        if hint in (int, str, bool, float):
            ok = isinstance(value, hint) and not (hint is int and isinstance(value, bool))
            if hint is float:
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not ok:
                raise SpecError(f"{sub}: expected {hint.__name__}, got {type(value).__name__} {value!r}")
        elif hint in _CLASSES:
            if not isinstance(value, hint):
                raise SpecError(f"{sub}: expected {hint.__name__}, got {type(value).__name__}")
        elif getattr(hint, "__origin__", None) is tuple:
            if not isinstance(value, tuple):
                raise SpecError(f"{sub}: expected a tuple, got {type(value).__name__}")
            item = hint.__args__[0]
            for i, v in enumerate(value):
                ok = isinstance(v, item) and not (item is int and isinstance(v, bool))
                if not ok:
                    raise SpecError(f"{sub}[{i}]: expected {item.__name__}, got {type(v).__name__} {v!r}")


def _choice(value: str, allowed: Any, path: str, what: str) -> None:
    if value not in allowed:
        raise SpecError(f"{path}: unknown {what} {value!r}; known: {', '.join(allowed)}")


def _positive(value: int, path: str) -> None:
    if value <= 0:
        raise SpecError(f"{path}: must be positive, got {value}")


def _validate(spec: ArchSpec) -> None:
    _check_fields(spec, "")
    _choice(spec.family, list(FAMILIES), "family", "family")
    _choice(spec.norm, list(NORMS), "norm", "norm")
    _choice(spec.act, list(ACTS), "act", "activation")
    _positive(spec.image_size, "image_size")

    stem = spec.stem
    _check_fields(stem, "stem")
    _choice(stem.kind, STEM_KINDS, "stem.kind", "stem kind")
    _positive(stem.channels, "stem.channels")
    _positive(stem.kernel, "stem.kernel")
    _positive(stem.stride, "stem.stride")
    if stem.kind in ("patch", "tokens") and stem.kernel != stem.stride:
        raise SpecError(f"stem.stride: a {stem.kind} stem needs stride == kernel, got {stem.stride} != {stem.kernel}")
    if stem.cls_token and stem.kind != "tokens":
        raise SpecError("stem.cls_token: only a 'tokens' stem has a class token")
    if stem.kind == "tokens" and spec.image_size % stem.stride:
        raise SpecError(f"stem.stride: patch {stem.stride} does not divide image_size {spec.image_size}")
    if stem.kind == "tokens" and spec.norm not in ("ln", "none"):
        raise SpecError(f"norm: token (ViT) nets use 'ln' or 'none', got {spec.norm!r}")

    if not spec.cells:
        raise SpecError("cells: a net needs at least one cell")
    channels = stem.channels
    for i, cell in enumerate(spec.cells):
        path = f"cells[{i}]"
        _check_fields(cell, path)
        _validate_cell(cell, channels, spec, path)
        channels = cell.channels

    head = spec.head
    _check_fields(head, "head")
    _choice(head.pool, POOLS, "head.pool", "pool")
    if head.hidden < 0:
        raise SpecError(f"head.hidden: must be >= 0, got {head.hidden}")
    if head.pool == "cls" and not stem.cls_token:
        raise SpecError("head.pool: 'cls' pooling needs stem.cls_token")


def _validate_cell(cell: CellSpec, c_in: int, spec: ArchSpec, path: str) -> None:
    _choice(cell.kind, CELL_KINDS, f"{path}.kind", "cell kind")
    if cell.kind not in FAMILIES[spec.family]:
        raise SpecError(
            f"{path}.kind: {cell.kind!r} not allowed in family {spec.family!r}; "
            f"allowed: {', '.join(FAMILIES[spec.family])}"
        )
    tokens = spec.stem.kind == "tokens"
    if tokens != (cell.kind == "transformer"):
        raise SpecError(f"{path}.kind: transformer cells go with a 'tokens' stem and only there")
    _positive(cell.channels, f"{path}.channels")
    if cell.stride not in (1, 2):
        raise SpecError(f"{path}.stride: must be 1 or 2, got {cell.stride}")
    if tokens and cell.stride != 1:
        raise SpecError(f"{path}.stride: transformer cells keep the token grid, stride must be 1")
    if tokens and cell.channels != c_in:
        raise SpecError(f"{path}.channels: transformer cells keep the width {c_in}, got {cell.channels}")
    if cell.kernel <= 0 or cell.kernel % 2 == 0:
        raise SpecError(f"{path}.kernel: must be a positive odd number, got {cell.kernel}")
    _positive(cell.groups, f"{path}.groups")
    if not 0 <= cell.layer_scale < math.inf:
        raise SpecError(f"{path}.layer_scale: must be finite and >= 0, got {cell.layer_scale}")
    if cell.kind in _HIDDEN_KINDS:
        _positive(cell.hidden, f"{path}.hidden")
        if cell.hidden % cell.groups:
            raise SpecError(f"{path}.groups: {cell.groups} does not divide hidden {cell.hidden}")
    elif cell.hidden != 0:
        raise SpecError(f"{path}.hidden: unused by {cell.kind!r} cells, must be 0")
    if cell.kind == "transformer":
        _positive(cell.heads, f"{path}.heads")
        if cell.channels % cell.heads:
            raise SpecError(f"{path}.heads: {cell.heads} does not divide channels {cell.channels}")
    elif cell.heads != 0:
        raise SpecError(f"{path}.heads: unused by {cell.kind!r} cells, must be 0")
    if cell.kind == "dag":
        _validate_dag(cell, path)
    elif cell.nodes:
        raise SpecError(f"{path}.nodes: only 'dag' cells have nodes")


def _validate_dag(cell: CellSpec, path: str) -> None:
    _choice(cell.output, MERGES, f"{path}.output", "merge")
    if not cell.nodes:
        raise SpecError(f"{path}.nodes: a dag cell needs at least one node")
    n = len(cell.nodes)
    for j, node in enumerate(cell.nodes):
        sub = f"{path}.nodes[{j}]"
        if not isinstance(node, NodeSpec):
            raise SpecError(f"{sub}: expected NodeSpec, got {type(node).__name__}")
        _check_fields(node, sub)
        _choice(node.op, list(OPS), f"{sub}.op", "op")
        _choice(node.combine, MERGES, f"{sub}.combine", "merge")
        if not node.inputs:
            raise SpecError(f"{sub}.inputs: a node needs at least one input")
        if len(set(node.inputs)) != len(node.inputs):
            raise SpecError(f"{sub}.inputs: repeated input in {list(node.inputs)}")
        for k in node.inputs:
            if not 0 <= k <= n:
                raise SpecError(f"{sub}.inputs: {k} out of range 0..{n} (0 = cell input, k = node k-1)")
    cycle = _find_cycle(cell.nodes)
    if cycle:
        loop = " -> ".join(f"nodes[{k}]" for k in cycle)
        raise SpecError(f"{path}.nodes[{cycle[0]}].inputs: cycle in cell DAG: {loop}")
    for j, node in enumerate(cell.nodes):
        later = [k for k in node.inputs if k > j]
        if later:
            raise SpecError(
                f"{path}.nodes[{j}].inputs: reads node {later[0] - 1}, listed later; list nodes in topological order"
            )


def _find_cycle(nodes: tuple[NodeSpec, ...]) -> list[int] | None:
    """A cycle among nodes (as node indices, first repeated at the end), or None."""
    state = [0] * len(nodes)  # 0 new, 1 on stack, 2 done
    stack: list[int] = []

    def visit(j: int) -> list[int] | None:
        state[j] = 1
        stack.append(j)
        for k in nodes[j].inputs:
            if k == 0:
                continue
            dep = k - 1
            if state[dep] == 1:
                return stack[stack.index(dep):] + [dep]
            if state[dep] == 0:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[j] = 2
        return None

    for j in range(len(nodes)):
        if state[j] == 0:
            found = visit(j)
            if found:
                return found
    return None
