"""Assembling decoded slots into per-graph ``{parameter name: tensor}`` dicts.

Vector slots are split from one concatenated tensor; matrix slots are grouped by layout
``(rows, cols, kernel, positions)`` so that each group is decoded by one batched call (few Python-level ops
even for hundreds of slots). Without autograd, vectors are written straight into destination
tensors (e.g. a model's parameters) where given; every returned tensor starts at an address
aligned to :data:`ALIGNMENT` bytes.
"""

from __future__ import annotations

from typing import Callable

import torch

from graphparam.model.batch import GraphBatch

ALIGNMENT = 16  # bytes: every predicted tensor starts at an address aligned to this

Positions = tuple[tuple[int, ...] | None, tuple[int, ...] | None]
"""A matrix slot's tile row and column positions (:attr:`~graphparam.model.batch.SlotSpec.rows`, ``.columns``)."""
MatrixDecoder = Callable[[torch.Tensor, int, int, tuple[int, int], Positions], list[torch.Tensor]]
"""``(slot indices, rows, cols, kernel, positions) → one tensor per slot`` (each ``rows × cols·K``)."""


def assemble(batch: GraphBatch, vec: torch.Tensor, decode_matrices: MatrixDecoder,
             out: list[dict[str, torch.Tensor]] | None = None) -> list[dict[str, torch.Tensor]]:
    """Per graph of ``batch``, every slot's tensor of its parameter's shape: vector slots from
    ``vec`` (their elements in slot order), matrix slots from ``decode_matrices`` per layout group.
    ``out`` (no-grad use only): destination tensors per graph, filled in place."""
    result: list[dict[str, torch.Tensor]] = [{} for _ in range(batch.num_graphs)]
    grad = torch.is_grad_enabled()
    dev = vec.device

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
    groups: dict[tuple[int, int, tuple[int, int], Positions], list[int]] = {}
    for s, spec in enumerate(batch.specs):
        if spec.rule.mode == "matrix":
            groups.setdefault((spec.rule.rows, spec.rule.cols, spec.rule.kernel, (spec.rows, spec.columns)),
                              []).append(s)
        else:
            dest = destination(s, spec)
            if dest is not None:
                dest.copy_(e_parts[s].view(dest.shape))
            store(s, spec, e_parts[s], dest)
    for (rows, cols, kernel, positions), slots in groups.items():
        ws = decode_matrices(torch.tensor(slots, device=dev), rows, cols, kernel, positions)
        for s, w in zip(slots, ws):
            store(s, batch.specs[s], w, None)
    return result
