"""Weight matrices from tiles: how a slot's ``tile × tile × 3×3`` block becomes a tensor of its shape.

A weight is laid out as ``rows × cols × kernel`` (out channels × in channels per group × kernel
positions; tokens × features for embeddings). :func:`tile_matrices` crops (kernels up to 3×3) or
bilinearly interpolates (larger kernels) the tile's 3×3 positions to the kernel, covers the
``rows × cols`` grid with copies of the tile laid out by :func:`tile_layout`, and standardizes
each matrix to zero mean and its target std. Every width and kernel decodes: there is no size limit.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

_M32 = 0xFFFFFFFF


@functools.lru_cache(maxsize=32)
def tile_layout(rows: int, cols: int, t: int, device: torch.device, layout: str = "permuted",
                positions: tuple[tuple[int, ...] | None, tuple[int, ...] | None] = (None, None)
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Where entry ``(r, c)`` of a ``rows × cols`` matrix reads a ``t × t`` tile, and its sign.

    ``"repeat"``: entry ``(r, c)`` reads tile entry ``(r mod t, c mod t)``, sign +1. Every layer then
    gives channel ``c`` the meaning of tile index ``c mod t``, the index the next layer reads it with,
    so what the tile wires together stays wired in nets of any width (identity shortcuts included);
    channels ``t`` apart are copies. ``positions`` (repeat only): the tile row of each row and the tile
    column of each column, where not ``r mod t`` / ``c mod t`` (None): channels that flow out of order
    through concatenations, slices and shuffles (:mod:`graphparam.graph.channels`).

    ``"permuted"``: block ``(rb, cb)`` of ``t × t`` entries reads the tile through affine permutations
    ``j -> (m j + shift) mod t`` of its columns (``m`` and the shift set by ``rb``) and of its rows
    (set by ``cb``), times a fixed pseudo-random sign; block ``(0, 0)`` is the tile itself. Plain
    repetition (GHN-2's tiling) makes output channels ``t`` apart identical, so the next layer sums
    copies of one input and the activations of a wide or deep net grow with the number of blocks;
    permuted copies are different filters (distinct rows for up to ``t²/2 · t`` rows), but beyond the
    first ``t`` channels a layer reads its inputs with other tile indices than the layer before gave
    them. Returns the flat tile index (``rows*cols``, int64) and the signs (``rows × cols``); cached constants.
    """
    with torch.inference_mode(False), torch.no_grad():
        if layout == "repeat":
            r, c = (torch.arange(n, device=device) % t if at is None else torch.tensor(at, device=device)
                    for n, at in zip((rows, cols), positions))
            return (r[:, None] * t + c[None, :]).reshape(-1), torch.ones(rows, cols, device=device)
        if layout != "permuted":
            raise ValueError(f"unknown tile layout {layout!r}")
        if positions != (None, None):
            raise ValueError("the permuted layout lays rows and columns in order")
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


def tile_matrices(tile: torch.Tensor, rows: int, cols: int, kernel: tuple[int, int], target_std: torch.Tensor,
                  layout: str = "permuted", positions: tuple[tuple[int, ...] | None, tuple[int, ...] | None]
                  = (None, None), eps: float = 1e-8) -> list[torch.Tensor]:
    """``n`` matrices ``rows × cols·K`` (``K = kh·kw``) from ``n`` tiles ``tile`` (``n × t × t × 3 × 3``):
    centre-cropped or interpolated to ``kernel``, laid over the rows and columns by
    :func:`tile_layout` (``layout``, ``positions``), then centred and scaled to ``target_std`` (``n``)."""
    n, t = tile.shape[0], tile.shape[1]
    kh, kw = kernel
    if kh <= 3 and kw <= 3:
        y0, x0 = (3 - kh) // 2, (3 - kw) // 2
        tile = tile[..., y0:y0 + kh, x0:x0 + kw]
    else:
        tile = F.interpolate(tile.reshape(n * t * t, 1, 3, 3), size=(kh, kw), mode="bilinear",
                             align_corners=True).view(n, t, t, kh, kw)
    k = tile.shape[-2] * tile.shape[-1]
    index, sign = tile_layout(rows, cols, t, tile.device, layout, positions)
    w = tile.reshape(n, t * t, k).index_select(1, index)
    w = w.view(n, rows, cols, k)
    if layout != "repeat":  # repeated copies carry no signs: skip a multiply by ones on the predict path
        w = w * sign[:, :, None]
    w = w.reshape(n, rows, cols * k)
    w = w - w.mean(dim=(1, 2), keepdim=True)
    w = w * (target_std * torch.rsqrt(w.pow(2).mean(dim=(1, 2)) + eps))[:, None, None]
    return list(w.unbind(0))
