"""``GHNConfig``: every size and switch of the graph hypernetwork, plus the named presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

from graphparam.errors import ConfigError

TILE_LAYOUTS = ("permuted", "repeat")
"""How copies of a decoded tile cover a weight larger than it (:func:`graphparam.model.tiles.tile_layout`)."""


@dataclass(frozen=True)
class GHNConfig:
    """Sizes of the GHN.

    Encoder: node embedding of width ``hidden``, then ``layers`` pre-norm graph-transformer
    layers with ``heads`` heads whose attention is biased by forward/backward shortest-path
    distances capped at ``max_distance``. Decoder (:mod:`graphparam.model.decoder`): each weight
    slot reads a ``tile × tile × 3×3`` block out of its conditioning (node state, role, slot index,
    sizes), laid over its rows and columns as copies (``tile_layout``) and cropped or interpolated
    to the kernel, then standardized to the slot's target std; vectors (biases, norm scales, ...)
    are read from sinusoidal channel features (``channel_freqs``) through a basis of width
    ``decoder_hidden``. Vector and weight scales are bounded by the fields below
    (:mod:`graphparam.model.normalize`).

    ``attn_block`` bounds memory: attention is computed over query blocks of at most that many
    nodes when ``B * heads * N * N`` exceeds ``dense_attn_limit`` floats. ``predict_many`` splits
    its graphs into size buckets of at most ``bucket_pairs`` padded node pairs.
    """

    hidden: int = 128
    layers: int = 4
    heads: int = 4
    mlp_ratio: float = 2.0
    max_distance: int = 8
    decoder_hidden: int = 128        # width of the vector decoder's channel basis
    channel_freqs: int = 16          # sinusoidal frequencies of a channel index (periods 2 .. 2**freqs)
    dropout: float = 0.0
    # bounds of the operation-dependent normalization (see graphparam.model.normalize)
    weight_gain_range: float = 2.0   # learned factor on the weight std lies in [1/x, x]
    scale_bound: float = 0.5         # norm scales in 1 ± scale_bound
    shift_bound: float = 0.1         # biases / norm shifts in ± shift_bound
    slot_features: bool = True       # a slot's decoded sizes (log-size code) enter its conditioning
    node_gate: float = 4.0           # initial value of the learned weight of the node state in a slot's decoder
                                     # conditioning (4 keeps layers of one shape apart: deep nets without norms
                                     # stay stable)
    depth_scale: float = 1.0         # initial weight of the sinusoidal absolute-depth code in node embeddings
    embed_std: float = 0.02          # std of embeddings, positional embeddings, class tokens
    head_scale: float = 1.0          # the classifier's weight std is this times its fan-in std: the presets
                                     # start it at 0.1, near-zero logits, so that the first steps do not learn
                                     # to shrink every net's output to the uniform guess (seed race,
                                     # experiments/results/seed_race.md); 1.0 in checkpoints made before it
    layer_scale_init: float = 0.1    # layer scales in [init/10, init*10], init at start
    tile: int = 32                   # rows/cols of the decoded weight tile (3x3 kernel positions)
    tile_layout: str = "permuted"    # how copies of the tile cover a weight wider than it (graphparam.model.tiles):
                                     # "permuted" (shifted, signed copies: no channel repeats) or "repeat"
                                     # (plain copies: channel c means tile index c mod tile in every layer)
    channel_order: bool = True       # with "repeat": decode a weight's rows and columns at the positions its
                                     # channels flow to through concatenations, slices and shuffles
                                     # (graphparam.graph.channels); False reads every weight in order
    channel_ties: bool = True        # with channel_order: channels that a sum or a gate combines share a position
    # memory
    attn_block: int = 512
    dense_attn_limit: int = 32 * 1024 * 1024
    bucket_pairs: int = 4 * 1024 * 1024  # predict_many: padded B*N*N per encoder pass

    def __post_init__(self) -> None:
        if self.hidden % self.heads:
            raise ConfigError(f"hidden={self.hidden} must be divisible by heads={self.heads}")
        for key in ("hidden", "layers", "heads", "decoder_hidden", "channel_freqs", "attn_block"):
            if int(getattr(self, key)) <= 0 and not (key == "layers" and self.layers == 0):
                raise ConfigError(f"{key} must be positive, got {getattr(self, key)}")
        if self.max_distance < 1:
            raise ConfigError(f"max_distance must be >= 1, got {self.max_distance}")
        if self.tile_layout not in TILE_LAYOUTS:
            raise ConfigError(f"tile_layout must be one of {', '.join(TILE_LAYOUTS)}, got {self.tile_layout!r}")

    # ---- presets -------------------------------------------------------------------------------
    @classmethod
    def named(cls, name: str, **overrides: Any) -> "GHNConfig":
        """A preset: ``"tiny"``, ``"small"``, ``"base"`` or ``"large"`` (fields can be overridden)."""
        if name not in NAMED:
            raise ConfigError(f"unknown GHN config {name!r}; known: {', '.join(NAMED)}")
        return dataclasses.replace(NAMED[name], **overrides)

    # ---- (de)serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def identity(self) -> dict[str, Any]:
        """:meth:`to_dict` without the :data:`LATER_FIELDS` that hold the value checkpoints made before them
        decode with: what a GHN's fingerprint hashes, so that adding an option keeps every cached result."""
        return {k: v for k, v in self.to_dict().items() if k not in LATER_FIELDS or v != LATER_FIELDS[k]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GHNConfig":
        """A config from its dict (e.g. a checkpoint's ``config.json``). A missing :data:`LATER_FIELDS` field
        takes the value checkpoints made before it decode with. Fields of removed options
        (:data:`REMOVED_FIELDS`) are dropped when they hold the value this code always uses, and
        refused with a :class:`ConfigError` otherwise."""
        data = {**LATER_FIELDS, **data}
        for key, (value, why) in REMOVED_FIELDS.items():
            if key in data:
                held = data.pop(key)
                if value is not ANY and held != value:
                    raise ConfigError(f"{key}={held!r} is no longer supported: {why}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown GHNConfig field(s): {', '.join(unknown)}")
        return cls(**data)


LATER_FIELDS: dict[str, Any] = {"tile_layout": "permuted", "channel_order": False, "channel_ties": False}
"""Fields added after checkpoints were made, with the value those checkpoints decode with."""

RUNTIME_FIELDS = ("attn_block", "dense_attn_limit", "bucket_pairs")
"""Memory knobs of a run: they change no result, so checkpoints do not save them."""

ANY = object()
_LOWRANK_ONLY = "an option of the removed low-rank decoder, without effect on the tile decoder"
REMOVED_FIELDS: dict[str, tuple[Any, str]] = {
    "decoder": ("tile", "checkpoints with the low-rank decoder are no longer supported (the tile decoder is the "
                        "only one)"),
    "tile_scale": ("standardize", "checkpoints with tile_scale='fan_in' are no longer supported (every tile is "
                                  "standardized to its target std)"),
    "rank": (ANY, _LOWRANK_ONLY),
    "decoder_freq": (ANY, _LOWRANK_ONLY),
    "structured_share": (ANY, _LOWRANK_ONLY),
    "centre_inputs": (ANY, _LOWRANK_ONLY),
    "in_features": (ANY, _LOWRANK_ONLY),
}
"""Fields that older checkpoints' ``config.json`` carry: ``field: (value this code always uses, why)``.
``ANY``: the field only configured the removed low-rank decoder, so any value is dropped (the
``decoder`` field says whether that decoder was used)."""

NAMED: dict[str, GHNConfig] = {
    "tiny": GHNConfig(hidden=64, layers=2, heads=4, decoder_hidden=64, head_scale=0.1),
    "small": GHNConfig(hidden=128, layers=4, heads=4, decoder_hidden=128, head_scale=0.1),
    "base": GHNConfig(hidden=256, layers=6, heads=8, decoder_hidden=192, head_scale=0.1),
    "large": GHNConfig(hidden=384, layers=8, heads=8, decoder_hidden=256, head_scale=0.1),
}
