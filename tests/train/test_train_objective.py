"""The net-by-net backward of graphparam.train.objective gives the gradient of the joint loss."""

import math

import pytest
import torch
import torch.nn.functional as F

from arch_zoo import sample
from graphparam.evaluate import logits_of
from graphparam.model import GHN, GHNConfig
from graphparam.train.archs import build_arch
from graphparam.train.objective import (StepSums, detached_leaves, ghn_backward, net_backward,
                                        logit_scale_penalty, normalized_logits, param_penalty)

from train_helpers import TINY_NETS


def _setup(n=3):
    torch.manual_seed(0)
    ghn = GHN(GHNConfig.named("tiny"))
    archs = [build_arch(s, sample(s, "train", TINY_NETS)) for s in range(n)]
    x, y = torch.randn(8 * n, 3, 32, 32), torch.randint(0, 10, (8 * n,))
    return ghn, archs, x, y


def _grads(ghn):
    return {k: p.grad.clone() for k, p in ghn.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("penalty, norm, anchor", [(0.0, 0.0, 0.0), (0.1, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 1.0, 0.5)])
def test_net_by_net_backward_equals_the_joint_backward(penalty, norm, anchor):
    ghn, archs, x, y = _setup()
    n = len(archs)
    predicted = ghn([a.graph for a in archs])
    scaled = (lambda z: normalized_logits(z, norm)) if norm else (lambda z: z)

    def objective(z, t):
        return F.cross_entropy(scaled(z), t) + (anchor * logit_scale_penalty(z, norm) if anchor else 0.0)

    loss = sum((objective(logits_of(torch.func.functional_call(
        a.net, p, (x[8 * i:8 * i + 8].contiguous(memory_format=torch.channels_last),))).float(), y[8 * i:8 * i + 8])
        + penalty * param_penalty(p)) / n for i, (a, p) in enumerate(zip(archs, predicted)))
    loss.backward()
    joint = _grads(ghn)
    ghn.zero_grad(set_to_none=True)

    predicted = ghn([a.graph for a in archs])
    zero = torch.zeros(())
    sums = StepSums(zero, zero, zero)
    for i, (a, p) in enumerate(zip(archs, predicted)):
        net_backward(a.net, p, x[8 * i:8 * i + 8], y[8 * i:8 * i + 8], sums, i, scale=1 / n, amp=False,
                     penalty_weight=penalty, logit_norm=norm, logit_scale_weight=anchor)
    ghn_backward(sums)
    split = _grads(ghn)
    assert sums.finite and len(sums.per_net) == n
    assert set(split) == set(joint)
    for k in joint:
        torch.testing.assert_close(split[k], joint[k], rtol=1e-4, atol=1e-6)


def test_a_net_with_a_non_finite_loss_is_not_backpropagated():
    ghn, archs, x, y = _setup(1)
    predicted = ghn([archs[0].graph])
    zero = torch.zeros(())
    sums = StepSums(zero, zero, zero)
    net_backward(archs[0].net, predicted[0], x * float("inf"), y, sums, 0, scale=1.0, amp=False)
    assert not sums.finite and not sums.outputs


def test_tied_names_share_one_leaf():
    t = torch.randn(3, requires_grad=True) * 2
    leaves = detached_leaves({"a": t, "b": t, "c": t + 1})
    assert leaves["a"] is leaves["b"] and leaves["a"] is not leaves["c"]
    assert all(v.is_leaf and v.requires_grad for v in leaves.values())


def test_images_for_keeps_every_image_within_the_budget_and_at_least_the_floor():
    from graphparam.train.objective import MIN_NET_IMAGES, images_for

    assert images_for(1_000, 64, None) == 64
    assert images_for(1_000, 64, 64_000) == 64
    assert images_for(2_000, 64, 64_000) == 32
    assert images_for(3_000, 64, 64_000) == 21
    assert images_for(10**9, 64, 64_000) == MIN_NET_IMAGES
    assert images_for(10**9, 4, 64_000) == 4  # never more than the batch


def test_activation_numel_sums_the_traced_output_shapes():
    from graphparam.graph import trace

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 8 * 8, 10))
    graph = trace(net, (3, 8, 8))
    shapes = [n.attrs["out_shape"] for n in graph.nodes if n.attrs.get("out_shape")]
    assert graph.activation_numel() == sum(int(torch.Size(s).numel()) for s in shapes)
    assert graph.activation_numel() >= 3 * 64 + 2 * 4 * 64 + 10


def test_a_budget_runs_large_nets_on_fewer_images_and_acc_counts_the_images_run(tmp_path):
    from train_helpers import run_tiny
    import json

    records = []
    run_tiny(tmp_path / "full", on_step=lambda t, r: records.append(r), steps=2, batch_size=16)
    budgeted = []
    run_tiny(tmp_path / "budget", on_step=lambda t, r: budgeted.append(r), steps=2, batch_size=16,
             activation_budget=1)
    full_images = [r["images"] for r in records]
    cfg = json.loads((tmp_path / "budget" / "config.json").read_text())
    m, b = cfg["meta_batch"], cfg["batch_size"]
    assert full_images == [m * b] * 2
    assert b == 16 and [r["images"] for r in budgeted] == [m * 8] * 2
    for r in budgeted:
        assert 0 <= r["acc"] <= 1 and r["acc"] * r["images"] == pytest.approx(round(r["acc"] * r["images"]))


def test_normalized_logits_are_blind_to_the_logits_scale():
    torch.manual_seed(0)
    z, y = torch.randn(16, 10), torch.randint(0, 10, (16,))
    a = torch.tensor(0.3, requires_grad=True)
    loss = F.cross_entropy(normalized_logits(a * z, 1.5), y)
    loss.backward()
    assert abs(float(a.grad)) < 1e-3  # shrinking every logit no longer lowers the loss
    torch.testing.assert_close(loss.detach(), F.cross_entropy(normalized_logits(z, 1.5), y), rtol=1e-4, atol=1e-5)
    n = normalized_logits(z, 2.0)
    torch.testing.assert_close(n.mean(1), torch.zeros(16), atol=1e-5, rtol=0)
    torch.testing.assert_close(n.pow(2).mean(1).sqrt(), torch.full((16,), 2.0), atol=1e-3, rtol=0)
    assert torch.equal(n.argmax(1), z.argmax(1))  # accuracy is unchanged


def test_logit_scale_penalty_holds_the_std_of_each_images_logits_at_its_target():
    torch.manual_seed(0)
    z = torch.randn(16, 10)
    z = (z - z.mean(1, keepdim=True)) / (z - z.mean(1, keepdim=True)).pow(2).mean(1, keepdim=True).sqrt()
    assert float(logit_scale_penalty(2.0 * z + 5.0, 2.0)) < 1e-8  # at the target (a shift changes nothing)
    for a0, sign in ((6.0, 1.0), (0.5, -1.0)):  # too large: pushed down; too small: pushed up
        a = torch.tensor(a0, requires_grad=True)
        penalty = logit_scale_penalty(a * z, 2.0)
        penalty.backward()
        torch.testing.assert_close(penalty.detach(), torch.tensor(math.log(a0 / 2.0) ** 2), rtol=1e-4, atol=1e-6)
        assert sign * float(a.grad) > 0
