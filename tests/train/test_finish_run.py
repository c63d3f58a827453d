"""experiments/finish_run.py: a run that ended without a last validation gets one, and a compact copy."""

import importlib.util
import json
from pathlib import Path

from graphparam.train.metrics import read_metrics

from train_helpers import run_tiny

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "finish_run.py"


def _finish_run():
    spec = importlib.util.spec_from_file_location("finish_run", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_finish_run_validates_the_last_step_once_and_keeps_compact_records(tmp_path):
    run = tmp_path / "run"
    run_tiny(run, steps=3, val_nets=1)  # eval_every=0: the run itself never validated
    finish = _finish_run()
    assert finish.main([str(run), "--name", "leg", "--results", str(tmp_path), "--command", "cmd"]) == 0
    val = read_metrics(run / "metrics.jsonl", "val")
    assert [(r["step"], r["final"], r["nets"]) for r in val] == [(3, True, 1)]
    assert 0 <= val[0]["top1"] <= 1
    kept = json.loads((tmp_path / "leg.json").read_text())
    assert kept["argv"] == "cmd" and kept["config"]["steps"] == 3
    assert [r["step"] for r in kept["records"] if r["kind"] == "train"] == [1, 2, 3]
    assert set(kept["records"][0]) <= {"kind", "step", "acc", "images", "ce", "elapsed", "loss"}
    assert kept["stop"]["step"] == 3 and kept["stop"]["processes"] == 1
    assert kept["stop"]["process_cpu_s"] > 0 and kept["stop"]["peak_rss_gb"] > 0
    finish.main([str(run), "--name", "leg", "--results", str(tmp_path)])  # already validated: not again
    assert len(read_metrics(run / "metrics.jsonl", "val")) == 1


def test_run_cost_sums_the_cpu_of_every_process_that_stopped_and_counts_the_killed_ones():
    from graphparam.train.metrics import run_cost

    start, resume = {"kind": "event", "event": "start", "step": 0}, {"kind": "event", "event": "resume", "step": 5}
    rows = [start, {"kind": "train", "step": 1},
            {"kind": "event", "event": "stop", "step": 5, "reason": "SIGTERM", "elapsed": 50.0,
             "process_cpu_s": 40.0, "peak_rss_gb": 2.0},
            resume, {"kind": "event", "event": "stop", "step": 9, "reason": "done", "elapsed": 90.0,
                     "process_cpu_s": 30.0, "peak_rss_gb": 2.5}]
    assert run_cost(rows) == {"step": 9, "reason": "done", "elapsed": 90.0, "processes": 2, "killed": 0,
                              "process_cpu_s": 70.0, "peak_rss_gb": 2.5}
    killed_then_resumed = rows[:4] + [resume] + rows[4:]  # a process that resumed at step 5 and was killed
    assert run_cost(killed_then_resumed)["processes"] == 3 and run_cost(killed_then_resumed)["killed"] == 1
    assert run_cost(rows[:2]) is None
