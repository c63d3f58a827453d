"""``Vocab``: the names behind a GHN's embedding rows, saved with every checkpoint.

An embedding row of the GHN stands for an operation kind, a parameter role or a decoding
transform. Which row means which name is the checkpoint's business, not the order of a list in
today's code: a checkpoint carries its ``Vocab``, the GHN builds its embedding tables from it, and
indices computed with the current registry are mapped onto the saved rows when a batch is
embedded. A kind the checkpoint never saw (a registry row added later) uses its ``unknown`` row,
so adding an operation to the registry never breaks a shipped checkpoint.

The float node features have a fixed layout, named by ``features`` (``FEATURE_SPEC``); a
checkpoint whose layout differs is refused with a clear error instead of being misread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

from graphparam.errors import GraphparamError
from graphparam.graph.registry import KINDS
from graphparam.model.embed import NODE_FEATURES, ROLES
from graphparam.model.normalize import TRANSFORMS

__all__ = ["Vocab", "VocabError", "FEATURE_SPEC", "index_map"]

FEATURE_SPEC = f"node-v1/{NODE_FEATURES}"
"""Version and width of the float node features (``graphparam.model.embed.node_features``)."""

UNKNOWN = "unknown"


class VocabError(GraphparamError, ValueError):
    """A checkpoint's vocabulary that this graphparam cannot map (e.g. another feature layout)."""


@dataclass(frozen=True)
class Vocab:
    """Names of the embedding rows: operation kinds, parameter roles, decoding transforms."""

    kinds: tuple[str, ...]
    roles: tuple[str, ...]
    transforms: tuple[str, ...]
    features: str = FEATURE_SPEC

    def __post_init__(self) -> None:
        if UNKNOWN not in self.kinds:
            raise VocabError(f"a vocabulary's kinds must contain {UNKNOWN!r}")
        for name in ("kinds", "roles", "transforms"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise VocabError(f"vocabulary {name} has duplicates")

    @classmethod
    def current(cls) -> "Vocab":
        """The vocabulary of this version of the code (what a new GHN is built with)."""
        return cls(tuple(KINDS), tuple(r.value for r in ROLES), tuple(TRANSFORMS))

    def to_dict(self) -> dict[str, Any]:
        return {"kinds": list(self.kinds), "roles": list(self.roles), "transforms": list(self.transforms),
                "features": self.features}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Vocab":
        try:
            return cls(tuple(data["kinds"]), tuple(data["roles"]), tuple(data["transforms"]),
                       str(data.get("features", FEATURE_SPEC)))
        except (KeyError, TypeError) as exc:
            raise VocabError(f"malformed vocabulary: {exc}") from None

    def check_features(self) -> None:
        if self.features != FEATURE_SPEC:
            raise VocabError(f"the checkpoint's node features are {self.features!r}; this graphparam computes "
                             f"{FEATURE_SPEC!r}: use the graphparam version that wrote it")
        missing = sorted(set(r.value for r in ROLES) - set(self.roles))
        if missing:
            raise VocabError(f"the checkpoint's vocabulary lacks the role(s) {', '.join(missing)}")


def index_map(current: Sequence[str], saved: Sequence[str], fallback: int | None) -> torch.Tensor:
    """``m[i]`` = the saved row of the name ``current[i]``; names not saved map to ``fallback``."""
    pos = {name: i for i, name in enumerate(saved)}
    rows = []
    for name in current:
        if name in pos:
            rows.append(pos[name])
        elif fallback is None:
            raise VocabError(f"{name!r} has no row in the checkpoint's vocabulary")
        else:
            rows.append(fallback)
    return torch.tensor(rows, dtype=torch.long)
