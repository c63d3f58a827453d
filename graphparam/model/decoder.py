"""The tensor decoder: every slot of every graph gets a tensor of exactly its shape, no size limit.

Each slot ``s`` (one parameter tensor of one node) is conditioned on::

    c_s = cond(node_gate · node_proj(h_node) + role + slot index + transform [+ slot_proj(sizes)])

with ``h_node`` the node's state from the graph transformer and ``node_gate`` a learned scalar.
Matrix slots (weights, embeddings) read a ``tile × tile × 3×3`` block out of ``c_s`` (``read_tile``)
that :mod:`.tiles` lays over the weight's rows, columns and kernel and standardizes to the slot's
target std: the operation-dependent std of :mod:`.normalize` times a learned factor
``weight_gain_range ** tanh(g(c_s))``. Vector slots (biases, norm scales/shifts, layer scales,
PReLU slopes) are decoded from channel-index features by :mod:`.vectors`, then bounded by
:func:`~graphparam.model.normalize.vector_transform`. :mod:`.assemble` puts the slots together
per graph. The read-outs and the normalization run in float32 even under autocast.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from graphparam.model.assemble import ALIGNMENT, Positions, assemble
from graphparam.model.batch import SLOT_FEATURES, GraphBatch
from graphparam.model.config import GHNConfig
from graphparam.model.embed import ROLES
from graphparam.model.normalize import TRANSFORMS, vector_transform
from graphparam.model.tiles import tile_matrices
from graphparam.model.vectors import vector_elements

__all__ = ["TensorDecoder", "ALIGNMENT"]


class TensorDecoder(nn.Module):
    def __init__(self, config: GHNConfig, role_rows: torch.Tensor | None = None, num_roles: int | None = None,
                 transform_rows: torch.Tensor | None = None, num_transforms: int | None = None):
        """``role_rows[i]`` / ``transform_rows[i]``: the embedding row of role / transform ``i`` of this
        code (a checkpoint's vocabulary decides the rows; identity when not given)."""
        super().__init__()
        if role_rows is None:
            role_rows, num_roles = torch.arange(len(ROLES)), len(ROLES)
        if transform_rows is None:
            transform_rows, num_transforms = torch.arange(len(TRANSFORMS)), len(TRANSFORMS)
        self.register_buffer("role_rows", role_rows.clone(), persistent=False)
        self.register_buffer("transform_rows", transform_rows.clone(), persistent=False)
        c = config
        self.config = c
        hid, dh = c.hidden, c.decoder_hidden
        # per-slot conditioning
        self.node_proj = nn.Sequential(nn.LayerNorm(hid), nn.Linear(hid, hid))
        self.node_gate = nn.Parameter(torch.tensor(float(c.node_gate)))
        self.role = nn.Embedding(num_roles, hid)
        self.pos = nn.Embedding(8, hid)
        self.transform = nn.Embedding(num_transforms, hid)
        self.slot_proj = nn.Linear(SLOT_FEATURES, hid)
        self.cond = nn.Sequential(nn.GELU(), nn.Linear(hid, hid), nn.GELU())
        # vectors: shared channel basis and per-slot read-out
        self.pe_e = nn.Linear(2 * c.channel_freqs, dh)
        self.read_e = nn.Linear(hid, dh + 1)
        # per-slot log std factor of a weight (output 0; output 1 is unused, kept so that checkpoints load)
        self.log_gain = nn.Linear(hid, 2)
        # matrices: the tile read out of the conditioning
        self.read_tile = nn.Sequential(nn.LayerNorm(hid), nn.Linear(hid, c.tile * c.tile * 9))
        nn.init.normal_(self.read_tile[1].weight, std=1.0 / math.sqrt(hid))  # unit-variance outputs
        nn.init.zeros_(self.read_tile[1].bias)
        for emb in (self.role, self.pos, self.transform):
            nn.init.normal_(emb.weight, std=0.5)
        nn.init.normal_(self.pe_e.weight, std=1.0 / math.sqrt(2 * c.channel_freqs))
        nn.init.uniform_(self.pe_e.bias, -1.0, 1.0)
        # untrained: learned gains are exactly 1 and vectors start near their neutral values
        nn.init.zeros_(self.log_gain.weight)
        nn.init.zeros_(self.log_gain.bias)
        nn.init.normal_(self.read_e.weight, std=0.01 / math.sqrt(hid))
        nn.init.zeros_(self.read_e.bias)

    def conditioning(self, nodes: torch.Tensor, batch: GraphBatch) -> torch.Tensor:
        """``c_s`` for every slot: ``S × hidden``."""
        h = nodes.reshape(-1, nodes.shape[-1]).index_select(0, batch.slot_node)
        c = (self.node_gate * self.node_proj(h) + self.role(self.role_rows[batch.slot_role]) + self.pos(batch.slot_pos)
             + self.transform(self.transform_rows[batch.slot_transform]))
        if self.config.slot_features:
            c = c + self.slot_proj(batch.slot_feats)
        return self.cond(c)

    def readouts(self, c: torch.Tensor, batch: GraphBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """The raw (pre-``tanh``) outputs of the bounded read-outs for conditionings ``c``: the vector elements
        (in ``batch.e_idx`` order) and each slot's weight gain (``S × 2``, column 0 used)."""
        return vector_elements(self.pe_e, self.read_e, c, batch, self.config.channel_freqs), self.log_gain(c)

    def forward(self, nodes: torch.Tensor, batch: GraphBatch,
                out: list[dict[str, torch.Tensor]] | None = None) -> list[dict[str, torch.Tensor]]:
        """Decode every slot of ``batch`` from node states ``nodes`` (B×N×hidden).

        ``out`` (no-grad use only) gives destination tensors per graph, e.g. a model's parameters:
        vectors are then written straight into them, matrices copied into them.
        """
        cfg = self.config
        c = self.conditioning(nodes, batch)
        e, gains = self.readouts(c, batch)
        with torch.autocast(device_type=c.device.type, enabled=False):
            e, g = e.float(), gains.float()[:, 0]
            vec = vector_transform(e, batch.slot_transform.index_select(0, batch.e_slot),
                                   cfg.scale_bound, cfg.shift_bound, cfg.layer_scale_init)
            std = batch.slot_std * torch.pow(cfg.weight_gain_range, torch.tanh(g))
            cond = c.float()

            def decode_matrices(idx: torch.Tensor, rows: int, cols: int, kernel: tuple[int, int], positions: Positions):
                tile = self.read_tile(cond.index_select(0, idx)).view(len(idx), cfg.tile, cfg.tile, 3, 3)
                return tile_matrices(tile, rows, cols, kernel, std.index_select(0, idx), cfg.tile_layout, positions)

            return assemble(batch, vec, decode_matrices, out)
