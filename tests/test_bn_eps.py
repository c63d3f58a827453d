"""experiments/bn_eps.py: the share of BatchNorm input channels whose batch variance is below a bound."""

import sys
from pathlib import Path

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

import bn_eps  # noqa: E402  (experiments/bn_eps.py)


def test_low_variance_share_counts_near_constant_channels_and_removes_its_hooks():
    conv = nn.Conv2d(3, 4, 1, bias=True)
    with torch.no_grad():
        conv.weight[0].zero_()  # channel 0 is its bias alone: no variance over the batch
    model = nn.Sequential(conv, nn.BatchNorm2d(4)).eval()
    assert bn_eps.low_variance_share(model, torch.randn(16, 3, 4, 4), below=1e-3) == 0.25
    assert not model[1]._forward_hooks
