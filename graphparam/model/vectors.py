"""Vector slots (biases, norm scales/shifts, layer scales, PReLU slopes): one value per element.

Element ``i`` of a vector slot ``s`` is ``phi_e(i) · m(c_s) + b(c_s)``: ``phi_e(i) = GELU(P_e pe(i))``
is a channel basis shared by all slots, ``pe`` the sinusoidal features of the integer channel
index (:func:`index_encoding`; defined for every index, so any width decodes), and
``(m, b)`` a read-out of the slot's conditioning ``c_s``. The bounded transform of the element
(:func:`graphparam.model.normalize.vector_transform`) is applied by the caller.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from graphparam.model.batch import GraphBatch


@functools.lru_cache(maxsize=64)
def index_encoding(n: int, freqs: int, device: torch.device) -> torch.Tensor:
    """Sines and cosines of channel indices ``0..n-1`` at periods ``2**(j + 0.5)``: ``n × 2*freqs``
    (a constant: cached per size and device)."""
    with torch.inference_mode(False), torch.no_grad():  # a plain constant, usable under autograd later
        periods = 2.0 ** (torch.arange(freqs, device=device, dtype=torch.float32) + 0.5)
        ang = torch.arange(n, device=device, dtype=torch.float32)[:, None] * (2 * math.pi / periods)
        return torch.cat([torch.sin(ang), torch.cos(ang)], dim=1)


def vector_elements(basis: torch.nn.Linear, read: torch.nn.Linear, cond: torch.Tensor, batch: GraphBatch,
                    freqs: int) -> torch.Tensor:
    """The raw elements of every vector slot of ``batch``, concatenated in slot order (``batch.e_idx``,
    ``batch.e_slot``): ``basis`` is ``P_e`` (``2*freqs → dh``), ``read`` the read-out (``hidden → dh + 1``,
    the last output being the offset ``b``) and ``cond`` the slots' conditioning (``S × hidden``)."""
    pe = index_encoding(batch.max_index, freqs, cond.device).to(cond.dtype)
    e_read = read(cond)
    basis_e = F.gelu(basis(pe))
    # every (channel index, slot) value at once, then pick the elements of the vector slots
    table = torch.addmm(e_read[:, -1], basis_e, e_read[:, :-1].t())  # max_index × S
    return table.reshape(-1).index_select(0, batch.e_idx * e_read.shape[0] + batch.e_slot)
