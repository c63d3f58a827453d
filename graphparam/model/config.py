"""``GHNConfig``: every size and switch of the graph hypernetwork, plus the named presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

from graphparam.errors import ConfigError


@dataclass(frozen=True)
class GHNConfig:
    """Sizes of the GHN.

    Encoder: node embedding of width ``hidden``, then ``layers`` pre-norm graph-transformer
    layers with ``heads`` heads whose attention is biased by forward/backward shortest-path
    distances capped at ``max_distance``. Decoder (``decoder="tile"``, the default): each weight
    slot reads a ``tile × tile × 3×3`` block out of its conditioning (node state, role, slot index,
    sizes), repeated over rows and columns and cropped or interpolated to the kernel, then
    standardized to the slot's target std; ``decoder="lowrank"``: rank-``rank`` factors from shared
    channel bases of width ``decoder_hidden``, a weight being ``cos θ · Z + sin θ · √2
    sin(decoder_freq · Z)`` of the low-rank ``Z`` (see :mod:`graphparam.model.decoder`; it fits nets
    far more slowly, experiments/results/fit_speed.md). Vector and weight scales are bounded by the
    fields below (:mod:`graphparam.model.normalize`).

    ``attn_block`` bounds memory: attention is computed over query blocks of at most that many
    nodes when ``B * heads * N * N`` exceeds ``dense_attn_limit`` floats. ``predict_many`` splits
    its graphs into size buckets of at most ``bucket_pairs`` padded node pairs.
    """

    hidden: int = 128
    layers: int = 4
    heads: int = 4
    mlp_ratio: float = 2.0
    max_distance: int = 8
    rank: int = 32
    decoder_hidden: int = 128
    channel_freqs: int = 16          # sinusoidal frequencies of a channel index (periods 2 .. 2**freqs)
    dropout: float = 0.0
    # bounds of the operation-dependent normalization (see graphparam.model.normalize)
    weight_gain_range: float = 2.0   # learned factor on the weight std lies in [1/x, x]
    scale_bound: float = 0.5         # norm scales in 1 ± scale_bound
    shift_bound: float = 0.1         # biases / norm shifts in ± shift_bound
    slot_features: bool = True       # a slot's decoded sizes (log-size code) enter its conditioning
    node_gate: float = 4.0           # initial weight of the node state in a slot's decoder conditioning (learned;
                                     # 4 keeps layers of one shape apart: deep nets without norms stay stable)
    depth_scale: float = 1.0         # initial weight of the sinusoidal absolute-depth code in node embeddings
    embed_std: float = 0.02          # std of embeddings, positional embeddings, class tokens
    head_scale: float = 1.0          # the classifier's weight std is this times its fan-in std: the presets
                                     # start it at 0.1, near-zero logits, so that the first steps do not learn
                                     # to shrink every net's output to the uniform guess (seed race,
                                     # experiments/results/seed_race.md); 1.0 in checkpoints made before it
    layer_scale_init: float = 0.1    # layer scales in [init/10, init*10], init at start
    decoder_freq: float = 6.0        # frequency of the high-rank part sin(freq * Z) of a decoded weight
    structured_share: float = 0.05   # share of a weight's variance in the low-rank part at init (1 = pure low rank)
    centre_inputs: bool = True       # every output's weights sum to zero over its in-channels (per kernel tap)
    in_features: str = "hash"        # in-channel features of the decoder: "hash" (pseudo-random) or "sine"
    decoder: str = "tile"            # matrix decoder: "tile" (GHN-2-like tile read out of the slot's
                                     # conditioning) or "lowrank" (channel bases; fits nets far more slowly,
                                     # experiments/results/fit_speed.md)
    tile: int = 32                   # tile decoder: rows/cols of the decoded tile (3x3 kernel positions)
    tile_scale: str = "standardize"  # tile decoder: "standardize" each matrix to its target std, or "fan_in":
                                     # multiply unit-variance outputs by it (GHN-2's scaling, magnitude learned)
    # memory
    attn_block: int = 512
    dense_attn_limit: int = 32 * 1024 * 1024
    bucket_pairs: int = 4 * 1024 * 1024  # predict_many: padded B*N*N per encoder pass

    def __post_init__(self) -> None:
        if self.hidden % self.heads:
            raise ConfigError(f"hidden={self.hidden} must be divisible by heads={self.heads}")
        for key in ("hidden", "layers", "heads", "rank", "decoder_hidden", "channel_freqs", "attn_block"):
            if int(getattr(self, key)) <= 0 and not (key == "layers" and self.layers == 0):
                raise ConfigError(f"{key} must be positive, got {getattr(self, key)}")
        if self.in_features not in ("hash", "sine"):
            raise ConfigError(f"in_features must be 'hash' or 'sine', got {self.in_features!r}")
        if self.decoder not in ("lowrank", "tile"):
            raise ConfigError(f"decoder must be 'lowrank' or 'tile', got {self.decoder!r}")
        if self.tile_scale not in ("standardize", "fan_in"):
            raise ConfigError(f"tile_scale must be 'standardize' or 'fan_in', got {self.tile_scale!r}")
        if self.max_distance < 1:
            raise ConfigError(f"max_distance must be >= 1, got {self.max_distance}")

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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GHNConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown GHNConfig field(s): {', '.join(unknown)}")
        return cls(**data)


RUNTIME_FIELDS = ("attn_block", "dense_attn_limit", "bucket_pairs")
"""Memory knobs of a run: they change no result, so checkpoints do not save them."""

NAMED: dict[str, GHNConfig] = {
    "tiny": GHNConfig(hidden=64, layers=2, heads=4, rank=16, decoder_hidden=64, head_scale=0.1),
    "small": GHNConfig(hidden=128, layers=4, heads=4, rank=32, decoder_hidden=128, head_scale=0.1),
    "base": GHNConfig(hidden=256, layers=6, heads=8, rank=32, decoder_hidden=192, head_scale=0.1),
    "large": GHNConfig(hidden=384, layers=8, heads=8, rank=64, decoder_hidden=256, head_scale=0.1),
}
