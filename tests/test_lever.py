"""experiments/lever.py: legs one lever apart; only legs that draw the control's nets (stream, seed, arch start, step
shape) are paired step by step."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

import lever  # noqa: E402


def _record(path: Path, meta_batch: int, batch_size: int, accs: list[float], stream: str = "user_mix") -> None:
    records = [{"kind": "train", "step": i + 1, "acc": a, "elapsed": 10.0 * (i + 1)} for i, a in enumerate(accs)]
    records.append({"kind": "val", "step": len(accs), "top1": 0.3, "nets": 20})
    path.write_text(json.dumps({"config": {"meta_batch": meta_batch, "batch_size": batch_size, "clock": "cpu",
                                           "stream": stream, "seed": 7, "arch_start": 100},
                                "stop": {"process_cpu_s": 3600.0}, "records": records}))


def test_legs_that_draw_the_control_nets_are_paired_and_others_are_not(tmp_path, monkeypatch):
    monkeypatch.setattr(lever, "RESULTS", tmp_path)
    _record(tmp_path / "ctl.json", 8, 64, [0.20] * 100)
    _record(tmp_path / "same.json", 8, 64, [0.21] * 100)
    _record(tmp_path / "wide.json", 16, 32, [0.25] * 50)
    _record(tmp_path / "zoo.json", 8, 64, [0.22] * 100, stream="zoo_mix")  # same shape and seed, other nets
    assert lever.main(["--name", "lv", "--what", "a lever", "--legs", "ctl=a", "same=b", "wide=c", "zoo=d"]) == 0
    data = json.loads((tmp_path / "lv.json").read_text())
    assert set(data["paired"]) == {"same"}
    assert data["paired"]["same"]["mean"] == pytest.approx(1.0) and data["paired"]["same"]["steps"] == 50
    assert data["legs"]["wide"]["shape"] == [16, 32] and data["legs"]["wide"]["window_hours"] == [pytest.approx(500 / 3600)]
    assert data["legs"]["ctl"]["cpu_core_hours"] == pytest.approx(1000 / 3600)  # the leg's clock, not its stop events
    md = (tmp_path / "lv.md").read_text()
    assert "same minus ctl" in md and "wide minus ctl" not in md and "zoo minus ctl" not in md and "wide 16 nets x 32 images" in md
