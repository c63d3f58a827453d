import os
import signal
import subprocess
import sys
from pathlib import Path

from graphparam.train.checkpoint import load_checkpoint
from graphparam.train.lock import RunLock
from graphparam.train.metrics import read_metrics
from train_helpers import losses, run_tiny

WORKER = Path(__file__).with_name("resume_worker.py")


def _worker(out, steps, every, sig, at):
    return subprocess.run([sys.executable, str(WORKER), str(out), str(steps), str(every), sig, str(at)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONHASHSEED": "0"})


def test_run_killed_with_sigkill_resumes_to_the_same_losses(tmp_path):
    _, full = run_tiny(tmp_path / "full", steps=6)
    expected = losses(tmp_path / "full")
    assert sorted(expected) == [1, 2, 3, 4, 5, 6]

    out = tmp_path / "killed"
    proc = _worker(out, 6, 3, "KILL", 4)                  # checkpoint after step 3, SIGKILL after step 4
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert "RESULT" not in proc.stdout
    assert load_checkpoint(out / "checkpoints")[1]["step"] == 3
    assert 4 in losses(out)                                 # step 4 ran (and was logged) before the kill
    assert (out / ".lock").is_file()                        # the killed run's lock file stays: must not block

    _, resumed = run_tiny(out, steps=6)                     # same command again: resumes from step 3
    assert resumed.steps == 6
    got = losses(out)
    assert sorted(got) == [1, 2, 3, 4, 5, 6]                # the killed run's step 4 was cut from the log
    for step in expected:
        assert abs(got[step] - expected[step]) <= 1e-5, (step, got[step], expected[step])
    events = [r["event"] for r in read_metrics(out / "metrics.jsonl", "event")]
    assert events.count("resume") == 1


def test_sigterm_checkpoints_and_exits_cleanly(tmp_path):
    proc = _worker(tmp_path, 50, 0, "TERM", 2)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "RESULT 2 SIGTERM" in proc.stdout
    assert load_checkpoint(tmp_path / "checkpoints")[1]["step"] == 2
    stop = [r for r in read_metrics(tmp_path / "metrics.jsonl", "event") if r["event"] == "stop"]
    assert stop[-1]["reason"] == "SIGTERM" and stop[-1]["step"] == 2
    assert (tmp_path / "ghn" / "model.safetensors").is_file()
    with RunLock(tmp_path) as lock:                          # the stopped run released its lock
        assert lock.held


def test_signal_during_setup_stops_before_the_first_step(tmp_path):
    # SIGINT reaches a `nohup ... &` process (SIGINT ignored at start) while train() builds its trainer
    proc = _worker(tmp_path, 50, 0, "INT", 0)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "RESULT 0 SIGINT" in proc.stdout
    assert losses(tmp_path) == {}                           # no step ran
    assert load_checkpoint(tmp_path / "checkpoints")[1]["step"] == 0
    assert (tmp_path / "ghn" / "model.safetensors").is_file()
