"""Desaturating the GHN's bounded read-outs: linear rescaling to a target median |raw|, nothing else touched."""

import pytest
import torch

from arch_zoo import sample
from graphparam.model import GHN, GHNConfig
from graphparam.train.archs import build_arch
from graphparam.train.desaturate import desaturate, readout_raw

from train_helpers import TINY_NETS


def _graphs(n=3):
    return [build_arch(s, sample(s, "train", TINY_NETS)).graph for s in range(n)]


def _saturated(factor=1000.0):
    torch.manual_seed(0)
    ghn = GHN(GHNConfig.named("tiny"))
    with torch.no_grad():
        for layer in (ghn.decoder.read_e, ghn.decoder.log_gain):
            torch.nn.init.normal_(layer.weight, std=0.1)
            layer.weight.mul_(factor)
            layer.bias.fill_(-0.5 * factor)
    return ghn


def test_saturated_read_outs_are_scaled_to_the_target_and_keep_their_signs():
    ghn, graphs = _saturated(), _graphs()
    vec0, gain0 = readout_raw(ghn, graphs)
    assert vec0.abs().median() > 50 and gain0.abs().median() > 50
    others = {k: v.clone() for k, v in ghn.state_dict().items() if "read_e" not in k and "log_gain" not in k}
    d = desaturate(ghn, graphs, target=2.0)
    vec1, gain1 = readout_raw(ghn, graphs)
    assert d.vector_after == pytest.approx(2.0, rel=1e-3) and d.gain_after == pytest.approx(2.0, rel=1e-3)
    assert float(vec1.abs().median()) == pytest.approx(2.0, rel=1e-3)
    torch.testing.assert_close(vec1, vec0 * d.vector_factor, rtol=1e-4, atol=1e-5)  # a linear rescaling
    torch.testing.assert_close(gain1, gain0 * d.gain_factor, rtol=1e-4, atol=1e-5)
    assert all(torch.equal(v, ghn.state_dict()[k]) for k, v in others.items())
    # the raw values now have a gradient through tanh again
    assert float((1 - torch.tanh(vec1).pow(2)).median()) > 0.05 > float((1 - torch.tanh(vec0).pow(2)).median())


def test_read_outs_already_inside_the_target_are_left_alone():
    torch.manual_seed(0)
    ghn, graphs = GHN(GHNConfig.named("tiny")), _graphs()
    before = {k: v.clone() for k, v in ghn.state_dict().items()}
    d = desaturate(ghn, graphs, target=2.0)
    assert d.vector_factor == 1.0 and d.gain_factor == 1.0
    assert all(torch.equal(v, ghn.state_dict()[k]) for k, v in before.items())
    with pytest.raises(ValueError, match="positive"):
        desaturate(ghn, graphs, target=0.0)
