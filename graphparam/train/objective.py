"""The meta-training objective of one step, backpropagated net by net.

The GHN predicts the parameters of all M nets in one batched pass. Each net then runs its images
with ``torch.func.functional_call`` on *detached copies* of its predicted tensors, and its loss is
backpropagated at once, down to those copies only: the net's activations are freed before the next
net runs. One final backward carries the collected gradients of the predicted tensors through the
GHN. The losses and the gradient are those of ``sum of the nets' losses`` backpropagated in one go
(equal up to float summation order), but the peak memory holds one net's activations instead of M.

A net's objective is its cross-entropy (of its logits standardized per image with ``logit_norm``:
:func:`normalized_logits`, their scale then held near ``logit_norm`` by :func:`logit_scale_penalty` when weighted),
plus ``param_penalty`` × the mean squared predicted value (:func:`param_penalty`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from graphparam.evaluate import logits_of
from graphparam.model.ghn import check_complete
from graphparam.train import distributed as D

__all__ = ["MIN_NET_IMAGES", "images_for", "StepSums", "StepTotals", "normalized_logits", "logit_scale_penalty",
           "param_penalty", "detached_leaves", "net_backward", "step_backward", "reduce_sums",
           "ghn_backward"]


MIN_NET_IMAGES = 8


def images_for(activations: int, batch_size: int, budget: int | None) -> int:
    """How many of its ``batch_size`` images a net runs in a step: all, unless ``activations`` (values per
    image of all its op outputs) times the images would exceed ``budget``; then as many as fit, at least
    :data:`MIN_NET_IMAGES`. The largest tenth of the train stream's nets took 45 % of the nets' time and
    needed GBs for their backward; on fewer images each costs about what a median net costs."""
    if not budget or activations * batch_size <= budget:
        return batch_size
    return max(min(MIN_NET_IMAGES, batch_size), min(batch_size, int(budget // max(activations, 1))))


def _centred(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image's logits less their mean over the classes, and their variance over the classes (one per image)."""
    z = logits - logits.mean(dim=1, keepdim=True)
    return z, z.pow(2).mean(dim=1)


def normalized_logits(logits: torch.Tensor, scale: float, eps: float = 1e-6) -> torch.Tensor:
    """``logits`` centred and divided by their std over the classes, per image, times ``scale``. A loss of these
    does not change when a net's outputs shrink: under the plain cross-entropy of poorly ranked logits, shrinking
    them all lowers the loss, and Adam drove every bounded read-out of the GHN to its bound for it."""
    z, var = _centred(logits)
    return scale * z * torch.rsqrt(var[:, None] + eps)


def logit_scale_penalty(logits: torch.Tensor, target: float, eps: float = 1e-6) -> torch.Tensor:
    """Mean over images of ``(log σ - log target)²``, ``σ`` the std of an image's logits over the classes: the scale
    that :func:`normalized_logits` leaves free, held near ``target``. Under the scale-blind loss alone the logits of
    predicted nets grew to a std of 15 and a raw cross-entropy of up to 10^7 nats (leg 31, ``train.md``)."""
    return (0.5 * torch.log(_centred(logits)[1] + eps) - math.log(target)).pow(2).mean()


def param_penalty(params: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean over tensors of the mean squared predicted value."""
    return torch.stack([p.float().pow(2).mean() for p in params.values()]).mean()


def detached_leaves(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A leaf copy (no copy of the data) of every predicted tensor that requires grad; tied names share one."""
    leaves: dict[int, torch.Tensor] = {}
    out = {}
    for name, t in params.items():
        if id(t) not in leaves:
            leaves[id(t)] = t.detach().requires_grad_(t.requires_grad)
        out[name] = leaves[id(t)]
    return out


@dataclass
class StepSums:
    """What the nets of one step add up to (detached), and the gradients waiting for the GHN."""

    ce_sum: torch.Tensor
    pen_sum: torch.Tensor
    correct: torch.Tensor
    images: int = 0
    per_net: list[tuple[int, torch.Tensor]] = field(default_factory=list)
    outputs: list[torch.Tensor] = field(default_factory=list)   # predicted tensors (in the GHN's graph)
    grads: list[torch.Tensor] = field(default_factory=list)     # d loss / d each of them

    @property
    def finite(self) -> bool:
        return all(bool(torch.isfinite(ce)) for _, ce in self.per_net)


def net_backward(net, params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor, sums: StepSums, index: int,
                 *, scale: float, amp: bool, penalty_weight: float = 0.0, logit_norm: float = 0.0,
                 logit_scale_weight: float = 0.0) -> None:
    """Run ``net`` on ``x`` with ``params``, add its loss to ``sums`` and backpropagate ``scale`` × its
    objective to the predicted tensors (their gradients go to ``sums.outputs``/``sums.grads``). A net whose
    loss is not finite gets no backward (the step will be skipped)."""
    leaves = detached_leaves(params)
    device_type = x.device.type
    if device_type == "cpu" and x.dim() == 4:
        # oneDNN's convolutions run a quarter faster on channels-last images, and the layout carries through
        # the net (experiments/results/profile_step.md); the values agree up to float summation order
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=amp):
        out = logits_of(torch.func.functional_call(net, leaves, (x,)))
    out = out.float()
    ce = F.cross_entropy(out, y)
    objective = F.cross_entropy(normalized_logits(out, logit_norm), y) if logit_norm else ce
    if logit_norm and logit_scale_weight:
        objective = objective + logit_scale_weight * logit_scale_penalty(out, logit_norm)
    if penalty_weight:
        pen = param_penalty(leaves)
        total = objective + penalty_weight * pen
    else:  # logged only: no autograd graph over every predicted tensor
        with torch.no_grad():
            pen = param_penalty(leaves)
        total = objective
    sums.ce_sum = sums.ce_sum + ce.detach()
    sums.pen_sum = sums.pen_sum + pen.detach()
    sums.correct = sums.correct + (out.detach().argmax(1) == y).sum()
    sums.images += len(y)
    sums.per_net.append((index, ce.detach()))
    if not bool(torch.isfinite(total)):
        return
    (total * scale).backward()
    for name, leaf in {id(leaf): (name, leaf) for name, leaf in leaves.items()}.values():  # tied names once
        if leaf.grad is not None:
            sums.outputs.append(params[name])
            sums.grads.append(leaf.grad)


def step_backward(model: torch.nn.Module, archs: list, x: torch.Tensor, y: torch.Tensor, config, info: D.DistInfo,
                  amp: bool) -> StepSums:
    """This rank's nets of a step (:class:`~graphparam.train.build.Arch`, of ``config.meta_batch``): one batched
    pass of ``model`` (the GHN, DDP-wrapped on several ranks), then each net's loss on its slice of ``x``
    (``config.batch_size`` images each, the same ones with ``shared_images``; fewer for a net whose activations
    exceed ``config.activation_budget``: :func:`images_for`) backpropagated to its predicted
    tensors by :func:`net_backward`, scaled so DDP's gradient average is the mean over all M nets; the GHN's own
    backward is left to :func:`ghn_backward`. ``config``: a :class:`~graphparam.train.config.TrainConfig`."""
    cfg = config
    b = cfg.batch_size
    mine = D.shard(range(len(archs)), info)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
        predicted = model([archs[i].graph for i in mine])
    zero = x.new_zeros((), dtype=torch.float32)
    sums = StepSums(zero, zero, zero)
    for i, params in zip(mine, predicted):
        check_complete(archs[i].param_names, params, f" of net seed {archs[i].seed}")
        first = 0 if cfg.shared_images else i * b
        part = slice(first, first + images_for(archs[i].graph.activation_numel(), b, cfg.activation_budget))
        net_backward(archs[i].net, params, x[part], y[part], sums, i,
                     scale=info.world_size / cfg.meta_batch, amp=amp, penalty_weight=cfg.param_penalty,
                     logit_norm=cfg.logit_norm, logit_scale_weight=cfg.logit_scale_weight)
    del predicted
    return sums


@dataclass
class StepTotals:
    """A step's sums over the nets of every rank; ``failed``: some rank's nets raised or had a non-finite loss,
    ``bad_nets``: the indices (in the step) of the nets whose loss was not finite."""

    ce_sum: float
    pen_sum: float
    correct: float
    images: float
    failed: bool
    bad_nets: list[int]


def reduce_sums(sums: StepSums | None, failed: bool, meta_batch: int, info: D.DistInfo,
                device: torch.device) -> StepTotals:
    """This rank's ``sums`` (None: its forward raised) added up over all ranks in one all-reduce: the loss
    sums, the correct count, the ``failed`` flag and which of the ``meta_batch`` nets had a non-finite loss."""
    zero = torch.zeros((), device=device)
    net_bad = torch.zeros(meta_batch, device=device)
    for i, ce in (sums.per_net if sums else []):
        net_bad[i] = float(not bool(torch.isfinite(ce)))
    stats = torch.cat([torch.stack([
        sums.ce_sum.float() if sums else zero, sums.pen_sum.float() if sums else zero,
        sums.correct.float() if sums else zero, torch.as_tensor(float(failed), device=device),
        torch.as_tensor(float(sums.images if sums else 0), device=device)]), net_bad])
    D.all_reduce(stats, info)
    ce_sum, pen_sum, correct, bad, images = stats[:5].tolist()
    return StepTotals(ce_sum, pen_sum, correct, images, bad > 0,
                      [i for i, flag in enumerate(stats[5:].tolist()) if flag > 0])


def ghn_backward(sums: StepSums) -> None:
    """Carry the collected gradients of the predicted tensors through the GHN (one backward)."""
    if sums.outputs:
        torch.autograd.backward(sums.outputs, sums.grads)
    sums.outputs.clear()
    sums.grads.clear()
