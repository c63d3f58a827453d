"""Graph transformer layers: pre-norm multi-head attention biased by shortest-path distances.

Attention between nodes i and j gets, per head, a learned bias ``fwd[d_fwd(i,j)] + bwd[d_bwd(i,j)]``
(distances capped at ``max_distance``, one more bucket for "no path"); pairs with no path in
either direction and padding are masked (``-inf``); a node always attends to itself. Each layer
has its own tables, looked up from the int16 pair-bucket matrix of the batch into a float mask
handed to :func:`torch.nn.functional.scaled_dot_product_attention` (fused kernels on GPU;
autocast-safe: the mask is cast to the query dtype).

Memory: the float mask and the attention weights cost ``B * heads * N * N`` floats per layer
(N = largest graph of the batch; the int16 pair matrix adds ``2 * B * N * N`` bytes once). Above
``dense_attn_limit`` floats (default 32 Mi floats = 128 MiB) the queries are processed in blocks
of ``attn_block`` nodes, so only ``B * heads * attn_block * N`` floats are live at once in
inference (8 heads × 512 × 2,600 × 4 B = 43 MB for a 2,600-node graph). Under autograd each
block's mask and attention weights are kept for backward, i.e. ≈ 2 × ``heads * N²`` floats per
layer (≈ 430 MB per layer for N = 2,600 and 8 heads). Measured on CPU for a 2,602-node graph
(a 1,300-layer plain net), forward + backward through all decoded tensors: ``small`` peaks at
≈ 1.0 GiB above the process baseline, ``base`` (6 layers, 8 heads) at ≈ 1.3 GiB more; far within
24 GiB.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class DistanceBias(nn.Module):
    """Per-head bias table over all (forward bucket, backward bucket) pairs, plus a masked entry."""

    def __init__(self, heads: int, max_distance: int):
        super().__init__()
        self.m = max_distance + 2
        self.fwd = nn.Parameter(torch.zeros(self.m, heads))
        self.bwd = nn.Parameter(torch.zeros(self.m, heads))
        nn.init.normal_(self.fwd, std=0.02)
        nn.init.normal_(self.bwd, std=0.02)

    def table(self) -> torch.Tensor:
        """``(M*M + 1) × heads``: index ``f*M + b``; the last row is ``-inf``."""
        t = (self.fwd[:, None, :] + self.bwd[None, :, :]).reshape(self.m * self.m, -1)
        return torch.cat([t, torch.full_like(t[:1], float("-inf"))], dim=0)


class GraphAttention(nn.Module):
    def __init__(self, hidden: int, heads: int, max_distance: int, dropout: float = 0.0):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.bias = DistanceBias(heads, max_distance)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, pair: torch.Tensor, block: int | None) -> torch.Tensor:
        b, n, d = x.shape
        h = self.heads
        q, k, v = self.qkv(x).view(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4)  # each B×H×N×dh
        table = self.bias.table()
        p = self.dropout if self.training else 0.0
        if block is None or block >= n:
            mask = F.embedding(pair.long(), table).permute(0, 3, 1, 2).to(q.dtype)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        else:
            outs = []
            for s in range(0, n, block):
                mask = F.embedding(pair[:, s:s + block].long(), table).permute(0, 3, 1, 2).to(q.dtype)
                outs.append(F.scaled_dot_product_attention(q[:, :, s:s + block], k, v, attn_mask=mask, dropout_p=p))
            out = torch.cat(outs, dim=2)
        return self.out(out.transpose(1, 2).reshape(b, n, d))


class GraphTransformerLayer(nn.Module):
    """``x + Attn(LN(x))`` then ``x + MLP(LN(x))``."""

    def __init__(self, hidden: int, heads: int, max_distance: int, mlp_ratio: float = 2.0, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden)
        self.attn = GraphAttention(hidden, heads, max_distance, dropout)
        self.norm2 = nn.LayerNorm(hidden)
        width = int(hidden * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(hidden, width), nn.GELU(), nn.Linear(width, hidden))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, pair: torch.Tensor, block: int | None) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x), pair, block))
        return x + self.drop(self.mlp(self.norm2(x)))


class GraphTransformer(nn.Module):
    """A stack of :class:`GraphTransformerLayer` and a final LayerNorm."""

    def __init__(self, hidden: int, layers: int, heads: int, max_distance: int, mlp_ratio: float = 2.0,
                 dropout: float = 0.0, attn_block: int = 512, dense_attn_limit: int = 32 * 1024 * 1024):
        super().__init__()
        self.heads = heads
        self.layers = nn.ModuleList(GraphTransformerLayer(hidden, heads, max_distance, mlp_ratio, dropout)
                                    for _ in range(layers))
        self.norm = nn.LayerNorm(hidden)
        self.attn_block, self.dense_attn_limit = attn_block, dense_attn_limit

    def forward(self, x: torch.Tensor, pair: torch.Tensor) -> torch.Tensor:
        b, n = pair.shape[:2]
        block = None if b * self.heads * n * n <= self.dense_attn_limit else self.attn_block
        if block is None:
            pair = pair.long()  # once for all layers (blocks convert their slice on the fly)
        for layer in self.layers:
            x = layer(x, pair, block)
        return self.norm(x)
