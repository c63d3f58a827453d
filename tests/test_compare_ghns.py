"""experiments/compare_ghns.py: GHNs side by side on the models measured for every one."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

import compare_ghns  # noqa: E402


def test_compare_reports_the_common_models_and_the_ones_that_moved(tmp_path):
    held = tmp_path / "held.jsonl"
    held.write_text("".join(json.dumps({"ghn": g, "split": "real_heldout/timm", "name": m, "result": {"top1": t}}) + "\n"
                            for g, m, t in [("A", "m1", 0.20), ("A", "m2", 0.30), ("B", "m1", 0.20), ("B", "m2", 0.40),
                                            ("B", "m3", 0.50)]))
    zoo = tmp_path / "zoo.jsonl"
    zoo.write_text("".join(json.dumps({"ghn": g, "split": "test", "name": n, "images": images, "result": {"top1": t}})
                           + "\n" for g, n, images, t in [("A", "000", 10000, 0.3), ("B", "000", 10000, 0.3),
                                                          ("B", "001", 10000, 0.9), ("A", "001", 2000, 0.1)]))
    assert compare_ghns.main(["--name", "cmp", "--ghns", "a=A", "b=B", "--heldout-cache", str(held),
                              "--zoo-cache", str(zoo), "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "cmp.json").read_text())
    assert data["sets"]["heldout/timm"]["models"] == 2  # m3 lacks A
    assert data["sets"]["heldout/timm"]["mean"] == pytest.approx({"a": 25.0, "b": 30.0})
    assert data["sets"]["test"]["models"] == 1  # net 001 of A was measured on another image count
    md = (tmp_path / "cmp.md").read_text()
    assert "| heldout/timm | 2 | 25.00 | 30.00 | 1 (1) |" in md and "| m2 | 30.0 | 40.0 | +10.0 |" in md
