import pickle

import pytest
import torch

from graphparam.train.checkpoint import (CheckpointNotFound, latest_checkpoint, list_checkpoints, load_checkpoint,
                                         save_checkpoint)


def _ghn_writer(value):
    def save(path):
        path.mkdir()
        torch.save({"w": torch.full((3,), float(value))}, path / "w.pt")
    return save


def _entries(root):
    return sorted(p.name for p in root.iterdir())


def test_save_and_load_round_trip(tmp_path):
    state = {"step": 3, "t": torch.arange(4), "nested": {"a": [1, 2.5, "x"]}}
    path = save_checkpoint(tmp_path, 3, _ghn_writer(3), state)
    assert path.name == "step-000003" and latest_checkpoint(tmp_path) == path
    d, loaded = load_checkpoint(tmp_path)
    assert d == path and loaded["step"] == 3 and torch.equal(loaded["t"], state["t"])
    assert loaded["nested"] == state["nested"]


def test_failure_while_writing_ghn_leaves_no_partial_checkpoint(tmp_path):
    save_checkpoint(tmp_path, 1, _ghn_writer(1), {"step": 1})

    def broken(path):
        path.mkdir()
        (path / "half-written.safetensors").write_bytes(b"\0" * 10)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path, 2, broken, {"step": 2})
    assert _entries(tmp_path) == ["latest", "step-000001"]
    assert load_checkpoint(tmp_path)[1]["step"] == 1


def test_failure_while_writing_state_leaves_no_partial_checkpoint(tmp_path, monkeypatch):
    save_checkpoint(tmp_path, 1, _ghn_writer(1), {"step": 1})

    def broken_save(obj, f):
        f.write(b"partial")
        raise RuntimeError("killed mid-write")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(RuntimeError, match="mid-write"):
        save_checkpoint(tmp_path, 2, lambda p: p.mkdir(), {"step": 2})
    monkeypatch.undo()
    assert _entries(tmp_path) == ["latest", "step-000001"]
    assert load_checkpoint(tmp_path)[1]["step"] == 1


def test_stale_temporary_directory_of_a_killed_save_is_ignored_then_removed(tmp_path):
    save_checkpoint(tmp_path, 1, _ghn_writer(1), {"step": 1})
    stale = tmp_path / "step-000002.tmp-99999"
    (stale / "ghn").mkdir(parents=True)
    (stale / "state.pt").write_bytes(b"partial")
    assert latest_checkpoint(tmp_path).name == "step-000001"
    save_checkpoint(tmp_path, 3, _ghn_writer(3), {"step": 3})
    assert not stale.exists()
    assert load_checkpoint(tmp_path)[1]["step"] == 3


def test_dangling_latest_pointer_falls_back_to_newest_complete(tmp_path):
    save_checkpoint(tmp_path, 1, _ghn_writer(1), {"step": 1})
    save_checkpoint(tmp_path, 2, _ghn_writer(2), {"step": 2})
    (tmp_path / "latest").write_text("step-000009\n")
    assert latest_checkpoint(tmp_path).name == "step-000002"


def test_only_the_newest_checkpoints_are_kept(tmp_path):
    for step in range(1, 5):
        save_checkpoint(tmp_path, step, _ghn_writer(step), {"step": step}, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-000003", "step-000004"]


def test_saving_the_same_step_twice_replaces_it(tmp_path):
    save_checkpoint(tmp_path, 5, _ghn_writer(1), {"step": 5, "v": 1})
    save_checkpoint(tmp_path, 5, _ghn_writer(2), {"step": 5, "v": 2})
    assert _entries(tmp_path) == ["latest", "step-000005"]
    assert load_checkpoint(tmp_path)[1]["v"] == 2


def test_state_with_arbitrary_objects_is_refused_on_load(tmp_path):
    import argparse

    path = save_checkpoint(tmp_path, 1, _ghn_writer(1), {"step": 1, "obj": argparse.Namespace(a=1)})
    with pytest.raises(pickle.UnpicklingError, match="weights_only"):
        load_checkpoint(path)


def test_empty_directory_has_no_checkpoint(tmp_path):
    with pytest.raises(CheckpointNotFound):
        load_checkpoint(tmp_path)
    assert latest_checkpoint(tmp_path / "missing") is None
