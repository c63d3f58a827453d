"""The restoring gradient on the decoder's bounded read-outs: invisible forward, pulls saturated raw values back."""

import torch

from arch_zoo import sample
from graphparam.model import GHN, GHNConfig
from graphparam.model.normalize import restoring_pull
from graphparam.train.archs import build_arch


def test_restoring_pull_is_zero_forward_and_the_weighted_penalty_gradient_beyond_the_limit_only():
    raw = torch.tensor([-10.0, -2.0, 0.5, 3.0, 7.0], requires_grad=True)
    out = raw + restoring_pull(raw, 3.0, weight=0.5)
    assert torch.equal(out.detach(), raw.detach())
    (out * torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])).sum().backward()
    excess = 0.5 * torch.tensor([-7.0, 0.0, 0.0, 0.0, 4.0]) / 5  # d/draw of 0.5 * mean(relu(|raw| - 3)^2) / 2
    torch.testing.assert_close(raw.grad, torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]) + excess)
    plain = torch.tensor([-10.0], requires_grad=True)
    assert restoring_pull(plain, 0.0) is None and restoring_pull(plain, 3.0, weight=0.0) is None
    assert restoring_pull(plain.detach(), 3.0) is None


def test_a_saturated_vector_read_out_gets_a_gradient_back_only_with_a_limit():
    torch.manual_seed(0)
    ghn = GHN(GHNConfig.named("tiny"))
    with torch.no_grad():
        ghn.decoder.read_e.bias.fill_(-100.0)  # every vector element far beyond tanh's reach
    graph = build_arch(0, sample(0, "train")).graph
    grads = []
    for limit in (0.0, 3.0):
        ghn.zero_grad(set_to_none=True)
        ghn.decoder.readout_limit = limit
        params = ghn([graph])[0]
        sum(p.sum() for p in params.values()).backward()
        grads.append(ghn.decoder.read_e.bias.grad.clone())
    assert float(grads[0].abs().max()) == 0.0  # saturated: no gradient at all
    assert float(grads[1][-1]) < 0  # descent raises the offset back towards the limit
    with torch.no_grad():  # predictions do not depend on the limit
        ghn.decoder.readout_limit = 0.0
        a = ghn([graph])[0]
        ghn.decoder.readout_limit = 3.0
        b = ghn([graph])[0]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_pull_on_the_read_out_alone_leaves_the_conditioning_as_without_a_pull():
    torch.manual_seed(0)
    ghn = GHN(GHNConfig.named("tiny"))
    with torch.no_grad():
        ghn.decoder.read_e.bias.fill_(-100.0)
    graph = build_arch(0, sample(0, "train")).graph
    dec = ghn.decoder
    dec.gain_pull = 0.0
    grads = {}
    for mode, limit, only in (("none", 0.0, False), ("all", 3.0, False), ("readout", 3.0, True)):
        ghn.zero_grad(set_to_none=True)
        dec.readout_limit, dec.pull_readout_only = limit, only
        params = ghn([graph])[0]
        sum(p.sum() for p in params.values()).backward()
        grads[mode] = (dec.read_e.bias.grad.clone(), dec.cond[1].weight.grad.clone())
    torch.testing.assert_close(grads["readout"][0], grads["all"][0])  # the read-out gets the same pull
    torch.testing.assert_close(grads["readout"][1], grads["none"][1])  # the conditioning none of it
    assert not torch.allclose(grads["all"][1], grads["none"][1])
