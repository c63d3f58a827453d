"""The restoring gradient on the decoder's bounded read-outs: invisible forward, pulls saturated raw values back."""

import torch

from arch_zoo import sample
from graphparam.model import GHN, GHNConfig
from graphparam.model.normalize import restoring_gradient
from graphparam.train.archs import build_arch


def test_restoring_gradient_is_the_penalty_gradient_beyond_the_limit_only():
    raw = torch.tensor([-10.0, -2.0, 0.5, 3.0, 7.0], requires_grad=True)
    out = restoring_gradient(raw, 3.0)
    assert torch.equal(out.detach(), raw.detach())
    (out * torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])).sum().backward()
    excess = torch.tensor([-7.0, 0.0, 0.0, 0.0, 4.0]) / 5  # d/draw of mean(relu(|raw| - 3)^2) / 2
    torch.testing.assert_close(raw.grad, torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]) + excess)
    plain = torch.tensor([-10.0], requires_grad=True)
    assert restoring_gradient(plain, 0.0) is plain and restoring_gradient(plain.detach(), 3.0) is not None


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
