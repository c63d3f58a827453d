from collections import Counter

import pytest
import torch
from torch import nn

from arch_zoo import GeneratorConfig, sample, split
from arch_zoo.generator import PRESETS
from arch_zoo.ops import OPS
from arch_zoo.spec import FAMILIES

TRAIN_SEEDS = list(range(0, 2000, 50))  # 40 nets spread over the stream


@pytest.fixture(scope="module")
def train_specs():
    return [sample(seed) for seed in range(600)]


def test_train_nets_build_forward_and_trace(check_net):
    for seed in TRAIN_SEEDS:
        check_net(sample(seed).build())


@pytest.mark.parametrize("name", ["val", "test", "wide", "deep", "dense", "bnfree"])
def test_eval_split_nets_build_forward_and_trace(name, check_net):
    for spec in split(name)[:4]:
        check_net(spec.build())


def test_train_mode_forward_is_finite():
    x = torch.randn(2, 3, 32, 32)
    for seed in TRAIN_SEEDS[:15]:
        assert torch.isfinite(sample(seed).build().train()(x)).all()


def test_build_options():
    model = sample(3).build(num_classes=7, in_channels=1)
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 7)


def test_every_family_and_op_appears_in_training(train_specs):
    families = Counter(s.family for s in train_specs)
    assert set(families) == set(FAMILIES)
    ops = Counter(node.op for s in train_specs for c in s.cells for node in c.nodes)
    assert set(ops) == set(OPS)


def test_train_ranges(train_specs):
    cfg = PRESETS["train"]
    for s in train_specs:
        assert cfg.cells[0] <= s.num_cells <= cfg.cells[1]
        assert all(cfg.channels[0] <= c.channels <= cfg.channels[1] for c in s.cells)
        assert sum(c.stride == 2 for c in s.cells) == (0 if s.family == "vit" else 2)
        for c in s.cells:
            assert cfg.nodes[0] <= len(c.nodes) <= cfg.nodes[1] or c.kind != "dag"
            assert all(len(n.inputs) <= cfg.max_inputs for n in c.nodes)
        assert s.norm in cfg.norms or s.norm == "ln"


def test_train_nets_are_mostly_small():
    params = sorted(sum(p.numel() for p in sample(seed).build().parameters()) for seed in range(150))
    assert params[0] >= 3_000 and params[-1] <= 12_000_000
    assert params[len(params) // 2] < 1_000_000
    assert sum(p < 1_000_000 for p in params) >= 0.75 * len(params)


def test_ood_presets_differ_from_train():
    wide = [sample(s, "wide") for s in range(40)]
    assert all(min(c.channels for c in s.cells) >= 96 for s in wide)  # train: first stage <= 64
    assert all(max(c.channels for c in s.cells) <= 512 for s in wide)
    assert all(s.num_cells >= 20 for s in (sample(i, "deep") for i in range(40)))
    dense = [sample(s, "dense") for s in range(40)]
    assert all(s.family == "dag" and min(len(c.nodes) for c in s.cells) >= 5 for s in dense)
    assert max(len(n.inputs) for s in dense for c in s.cells for n in c.nodes) > 2


def test_bnfree_has_no_normalization():
    norms = (nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)
    for seed in range(30):
        spec = sample(seed, "bnfree")
        assert spec.norm == "none"
        assert not any(isinstance(m, norms) for m in spec.build().modules())


def test_custom_config():
    cfg = GeneratorConfig(families=(("resnet", 1.0),), cells=(3, 3), channels=(16, 64))
    spec = sample(0, config=cfg)
    assert spec.family == "resnet" and spec.num_cells == 3
    with pytest.raises(ValueError, match="unknown op"):
        GeneratorConfig(ops=(("conv9x9", 1.0),))
    with pytest.raises(ValueError, match="cells"):
        GeneratorConfig(cells=(2, 5))
    with pytest.raises(KeyError):
        sample(0, "nope")


def test_dag_cells_are_residual_over_a_normalizing_projection():
    """Without both, identity and pooling paths summed cell after cell grew the signal, and a GHN
    meta-trained on the DAG family stayed at chance (experiments/results/learning_race.md)."""
    from arch_zoo.blocks import DagCell
    from arch_zoo.ops import ConvNormAct

    specs = [s for s in (sample(seed) for seed in range(60)) if s.family == "dag"]
    assert len(specs) > 10
    for spec in specs[:6]:
        assert all(cell.residual for cell in spec.cells)
        net = spec.build()
        for cell in net.cells:
            assert isinstance(cell, DagCell) and isinstance(cell.pre, ConvNormAct)
            if spec.norm != "none":
                assert not isinstance(cell.pre[1], nn.Identity)
