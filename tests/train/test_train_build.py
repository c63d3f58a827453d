"""A training net built without its random initialization: the same net, graph and buffers, zeros where the
library would have drawn random numbers, and the global RNG untouched."""

import torch

from arch_zoo import train_stream
from graphparam.train.build import build_arch


def test_a_net_built_without_random_init_is_the_same_net_with_zeros_for_its_random_parameters():
    seed, spec = next(train_stream(1400000, "user_mix"))  # a timm constructor's net
    state = torch.random.get_rng_state()
    plain, bare = build_arch(seed, spec), build_arch(seed, spec, init=False)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert plain.graph.structure_hash() == bare.graph.structure_hash()
    assert plain.param_names == bare.param_names and plain.num_params == bare.num_params
    for (name, b), (_, p) in zip(bare.net.named_buffers(), plain.net.named_buffers()):
        assert torch.equal(b, p), name  # running statistics and computed buffers as the modules set them
    weights = [(n, p) for n, p in bare.net.named_parameters() if p.dim() >= 2]
    assert weights and all(not p.any() for _, p in weights)  # drawn at random by the library: zeros here
    assert any(p.std() > 0 for n, p in plain.net.named_parameters() if p.dim() >= 2)
    assert all(p.requires_grad and p.is_leaf for p in bare.net.parameters())


def test_random_init_is_restored_after_a_bare_build():
    seed, spec = next(train_stream(1400000, "user_mix"))
    build_arch(seed, spec, init=False)
    assert torch.nn.Linear(8, 8).weight.std() > 0


def test_a_probed_build_keeps_the_default_init_the_probe_measures():
    seed, spec = next(train_stream(1400000, "user_mix"))
    assert build_arch(seed, spec, probe=True, init=False).output_std > 0
