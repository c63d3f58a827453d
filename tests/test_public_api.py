"""The top-level names: load_ghn, create_model, list_pretrained, GHNInitializer, the deprecated aliases
load and load_model, and prediction at the input size of the GHN's pretrained_cfg."""

import pytest
import torch
import torch.nn as nn

import graphparam
from graphparam.errors import GraphparamError
from graphparam.pretrained_cfg import DEFAULT_CFG, PretrainedCfg


def test_public_names_are_exported():
    for name in ("load_ghn", "create_model", "list_pretrained", "GHNInitializer", "PretrainedCfg", "load",
                 "load_model"):
        assert name in graphparam.__all__ and hasattr(graphparam, name)
    from graphparam.predict import GHNInitializer

    assert graphparam.GHNInitializer is GHNInitializer


def test_list_pretrained_and_load_ghn():
    assert "cifar10" in graphparam.list_pretrained()
    for name in graphparam.list_pretrained():
        ghn = graphparam.load_ghn(name)
        assert isinstance(ghn, graphparam.GHN) and isinstance(ghn.pretrained_cfg, PretrainedCfg)
        assert graphparam.load_ghn(name) is ghn  # cached


def test_load_is_a_deprecated_alias_of_load_ghn():
    with pytest.warns(DeprecationWarning, match="load_ghn"):
        ghn = graphparam.load("cifar10")
    assert ghn is graphparam.load_ghn("cifar10")


def test_load_model_is_a_deprecated_alias_of_create_model():
    with pytest.warns(DeprecationWarning, match="create_model"):
        model = graphparam.load_model("zoo:1", num_classes=10)
    assert isinstance(model, nn.Module)
    ref = graphparam.create_model("zoo:1", num_classes=10)
    assert [(k, v.shape) for k, v in model.state_dict().items()] == [(k, v.shape) for k, v in ref.state_dict().items()]
    with pytest.warns(DeprecationWarning, match="create_model"), pytest.raises(GraphparamError):
        graphparam.load_model("nosuchscheme:x")


class Only16(nn.Module):
    """Runs on 3x16x16 images only (the linear layer fixes the spatial size)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 16 * 16, 10)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))


@pytest.fixture(scope="module")
def ghn16():
    torch.manual_seed(0)
    ghn = graphparam.GHN(graphparam.GHNConfig.named("tiny", layers=1)).eval()
    ghn.pretrained_cfg = PretrainedCfg(input_size=(3, 16, 16))
    return ghn


def _filled(model: nn.Module) -> bool:
    return all(torch.isfinite(p).all() for p in model.parameters())


def test_predict_without_input_size_traces_at_the_ghns_input_size(ghn16):
    for fn in (lambda m: graphparam.predict(m, ghn=ghn16), ghn16.predict, lambda m: ghn16.predict_many([m])[0],
               graphparam.GHNInitializer(ghn16)):
        model = Only16()
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(float("nan"))
        assert fn(model) is model and _filled(model)
    assert graphparam.GHNInitializer(ghn16).input_size == (3, 16, 16)
    with pytest.raises(GraphparamError):  # the default config's size does not fit this model
        graphparam.GHN(graphparam.GHNConfig.named("tiny", layers=1)).predict(Only16())


def test_an_explicit_input_size_wins_over_the_ghns(ghn16):
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 8 * 8, 10))
    assert _filled(ghn16.predict(model, (3, 8, 8)))
    assert graphparam.GHNInitializer(ghn16, (3, 8, 8)).input_size == (3, 8, 8)


def test_a_fresh_ghn_and_the_shipped_one_default_to_the_default_cfg():
    assert graphparam.GHN(graphparam.GHNConfig.named("tiny", layers=1)).pretrained_cfg is DEFAULT_CFG
    assert graphparam.load_ghn("cifar10").pretrained_cfg.input_size == DEFAULT_CFG.input_size
