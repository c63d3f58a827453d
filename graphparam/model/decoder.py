"""Tensor decoders: every slot of every graph gets a tensor of exactly its shape, no size limit.

A weight is laid out as ``rows × cols × kernel`` (out channels × in channels per group × kernel
positions; tokens × features for embeddings) and decoded from rank-``r`` factors conditioned on
channel coordinates, with no tiling (every row and column has its own coordinates, so no block
and no row repeats at any width)::

    phi_u(o)    = GELU(P_u pe(o))                       shared channel basis, o < rows
    phi_v(i, k) = GELU(P_v he(i) + Q_v kpe(k | kernel))  shared basis of (in channel, kernel offset)
    U_s = phi_u(0..rows-1) @ M_u(c_s)                   rows × r
    V_s = phi_v(0..cols-1, 0..K-1) @ M_v(c_s)           cols·K × r
    W_s = norm(phi(centre(U_s) centre(V_s)^T))          reshaped to the slot's shape

``pe`` is sinusoidal features of the integer channel index (periods ``2**(j+0.5)``,
``j < channel_freqs``; defined for every index, so any width decodes), ``he`` hashed pseudo-random
features of the in-channel index (see :func:`index_hash_encoding`), ``kpe`` the centred offset
inside the kernel and the kernel size (1×1 ... 11×11 and beyond), ``c_s`` the slot's
conditioning vector (node state from the graph transformer, role, slot index, decoded sizes) and
``M_u(c_s)``, ``M_v(c_s)`` per-slot ``decoder_hidden × r`` read-out matrices generated from it.
Centring ``U`` and ``V`` over their rows gives every row and column of ``U Vᵀ`` zero mean (no
rank-1 common mode). ``phi`` is the identity (``decoder_slope == 0``: the std of ``U Vᵀ`` then
follows exactly from the r×r Gram matrices and is folded into ``U`` before a single matmul) or
``tanh(slope · rms(U) rms(V)ᵀ / sqrt(r))``, an elementwise nonlinearity that lifts the rank of
``W`` far above ``r`` at the cost of two more passes over the tensor (measured in
experiments/results/predict.md). ``norm`` is the operation-dependent scaling of
:mod:`graphparam.model.normalize`.

Vectors (biases, norm scales/shifts, layer scales, PReLU slopes) are ``phi_e(c) · m(c_s) + b(c_s)``
then a bounded transform. The bases are computed once per batch for all indices; the read-out
matrices once per slot in one call; only the per-slot products loop over slots. The product and
the normalization run in float32 even under autocast.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from graphparam.model.batch import SLOT_FEATURES, GraphBatch
from graphparam.model.config import GHNConfig
from graphparam.model.embed import ROLES
from graphparam.model.normalize import TRANSFORMS, vector_transform

KERNEL_FREQS = (0.5, 1.0, 2.0)
KERNEL_FEATURES = 2 * (2 + 2 * len(KERNEL_FREQS))
ALIGNMENT = 16  # bytes: every predicted tensor starts at an address aligned to this


@functools.lru_cache(maxsize=64)
def index_encoding(n: int, freqs: int, device: torch.device) -> torch.Tensor:
    """Sines and cosines of channel indices ``0..n-1`` at periods ``2**(j + 0.5)``: ``n × 2*freqs``
    (a constant: cached per size and device)."""
    with torch.inference_mode(False), torch.no_grad():  # a plain constant, usable under autograd later
        periods = 2.0 ** (torch.arange(freqs, device=device, dtype=torch.float32) + 0.5)
        ang = torch.arange(n, device=device, dtype=torch.float32)[:, None] * (2 * math.pi / periods)
        return torch.cat([torch.sin(ang), torch.cos(ang)], dim=1)


_M32 = 0xFFFFFFFF


@functools.lru_cache(maxsize=64)
def index_hash_encoding(n: int, dims: int, device: torch.device, positions: int = 1) -> torch.Tensor:
    """Pseudo-random features of channel indices ``0..n-1`` (unit variance, uniform).

    Returns ``n × positions × dims``: an integer hash of ``(index, position, feature)``, defined
    for every index (no size limit), the same on every device, and uncorrelated between different
    indices and kernel positions. The in-channel side of a weight uses these instead of sinusoids
    so that an output channel of one layer and the same-numbered input channel of the next, and
    the taps of one kernel, get unrelated features at init: no spurious alignment between
    consecutive layers and no spatially constant kernels, either of which makes deep nets without
    normalization explode. The mapping is fixed, so a trained GHN can still learn to coordinate
    channels across layers and to shape kernels (through the kernel-offset features). A constant:
    cached per size and device.
    """
    with torch.inference_mode(False), torch.no_grad():
        i = torch.arange(n, device=device, dtype=torch.int64)[:, None, None]
        k = torch.arange(positions, device=device, dtype=torch.int64)[None, :, None]
        j = torch.arange(dims, device=device, dtype=torch.int64)[None, None, :]
        x = (i * 0x9E3779B1 + j * 0x7FEB352D + k * 0x165667B1 + 0x27D4EB2F) & _M32
        for mult in (0x2C1B3C6D, 0x297A2D39, 0x3B9AC9FB):
            x = x ^ (x >> 15)
            x = (x * mult) & _M32
        x = x ^ (x >> 16)
        return (x.to(torch.float32) * (2.0 / 2 ** 32) - 1.0) * math.sqrt(3.0)


def kernel_encoding(kh: int, kw: int, device: torch.device) -> torch.Tensor:
    """Features of every position of a ``kh × kw`` kernel (row-major): ``kh*kw × KERNEL_FEATURES``."""
    w = torch.tensor(KERNEL_FREQS, device=device)
    parts = []
    for size, pos in ((kh, torch.arange(kh * kw, device=device) // kw), (kw, torch.arange(kh * kw, device=device) % kw)):
        c = (pos.to(torch.float32) - (size - 1) / 2)[:, None]
        parts += [c / 3, torch.sin(c * w), torch.cos(c * w), torch.full_like(c, math.log2(size) / 4)]
    return torch.cat(parts, dim=1)


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
        dh, r = c.decoder_hidden, c.rank
        self.config, self.rank, self.dh, self.freqs = c, r, dh, c.channel_freqs
        hid = c.hidden
        # per-slot conditioning
        self.node_proj = nn.Sequential(nn.LayerNorm(hid), nn.Linear(hid, hid))
        # a learned gate only where asked for, so checkpoints made before it existed still load
        self.node_gate = nn.Parameter(torch.tensor(float(c.node_gate))) if c.node_gate != 1.0 else None
        self.role = nn.Embedding(num_roles, hid)
        self.pos = nn.Embedding(8, hid)
        self.transform = nn.Embedding(num_transforms, hid)
        self.slot_proj = nn.Linear(SLOT_FEATURES, hid)
        self.cond = nn.Sequential(nn.GELU(), nn.Linear(hid, hid), nn.GELU())
        # shared channel bases and per-slot read-outs (the matrix ones only for the low-rank decoder)
        self.pe_e = nn.Linear(2 * c.channel_freqs, dh)
        self.read_e = nn.Linear(hid, dh + 1)
        if c.decoder == "lowrank":
            self.pe_u = nn.Linear(2 * c.channel_freqs, dh)
            self.pe_v = nn.Linear(2 * c.channel_freqs, dh)
            self.ke_v = nn.Linear(KERNEL_FEATURES, dh, bias=False)
            self.read_u = nn.Linear(hid, dh * r)
            self.read_v = nn.Linear(hid, dh * r)
        self.log_gain = nn.Linear(hid, 2)  # per-slot log std factor and mixing-angle offset
        if c.decoder == "tile":
            self.read_tile = nn.Sequential(nn.LayerNorm(hid), nn.Linear(hid, c.tile * c.tile * 9))
            nn.init.normal_(self.read_tile[1].weight, std=1.0 / math.sqrt(hid))  # unit-variance outputs
            nn.init.zeros_(self.read_tile[1].bias)
        # mixing angle theta at init: cos^2(theta) = structured_share of the variance is low-rank
        share = min(max(c.structured_share, 0.0), 1.0)
        theta0 = math.acos(math.sqrt(share))
        logit0 = math.log(max(theta0, 1e-6) / max(math.pi / 2 - theta0, 1e-6))
        self.register_buffer("mix_logit", torch.tensor(logit0), persistent=False)
        for emb in (self.role, self.pos, self.transform):
            nn.init.normal_(emb.weight, std=0.5)
        for lin in (self.pe_u, self.pe_v, self.pe_e) if c.decoder == "lowrank" else (self.pe_e,):
            nn.init.normal_(lin.weight, std=1.0 / math.sqrt(2 * c.channel_freqs))
            nn.init.uniform_(lin.bias, -1.0, 1.0)
        if c.decoder == "lowrank":
            nn.init.normal_(self.ke_v.weight, std=1.0 / math.sqrt(KERNEL_FEATURES))
        # untrained: learned gains are exactly 1 and vectors start near their neutral values
        nn.init.zeros_(self.log_gain.weight)
        nn.init.zeros_(self.log_gain.bias)
        nn.init.normal_(self.read_e.weight, std=0.01 / math.sqrt(hid))
        nn.init.zeros_(self.read_e.bias)

    def conditioning(self, nodes: torch.Tensor, batch: GraphBatch) -> torch.Tensor:
        """``c_s`` for every slot: ``S × hidden``."""
        h = nodes.reshape(-1, nodes.shape[-1]).index_select(0, batch.slot_node)
        node = self.node_proj(h) if self.node_gate is None else self.node_gate * self.node_proj(h)
        c = (node + self.role(self.role_rows[batch.slot_role]) + self.pos(batch.slot_pos)
             + self.transform(self.transform_rows[batch.slot_transform]))
        if self.config.slot_features:
            c = c + self.slot_proj(batch.slot_feats)
        return self.cond(c)

    def forward(self, nodes: torch.Tensor, batch: GraphBatch,
                out: list[dict[str, torch.Tensor]] | None = None) -> list[dict[str, torch.Tensor]]:
        """Decode every slot of ``batch`` from node states ``nodes`` (B×N×hidden).

        ``out`` (no-grad use only) gives destination tensors per graph, e.g. a model's parameters:
        matrices are then written straight into them, saving a copy.
        """
        cfg = self.config
        c = self.conditioning(nodes, batch)
        dev = c.device
        pe = index_encoding(batch.max_index, self.freqs, dev).to(c.dtype)
        lowrank = None
        if cfg.decoder == "lowrank":  # the tile decoder reads its matrices from c alone
            lowrank = (F.gelu(self.pe_u(pe)).float(), self.read_u(c).float(), self.read_v(c).float())
        e_read = self.read_e(c)
        basis_e = F.gelu(self.pe_e(pe))
        # every (channel index, slot) value at once, then pick the elements of the vector slots
        table = torch.addmm(e_read[:, -1], basis_e, e_read[:, :-1].t())  # max_index × S
        e = table.reshape(-1).index_select(0, batch.e_idx * e_read.shape[0] + batch.e_slot)
        gains = self.log_gain(c)
        with torch.autocast(device_type=dev.type, enabled=False):
            vec = vector_transform(e.float(), batch.slot_transform.index_select(0, batch.e_slot),
                                   cfg.scale_bound, cfg.shift_bound, cfg.layer_scale_init)
            gains = gains.float()
            std = batch.slot_std * torch.pow(cfg.weight_gain_range, torch.tanh(gains[:, 0]))
            theta = (math.pi / 2) * torch.sigmoid(self.mix_logit + gains[:, 1])
            mix = torch.stack([torch.cos(theta), torch.sin(theta)], dim=1)
            return self._assemble(batch, lowrank, c.float(), vec, std, mix, out)

    def _v_bases(self, specs, device, dtype) -> dict[tuple[int, int], torch.Tensor]:
        """``phi_v`` per kernel size, for as many in-channels as the widest slot with that kernel:
        ``cols × K × dh``; a slot uses the first ``cols`` rows."""
        widest: dict[tuple[int, int], int] = {}
        for spec in specs:
            if spec.rule.mode == "matrix":
                widest[spec.rule.kernel] = max(widest.get(spec.rule.kernel, 0), spec.rule.cols)
        bases = {}
        for kernel, cols in widest.items():
            k = kernel[0] * kernel[1]
            kfeat = self.ke_v(kernel_encoding(*kernel, device).to(dtype))  # K × dh
            if self.config.in_features == "hash":
                he = index_hash_encoding(cols, 2 * self.freqs, device, positions=k).to(dtype)
            else:
                he = index_encoding(cols, self.freqs, device).to(dtype)[:, None, :].expand(cols, k, -1)
            bases[kernel] = F.gelu(self.pe_v(he) + kfeat[None, :, :])
        return bases

    def _tile_matrices(self, cond: torch.Tensor, rows: int, cols: int, kernel: tuple[int, int],
                       target_std: torch.Tensor, eps: float = 1e-8) -> list[torch.Tensor]:
        """GHN-2-like matrices: a ``tile × tile × 3×3`` block read out of each slot's conditioning,
        centre-cropped or interpolated to the kernel, laid over the rows and columns by
        :func:`tile_layout` (shifted and signed copies, so no channel repeats), then centred and
        scaled to ``target_std``."""
        t, n = self.config.tile, cond.shape[0]
        tile = self.read_tile(cond).view(n, t, t, 3, 3)
        kh, kw = kernel
        if kh <= 3 and kw <= 3:
            y0, x0 = (3 - kh) // 2, (3 - kw) // 2
            tile = tile[..., y0:y0 + kh, x0:x0 + kw]
        else:
            tile = F.interpolate(tile.reshape(n * t * t, 1, 3, 3), size=(kh, kw), mode="bilinear",
                                 align_corners=True).view(n, t, t, kh, kw)
        k = tile.shape[-2] * tile.shape[-1]
        index, sign = tile_layout(rows, cols, t, cond.device)
        w = tile.reshape(n, t * t, k).index_select(1, index)
        w = (w.view(n, rows, cols, k) * sign[:, :, None]).reshape(n, rows, cols * k)
        if self.config.tile_scale == "fan_in":
            return list((w * target_std[:, None, None]).unbind(0))
        w = w - w.mean(dim=(1, 2), keepdim=True)
        w = w * (target_std * torch.rsqrt(w.pow(2).mean(dim=(1, 2)) + eps))[:, None, None]
        return list(w.unbind(0))

    def _assemble(self, batch: GraphBatch, lowrank, cond, vec, std, mix, out):
        """Matrices are decoded in groups of slots with the same layout (one batched op per step,
        few Python-level ops even for hundreds of slots); vectors are split from ``vec``.
        ``lowrank``: ``(basis_u, read_u, read_v)`` of the low-rank decoder, None for the tile decoder."""
        result: list[dict[str, torch.Tensor]] = [{} for _ in range(batch.num_graphs)]
        grad = torch.is_grad_enabled()
        dev = cond.device

        def destination(s: int, spec) -> torch.Tensor | None:
            if out is None or grad:
                return None
            dest = out[batch.slot_graph[s]].get(spec.name)
            if dest is not None and not (dest.dtype == torch.float32 and dest.device == dev
                                         and dest.is_contiguous() and tuple(dest.shape) == spec.shape):
                return None  # incompatible destination: decode, then copy
            return dest

        def store(s: int, spec, w: torch.Tensor, dest: torch.Tensor | None) -> None:
            g = batch.slot_graph[s]
            if dest is None:
                w = w.reshape(spec.shape)
                if w.data_ptr() % ALIGNMENT:
                    # a view into a batched buffer at an odd offset: CUDA kernels that load 16 bytes at a time
                    # (cuDNN's convolutions) fail on it with "misaligned address" (functional_call in training)
                    w = w.clone()
                if out is not None and not grad and spec.name in out[g]:
                    out[g][spec.name].copy_(w)
            result[g][spec.name] = w if dest is None else dest

        e_parts = torch.split(vec, [batch.e_off[i + 1] - batch.e_off[i] for i in range(len(batch.specs))])
        groups: dict[tuple[int, int, tuple[int, int]], list[int]] = {}
        for s, spec in enumerate(batch.specs):
            if spec.rule.mode == "matrix":
                groups.setdefault((spec.rule.rows, spec.rule.cols, spec.rule.kernel), []).append(s)
            else:
                dest = destination(s, spec)
                if dest is not None:
                    dest.copy_(e_parts[s].view(dest.shape))
                store(s, spec, e_parts[s], dest)
        if not groups:
            return result
        if lowrank is None:
            for (rows, cols, kernel), slots in groups.items():
                idx = torch.tensor(slots, device=dev)
                ws = self._tile_matrices(cond.index_select(0, idx), rows, cols, kernel, std.index_select(0, idx))
                for s, w in zip(slots, ws):
                    store(s, batch.specs[s], w, None)
            return result
        basis_u, read_u, read_v = lowrank
        freq = self.config.decoder_freq if self.config.structured_share < 1 else 0.0
        dh, r = self.dh, self.rank
        bases_v = self._v_bases(batch.specs, dev, basis_u.dtype)
        for (rows, cols, kernel), slots in groups.items():
            idx = torch.tensor(slots, device=dev)
            n = len(slots)
            u = torch.matmul(basis_u[:rows], read_u.index_select(0, idx).view(n, dh, r))   # n × rows × r
            v = torch.matmul(bases_v[kernel][:cols].reshape(-1, dh), read_v.index_select(0, idx).view(n, dh, r))
            if cols > 1 and self.config.centre_inputs:  # centre over in-channels, for every kernel position
                v = v.view(n, cols, -1, r)
                v = (v - v.mean(dim=1, keepdim=True)).view(n, -1, r)
            dests = [destination(s, batch.specs[s]) for s in slots]
            ws = decode_matrices(u, v, std.index_select(0, idx), mix.index_select(0, idx), freq, dests)
            for s, w, dest in zip(slots, ws, dests):
                store(s, batch.specs[s], w, dest)
        return result


@functools.lru_cache(maxsize=32)
def tile_layout(rows: int, cols: int, t: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Where entry ``(r, c)`` of a ``rows × cols`` matrix reads a ``t × t`` tile, and its sign.

    Block ``(rb, cb)`` of ``t × t`` entries reads the tile through affine permutations
    ``j -> (m j + shift) mod t`` of its columns (``m`` and the shift set by ``rb``) and of its rows
    (set by ``cb``), times a fixed pseudo-random sign; block ``(0, 0)`` is the tile itself. Plain
    repetition (GHN-2's tiling) makes output channels ``t`` apart identical, so the next layer sums
    copies of one input and the activations of a wide or deep net grow with the number of blocks;
    permuted copies are different filters (distinct rows for up to ``t²/2 · t`` rows). Returns the
    flat tile index (``rows*cols``, int64) and the signs (``rows × cols``); cached constants.
    """
    with torch.inference_mode(False), torch.no_grad():
        units = torch.tensor([m for m in range(1, t + 1) if math.gcd(m, t) == 1], device=device)
        r = torch.arange(rows, device=device)[:, None]
        c = torch.arange(cols, device=device)[None, :]
        rb, cb = r // t, c // t
        ti = (units[(cb // t) % len(units)] * (r % t) + 11 * cb) % t
        tj = (units[(rb // t) % len(units)] * (c % t) + 7 * rb) % t
        x = (rb * 0x9E3779B1 + cb * 0x85EBCA77 + 0x165667B1) & _M32
        x = ((x ^ (x >> 15)) * 0x2C1B3C6D) & _M32
        sign = torch.where(((x >> 13) & 1).bool() & ((rb + cb) > 0), -1.0, 1.0)
        return (ti * t + tj).reshape(-1), sign


def decode_matrices(u: torch.Tensor, v: torch.Tensor, target_std: torch.Tensor, mix: torch.Tensor, freq: float,
                    dests: list[torch.Tensor | None] | None = None, eps: float = 1e-8) -> list[torch.Tensor]:
    """``n`` matrices ``rows × cols`` with (near) zero mean and std ``target_std`` from rank-r factors
    ``u`` (n × rows × r) and ``v`` (n × cols × r).

    ``U`` is centred over its rows here and ``V`` over its in-channels for each kernel position by
    the caller, so every column of ``Z = U Vᵀ`` and every (row, kernel position) sum has zero mean
    (a dimension of size 1 is left alone); ``Z`` is scaled to unit RMS exactly through the r×r
    Gram matrices, ``mean(Z²) = <UᵀU, VᵀV> / (rows·cols)``. Then, with ``mix = (cos θ, sin θ)``::

        W ∝ cos θ · Z + sin θ · √2 sin(freq · Z)

    the structured low-rank part plus a high-rank part (the elementwise sine of a low-rank matrix
    is full rank); its std is measured on a strided sub-grid of at most 64×256 entries and set to
    ``target_std``. ``freq == 0`` gives the plain low-rank product (a single matmul). Without
    autograd, matrices are written straight into ``dests`` where given (e.g. model parameters).
    """
    n, rows, _ = u.shape
    cols = v.shape[1]
    if rows > 1:
        u = u - u.mean(dim=1, keepdim=True)
    ms = (u.transpose(1, 2) @ u).mul(v.transpose(1, 2) @ v).sum((1, 2)) / (rows * cols)
    u = u * torch.rsqrt(ms + eps)[:, None, None]
    in_place = not torch.is_grad_enabled() and dests is not None and any(d is not None for d in dests)
    if freq == 0:  # pure low-rank: one matmul
        u = u * target_std[:, None, None]
        if not in_place:
            return list(torch.bmm(u, v.transpose(1, 2)).unbind(0))
        return [torch.mm(u[i], v[i].t(), out=d.view(rows, cols)) if d is not None else torch.mm(u[i], v[i].t())
                for i, d in enumerate(dests)]
    a, b = mix[:, 0], mix[:, 1] * math.sqrt(2.0)
    z = u[:, ::max(1, rows // 64)] @ v[:, ::max(1, cols // 256)].transpose(1, 2)
    sample = a[:, None, None] * z + b[:, None, None] * torch.sin(freq * z)
    scale = target_std * torch.rsqrt(sample.pow(2).mean((1, 2)) + eps)
    alpha, beta = scale * a / freq, scale * b
    u = u * freq
    if not in_place:
        zk = torch.bmm(u, v.transpose(1, 2))
        return list((zk * alpha[:, None, None] + torch.sin(zk) * beta[:, None, None]).unbind(0))
    result = []
    buffer = torch.empty(rows, cols, device=u.device)  # one scratch for the sines of the group
    for i, d in enumerate(dests):
        zk = torch.mm(u[i], v[i].t(), out=d.view(rows, cols)) if d is not None else torch.mm(u[i], v[i].t())
        sin = torch.sin(zk, out=buffer)  # before zk is scaled in place
        zk.mul_(alpha[i]).addcmul_(sin, beta[i])
        result.append(zk)
    return result
