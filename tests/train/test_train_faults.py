"""Faults around a training run's output directory: damaged checkpoints and two runs on one ``--out``.

(A run killed with SIGKILL and one stopped with SIGTERM are in test_train_resume.py.)
"""

import shutil
import subprocess
import sys

import pytest

from graphparam.errors import CheckpointError, RunLockedError
from graphparam.train.checkpoint import STATE_NAME, UNREADABLE
from graphparam.train.lock import RunLock
from graphparam.train.metrics import read_metrics
from train_helpers import losses, run_tiny

TINY_ARGV = ["--ghn", "tiny", "-M", "2", "-b", "8", "--steps", "4", "--data", "embedded", "--val-images", "100",
             "--eval-every", "0", "--no-progress", "--threads", "1"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A 4-step tiny run with checkpoints after steps 2 and 4, and its per-step losses."""
    out = tmp_path_factory.mktemp("run") / "out"
    run_tiny(out, steps=4, checkpoint_every=2)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["latest", "step-000002", "step-000004"]
    return out, losses(out)


@pytest.fixture
def run_copy(finished_run, tmp_path):
    out, expected = finished_run
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    return copy, expected


def _truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


def _resume_falls_back_to_step_2(out, expected, capsys, damaged_file):
    trainer, result = run_tiny(out, steps=4, checkpoint_every=2)
    warnings = [line for line in capsys.readouterr().err.splitlines() if "unreadable" in line]
    assert len(warnings) == 1, warnings
    assert "step-000004" in warnings[0] and damaged_file in warnings[0] and "resuming from step-000002" in warnings[0]
    assert trainer.resumed_from.name == "step-000002" and result.steps == 4
    got = losses(out)
    assert sorted(got) == [1, 2, 3, 4]
    for step in (3, 4):                                  # recomputed from step 2: the same losses
        assert abs(got[step] - expected[step]) <= 1e-5, (step, got[step], expected[step])
    assert (out / "checkpoints" / f"step-000004{UNREADABLE}").is_dir()   # kept aside for inspection
    events = read_metrics(out / "metrics.jsonl", "event")
    assert [e["path"] for e in events if e["event"] == "checkpoint_unreadable"] == [
        str(out / "checkpoints" / "step-000004")]


def test_truncated_latest_checkpoint_falls_back_to_the_previous_one(run_copy, capsys):
    out, expected = run_copy
    _truncate(out / "checkpoints" / "step-000004" / STATE_NAME)
    _resume_falls_back_to_step_2(out, expected, capsys, STATE_NAME)


def test_corrupted_ghn_weights_in_latest_checkpoint_fall_back_to_the_previous_one(run_copy, capsys):
    out, expected = run_copy
    (out / "checkpoints" / "step-000004" / "ghn" / "model.safetensors").write_bytes(b"\x80\x04not safetensors")
    _resume_falls_back_to_step_2(out, expected, capsys, "model.safetensors")


def test_every_checkpoint_unreadable_gives_clear_error_not_step_zero(run_copy):
    out, _ = run_copy
    for name in ("step-000002", "step-000004"):
        _truncate(out / "checkpoints" / name / STATE_NAME, keep=0.1)
    before = (out / "metrics.jsonl").read_text()
    with pytest.raises(CheckpointError) as info:
        run_tiny(out, steps=4)
    message = str(info.value)
    assert "\n" not in message and "step-000002" in message and "step-000004" in message and STATE_NAME in message
    assert (out / "metrics.jsonl").read_text() == before   # nothing trained, nothing logged, nothing moved
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["latest", "step-000002", "step-000004"]
    with RunLock(out) as lock:                              # the failed run released its lock
        assert lock.held


def test_every_checkpoint_unreadable_on_the_command_line_gives_one_line(run_copy, capsys):
    from graphparam.train.run import main

    out, _ = run_copy
    for name in ("step-000002", "step-000004"):
        (out / "checkpoints" / name / STATE_NAME).write_bytes(b"")
    assert main(["--out", str(out), *TINY_ARGV]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error: cannot resume" in err[0] and "step-000004" in err[0], err


def test_holding_out_every_image_is_one_line_and_the_help_example_runs(tmp_path, capsys):
    from graphparam.train.run import EPILOG, main

    assert main(["--out", str(tmp_path / "all"), *TINY_ARGV, "--val-images", "1000"]) == 2  # the last one counts
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--val-images 1000 leaves no training images out of the 1000" in err[0], err
    example = next(line.split("python -m graphparam.train ")[1].split() for line in EPILOG.splitlines()
                   if "--data embedded" in line)
    example[example.index("--out") + 1] = str(tmp_path / "dbg")
    example[example.index("--steps") + 1] = "1"
    assert main([*example, "--no-progress", "--eval-every", "0", "--threads", "1"]) == 0


def test_second_trainer_on_the_same_out_refuses(tmp_path, capsys):
    from graphparam.train.run import main

    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from graphparam.train.lock import RunLock; "
                               "RunLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(120)",
                               str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=f"pid {holder.pid}"):
            run_tiny(out, steps=1)
        capsys.readouterr()
        assert main(["--out", str(out), *TINY_ARGV]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "in use by another training run" in err[0] and ".lock" in err[0], err
        assert not (out / "checkpoints").exists() and read_metrics(out / "metrics.jsonl") == []  # wrote nothing
    finally:
        holder.kill()                                     # SIGKILL: the lock file stays, the lock goes
        holder.wait()
    assert (out / ".lock").is_file()
    _, result = run_tiny(out, steps=1)
    assert result.steps == 1


def test_lock_is_released_when_the_run_ends(tmp_path):
    out = tmp_path / "out"
    run_tiny(out, steps=1)
    with RunLock(out) as lock:
        assert lock.held
        with pytest.raises(RunLockedError):              # a second holder, even in the same process
            RunLock(out).acquire()
