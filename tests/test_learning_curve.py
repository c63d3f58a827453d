"""experiments/learning_curve.py: legs that branch from one checkpoint start at their parent's compute; the held-out
means it and lever.py read (experiments/common.py)."""

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


def test_heldout_means_average_the_models_measured_for_every_ghn(tmp_path):
    from common import heldout_means

    rows = [("A", "timm", "m1", 0.2), ("A", "timm", "m2", 0.4), ("B", "timm", "m1", 0.3), ("B", "cifar_stem", "m1", 0.5)]
    cache = tmp_path / "cache.jsonl"
    cache.write_text("".join(json.dumps({"ghn": g, "split": f"real_heldout/{form}", "name": m, "result": {"top1": t}})
                             + "\n" for g, form, m, t in rows))
    held = heldout_means(cache, {"a": "A", "b": "B"})
    assert set(held) == {"timm"} and held["timm"]["models"] == 1  # m2 lacks B; the stem form lacks A
    assert held["timm"]["mean"] == {"a": 20.0, "b": 30.0}
