import pytest
import torch

from graphparam.train import checkpoint
from graphparam.train.checkpoint import (STATE_NAME, CheckpointNotFound, latest_checkpoint, list_checkpoints, load_checkpoint,
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

    def broken_write(f, state):
        f.write(b"partial")
        raise RuntimeError("killed mid-write")

    monkeypatch.setattr(checkpoint, "write_state", broken_write)
    with pytest.raises(RuntimeError, match="mid-write"):
        save_checkpoint(tmp_path, 2, lambda p: p.mkdir(), {"step": 2})
    monkeypatch.undo()
    assert _entries(tmp_path) == ["latest", "step-000001"]
    assert load_checkpoint(tmp_path)[1]["step"] == 1


def test_stale_temporary_directory_of_a_killed_save_is_ignored_then_removed(tmp_path):
    save_checkpoint(tmp_path, 1, _ghn_writer(1), {"step": 1})
    stale = tmp_path / "step-000002.tmp-99999"
    (stale / "ghn").mkdir(parents=True)
    (stale / STATE_NAME).write_bytes(b"partial")
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


def test_state_with_arbitrary_objects_is_refused_on_save(tmp_path):
    import argparse

    save_checkpoint(tmp_path, 1, _ghn_writer(1), {"step": 1})
    with pytest.raises(TypeError, match="Namespace"):
        save_checkpoint(tmp_path, 2, _ghn_writer(2), {"step": 2, "obj": argparse.Namespace(a=1)})
    assert _entries(tmp_path) == ["latest", "step-000001"]


def test_resume_state_is_not_a_pickle_and_keeps_what_the_optimizer_needs(tmp_path):
    from graphparam.train.rng import rng_state, set_rng_state

    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.8, 0.95))
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    state = {"step": 7, "optimizer": opt.state_dict(), "rng": rng_state(), "none": None, "nan": float("inf")}
    path = save_checkpoint(tmp_path, 7, _ghn_writer(7), state)
    raw = (path / STATE_NAME).read_bytes()
    assert b"\x80\x04" not in raw[:2] and raw[8:9] == b"{"   # a safetensors header, not a pickle stream
    loaded = load_checkpoint(tmp_path)[1]
    assert loaded["optimizer"]["param_groups"][0]["betas"] == (0.8, 0.95)
    assert sorted(loaded["optimizer"]["state"]) == [0, 1]                 # parameter ids stay ints
    for i in (0, 1):
        for k, v in opt.state_dict()["state"][i].items():
            assert torch.equal(loaded["optimizer"]["state"][i][k], v), k
    fresh = torch.optim.Adam(torch.nn.Linear(3, 2).parameters(), lr=1e-3)
    fresh.load_state_dict(loaded["optimizer"])
    set_rng_state(loaded["rng"])
    expected = torch.rand(3)
    set_rng_state(state["rng"])
    assert torch.equal(torch.rand(3), expected)
    assert loaded["none"] is None and loaded["nan"] == float("inf") and loaded["step"] == 7


def test_pickled_resume_state_of_an_older_version_is_refused_clearly(tmp_path):
    from graphparam.errors import CheckpointError
    from graphparam.train.checkpoint import load_resumable

    path = save_checkpoint(tmp_path, 1, _ghn_writer(1), {"step": 1})
    (path / STATE_NAME).rename(path / "state.pt")
    with pytest.raises(CheckpointError, match="older graphparam"):
        load_resumable(tmp_path, lambda d: d)


def test_empty_directory_has_no_checkpoint(tmp_path):
    with pytest.raises(CheckpointNotFound):
        load_checkpoint(tmp_path)
    assert latest_checkpoint(tmp_path / "missing") is None


def test_load_checkpoint_refuses_damaged_state_with_the_resume_error(tmp_path):
    from graphparam.errors import CheckpointError

    path = save_checkpoint(tmp_path, 1, _ghn_writer(1), {"step": 1})
    (path / STATE_NAME).write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage")
    with pytest.raises(CheckpointError, match=f"{path.name}/{STATE_NAME}"):
        load_checkpoint(tmp_path)
