"""Checkpoints: safetensors + config.json round trip, no pickle, clear errors."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from graphparam.graph import trace
from graphparam.model import GHN, PRETRAINED, CheckpointError, GHNConfig, list_pretrained
from graphparam.pretrained_cfg import DEFAULT_CFG, PretrainedCfg
from model_nets import OddShapes, TokenNet


@pytest.fixture()
def ghn() -> GHN:
    torch.manual_seed(0)
    return GHN(GHNConfig.named("tiny", layers=1)).eval()


def test_round_trip_is_bit_identical(ghn, tmp_path):
    path = ghn.save(tmp_path / "ghn")
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors"]
    meta = json.loads((path / "config.json").read_text())
    assert meta["format_version"] == 2
    assert meta["num_parameters"] == ghn.num_parameters()
    assert meta["vocab"]["kinds"][-1] == "unknown" and "conv" in meta["vocab"]["kinds"]
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
    (path / "config.json").write_text(json.dumps({"format_version": 99, "config": {}}))
    with pytest.raises(CheckpointError, match="format_version"):
        GHN.from_pretrained(path)
    (path / "config.json").write_text(json.dumps({"format_version": 2, "config": {"bogus": 1}}))
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


def test_runtime_memory_knobs_are_not_saved(tmp_path):
    ghn = GHN(GHNConfig.named("tiny", attn_block=64, layers=1))
    meta = json.loads((ghn.save(tmp_path / "ghn") / "config.json").read_text())
    assert not {"attn_block", "dense_attn_limit", "bucket_pairs"} & set(meta["config"])
    assert GHN.from_pretrained(tmp_path / "ghn").config.attn_block == GHNConfig().attn_block


def test_pretrained_cfg_is_kept_apart_from_the_config(ghn, tmp_path):
    cfg = {"input_size": [3, 32, 32], "num_classes": 10, "dataset": "cifar10"}  # a dict is still accepted
    loaded = GHN.from_pretrained(ghn.save(tmp_path / "ghn", pretrained_cfg=cfg))
    assert loaded.pretrained_cfg == PretrainedCfg.from_dict(cfg)
    assert "input_size" not in json.loads((tmp_path / "ghn" / "config.json").read_text())["config"]


def test_pretrained_cfg_round_trips_through_save_and_load(ghn, tmp_path):
    cfg = PretrainedCfg(input_size=(1, 16, 24), num_classes=5, mean=(0.5,), std=(0.25,), dataset="toy",
                        training={"steps": 3, "parent": {"steps": 2}})
    loaded = GHN.from_pretrained(ghn.save(tmp_path / "ghn", pretrained_cfg=cfg))
    assert isinstance(loaded.pretrained_cfg, PretrainedCfg)
    assert loaded.pretrained_cfg == cfg and loaded.pretrained_cfg.training == cfg.training
    ghn.pretrained_cfg = cfg  # the GHN's own is what save writes by default
    again = GHN.from_pretrained(ghn.save(tmp_path / "own"))
    assert again.pretrained_cfg == cfg and again.pretrained_cfg.training == cfg.training


def test_pretrained_cfg_json_keeps_its_keys_and_old_dict_reads(ghn, tmp_path):
    """config.json["pretrained_cfg"] has the keys it always had; code that read it as a dict still works."""
    assert ghn.pretrained_cfg is DEFAULT_CFG  # a GHN built fresh
    path = ghn.save(tmp_path / "ghn", pretrained_cfg={**DEFAULT_CFG.to_dict(), "training": {"steps": 4}})
    written = json.loads((path / "config.json").read_text())["pretrained_cfg"]
    assert set(written) == {"input_size", "num_classes", "mean", "std", "dataset", "batch_norm", "training"}
    assert written["input_size"] == [3, 32, 32]
    cfg = GHN.from_pretrained(path).pretrained_cfg
    assert cfg["input_size"] == [3, 32, 32] and cfg["training"]["steps"] == 4
    assert cfg.get("training", {}) == {"steps": 4} and DEFAULT_CFG.get("training", {}) == {}
    assert dict(cfg) == written


def test_shipped_checkpoint_reads_as_a_pretrained_cfg():
    cfg = GHN.from_pretrained("cifar10").pretrained_cfg
    assert cfg.input_size == DEFAULT_CFG.input_size and cfg.num_classes == 10
    assert cfg.mean == DEFAULT_CFG.mean and cfg.std == DEFAULT_CFG.std and cfg.training["steps"] > 0


def test_list_pretrained_names_every_shipped_checkpoint():
    names = list_pretrained()
    assert "cifar10" in names and names == sorted(PRETRAINED)
    assert all((PRETRAINED[name] / "model.safetensors").is_file() for name in names)


def test_format_v1_checkpoint_is_refused_clearly(ghn, tmp_path):
    path = ghn.save(tmp_path / "ghn")
    meta = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({"format_version": 1, "config": meta["config"],
                                                  "num_parameters": meta["num_parameters"]}))
    with pytest.raises(CheckpointError, match="format_version 1 checkpoints .* no longer supported"):
        GHN.from_pretrained(path)


def test_removed_fields_are_dropped_when_they_hold_the_value_in_use(ghn, tmp_path):
    """Older checkpoints carry the fields of removed options (the shipped one does too)."""
    path = ghn.save(tmp_path / "ghn")
    meta = json.loads((path / "config.json").read_text())
    meta["config"].update(decoder="tile", tile_scale="standardize", rank=16, decoder_freq=6.0, structured_share=0.05,
                          centre_inputs=True, in_features="hash")
    (path / "config.json").write_text(json.dumps(meta))
    loaded = GHN.from_pretrained(path)
    assert loaded.config == ghn.config
    graph = trace(OddShapes(), (3, 32, 32))
    a, b = ghn.predict_tensors(graph), loaded.predict_tensors(graph)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("field, value, message", [("decoder", "lowrank", "low-rank decoder are no longer supported"),
                                                   ("tile_scale", "fan_in", "tile_scale='fan_in' are no longer")])
def test_removed_fields_with_another_value_are_refused(ghn, tmp_path, field, value, message):
    from graphparam.model import ConfigError

    with pytest.raises(ConfigError, match=message):
        GHNConfig.from_dict({**ghn.config.to_dict(), field: value})
    path = ghn.save(tmp_path / "ghn")
    meta = json.loads((path / "config.json").read_text())
    meta["config"][field] = value
    (path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=message):
        GHN.from_pretrained(path)


def test_registry_that_gains_a_kind_still_loads_a_saved_checkpoint(ghn, tmp_path, monkeypatch):
    """A new operation kind inserted into the registry shifts every later kind's index; the saved
    vocabulary maps them back to their rows, and the new kind uses the ``unknown`` row."""
    import graphparam.model.embed as embed
    import graphparam.model.vocab as vocab

    path = ghn.save(tmp_path / "ghn")
    before = ghn.predict_tensors(trace(OddShapes(), (3, 32, 32)))
    kinds = vocab.KINDS[:2] + ("my_new_op",) + vocab.KINDS[2:]
    monkeypatch.setattr(vocab, "KINDS", kinds)
    monkeypatch.setattr(embed, "KIND_INDEX", {k: i for i, k in enumerate(kinds)})
    monkeypatch.setattr(embed, "NO_ACT", len(kinds))
    loaded = GHN.from_pretrained(path)
    assert loaded.node_embed.kind.num_embeddings == len(kinds) - 1
    assert int(loaded.node_embed.kind_rows[2]) == kinds.index("unknown") - 1
    after = loaded.predict_tensors(trace(OddShapes(), (3, 32, 32)))
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_shipped_checkpoint_loads():
    ghn = GHN.from_pretrained("cifar10")
    assert ghn.num_parameters() > 0 and ghn.vocab.kinds[-1] == "unknown"


def test_fingerprint_tells_weights_apart():
    torch.manual_seed(0)
    a = GHN(GHNConfig.named("tiny", layers=1))
    b = GHN(GHNConfig.named("tiny", layers=1))
    assert a.fingerprint() == a.fingerprint() and a.fingerprint() != b.fingerprint()
    b.load_state_dict(a.state_dict())
    assert a.fingerprint() == b.fingerprint()


def test_node_gate_is_a_learned_parameter_whatever_its_initial_value():
    for gate in (1.0, 4.0):
        params = dict(GHN(GHNConfig.named("tiny", layers=1, node_gate=gate)).named_parameters())
        assert params["decoder.node_gate"].item() == gate
    assert "decoder.node_gate" in GHN.from_pretrained("cifar10").state_dict()
