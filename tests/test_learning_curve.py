"""experiments/learning_curve.py: legs that branch from one checkpoint start at their parent's compute."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

from learning_curve import campaign  # noqa: E402


def _run(path: Path, hours: float) -> Path:
    seconds = hours * 3600
    path.write_text(json.dumps({"records": [
        {"kind": "train", "step": 1, "elapsed": seconds},
        {"kind": "val", "step": 1, "top1": 0.2, "top1_min": 0.1, "top1_max": 0.3, "nets": 2, "images": 10}]}))
    return path


def test_branches_count_their_parent_once_in_lineage_and_every_leg_in_the_campaign(tmp_path):
    paths = [_run(tmp_path / "a.json", 1.0), _run(tmp_path / "b.json", 2.0), _run(tmp_path / "c.json", 0.5)]
    points, ends, spent = campaign(["a", "b", "c"], paths, [1, 1, 2], {"b": "a", "c": "a"})
    assert ends == {"a": 1.0, "b": 3.0, "c": 2.0} and spent == 4.0
    assert [(pt["core_hours"], pt["campaign_hours"]) for pt in points] == [(1.0, 1.0), (3.0, 3.0), (2.0, 4.0)]
