"""Checkpoints: safetensors + config.json round trip, no pickle, clear errors."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from graphparam.graph import trace
from graphparam.model import GHN, PRETRAINED, CheckpointError, GHNConfig
from model_nets import OddShapes, TokenNet


@pytest.fixture()
def ghn() -> GHN:
    torch.manual_seed(0)
    return GHN(GHNConfig.named("tiny", layers=1)).eval()


def test_round_trip_is_bit_identical(ghn, tmp_path):
    path = ghn.save(tmp_path / "ghn")
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors"]
    meta = json.loads((path / "config.json").read_text())
    assert meta["format_version"] == 1
    assert meta["num_parameters"] == ghn.num_parameters()
    assert GHNConfig.from_dict(meta["config"]) == ghn.config
    loaded = GHN.from_pretrained(path)
    assert loaded.config == ghn.config
    for graph in (trace(OddShapes(), (3, 32, 32)), trace(TokenNet(), (16,))):
        a, b = ghn.predict_tensors(graph), loaded.predict_tensors(graph)
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_pickle_renamed_to_safetensors_is_refused(ghn, tmp_path, monkeypatch):
    path = ghn.save(tmp_path / "ghn")
    torch.save(ghn.state_dict(), path / "model.safetensors")  # a pickle under the safetensors name
    called = []
    monkeypatch.setattr(pickle, "load", lambda *a, **k: called.append(1))
    monkeypatch.setattr(torch, "load", lambda *a, **k: called.append(1))
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        GHN.from_pretrained(path)
    assert not called


def test_config_tensor_mismatch_names_the_tensor(ghn, tmp_path):
    path = ghn.save(tmp_path / "ghn")
    meta = json.loads((path / "config.json").read_text())
    meta["config"]["hidden"] = 32
    (path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"tensor '[\w.]+' has shape .* config\.json implies"):
        GHN.from_pretrained(path)


def test_missing_and_unexpected_tensors(ghn, tmp_path):
    from safetensors.torch import load_file, save_file

    path = ghn.save(tmp_path / "ghn")
    tensors = load_file(str(path / "model.safetensors"))
    name = sorted(tensors)[0]
    save_file({k: v for k, v in tensors.items() if k != name}, str(path / "model.safetensors"))
    with pytest.raises(CheckpointError, match=f"{name!r}.*missing"):
        GHN.from_pretrained(path)
    save_file({**tensors, "extra.weight": torch.zeros(2)}, str(path / "model.safetensors"))
    with pytest.raises(CheckpointError, match="'extra.weight'"):
        GHN.from_pretrained(path)


def test_bad_config_files(ghn, tmp_path):
    path = ghn.save(tmp_path / "ghn")
    (path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        GHN.from_pretrained(path)
    (path / "config.json").write_text(json.dumps({"format_version": 2, "config": {}}))
    with pytest.raises(CheckpointError, match="format_version"):
        GHN.from_pretrained(path)
    (path / "config.json").write_text(json.dumps({"format_version": 1, "config": {"bogus": 1}}))
    with pytest.raises(CheckpointError, match="bogus"):
        GHN.from_pretrained(path)


def test_registered_name_not_shipped(tmp_path, monkeypatch):
    assert "cifar10" in PRETRAINED
    monkeypatch.setitem(PRETRAINED, "cifar10", tmp_path / "absent")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError, match="not shipped"):
        GHN.from_pretrained("cifar10")
    with pytest.raises(CheckpointError, match="no GHN checkpoint"):
        GHN.from_pretrained(tmp_path / "nowhere")


def test_registered_name_loads(ghn, tmp_path, monkeypatch):
    monkeypatch.setitem(PRETRAINED, "mine", ghn.save(tmp_path / "mine_ckpt"))
    monkeypatch.chdir(tmp_path)
    assert GHN.from_pretrained("mine").num_parameters() == ghn.num_parameters()


def test_named_configs():
    counts = {name: GHN(GHNConfig.named(name)).num_parameters() for name in ("tiny", "small", "base", "large")}
    assert counts["tiny"] < counts["small"] < counts["base"] < counts["large"]
    with pytest.raises(ValueError, match="unknown GHN config"):
        GHNConfig.named("huge")
