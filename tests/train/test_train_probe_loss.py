"""The body loss: a differentiable ridge probe on a net's penultimate features (``--probe-weight``)."""

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from graphparam.train.probe_loss import head_inputs, ridge_probe_loss

from train_helpers import losses, run_tiny


def test_separable_features_give_a_lower_probe_loss_than_noise():
    torch.manual_seed(0)
    labels = torch.arange(40) % 10
    separable = torch.nn.functional.one_hot(labels, 10).float() * 5 + 0.1 * torch.randn(40, 10)
    noise = torch.randn(40, 10)
    assert ridge_probe_loss(separable, labels) < 0.5 < math.log(10) < ridge_probe_loss(noise, labels)


def test_probe_loss_does_not_depend_on_the_features_scale():
    torch.manual_seed(0)
    f, labels = torch.randn(32, 24), torch.randint(0, 10, (32,))
    assert ridge_probe_loss(f, labels).item() == pytest.approx(ridge_probe_loss(1e3 * f, labels).item(), rel=1e-4)


def test_probe_loss_needs_four_images():
    with pytest.raises(ValueError, match="at least 4 images"):
        ridge_probe_loss(torch.randn(3, 8), torch.zeros(3, dtype=torch.long))


def test_head_inputs_capture_under_functional_call_and_reach_the_body():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))
    params = {k: v.detach().clone().requires_grad_() for k, v in net.named_parameters()}
    x, y = torch.randn(8, 3, 8, 8), torch.arange(8) % 10
    with head_inputs(net) as feats:
        torch.func.functional_call(net, params, (x,))
    assert len(feats) == 1 and feats[0].shape == (8, 4)
    ridge_probe_loss(feats[0], y).backward()
    assert params["0.weight"].grad.abs().sum() > 0 and params["4.weight"].grad is None
    with head_inputs(net) as after:
        net(x)
    assert len(feats) == 1 and len(after) == 1  # the hook is gone once the block is left


def test_a_net_without_a_linear_head_is_a_clear_error():
    with pytest.raises(ValueError, match="no nn.Linear head"):
        with head_inputs(nn.Conv2d(3, 4, 3)):
            pass


def test_probe_weight_changes_the_trajectory_and_is_logged(tmp_path):
    run_tiny(tmp_path / "plain", steps=3)
    _, result = run_tiny(tmp_path / "probe", steps=3, probe_weight=1.0)
    assert result.steps == 3 and result.skipped == 0
    a, b = losses(tmp_path / "plain"), losses(tmp_path / "probe")
    assert a[1] == pytest.approx(b[1])  # the logged loss is the CE; the first step's weights are the same
    assert a[3] != pytest.approx(b[3])
    records = [json.loads(line) for line in Path(tmp_path / "probe", "metrics.jsonl").read_text().splitlines()]
    assert all(math.isfinite(r["probe"]) for r in records if r["kind"] == "train")


def test_negative_probe_weight_is_rejected(tmp_path):
    from train_helpers import tiny_config

    with pytest.raises(ValueError, match="probe_weight"):
        tiny_config(tmp_path, probe_weight=-1.0)
