"""experiments/common.py: real_zero_shot.py's cached GHN rows count only for the graph the tracer gives today."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

import common  # noqa: E402  (experiments/common.py)
from arch_zoo import real_heldout  # noqa: E402


def test_a_cached_row_of_another_graph_is_measured_again():
    ref, form = "timm:resnet18", "timm"
    committed = real_heldout.load()["hashes"][ref][form]
    same = {"top1": 0.3, "structure_hash": committed}
    assert common.same_graph(same, ref, form) is same
    assert common.same_graph({"top1": 0.3, "structure_hash": "0" * 40}, ref, form) is None
    assert common.same_graph({"error": "failed"}, ref, form) == {"error": "failed"}
    assert common.same_graph(None, ref, form) is None


def test_heldout_means_leave_out_rows_of_other_graphs(tmp_path):
    ref, form = "timm:resnet18", "timm"
    committed = real_heldout.load()["hashes"][ref][form]
    cache = tmp_path / "held.jsonl"
    rows = [("A", ref, 0.2, committed), ("B", ref, 0.4, "0" * 40), ("A", "timm:resnet50", 0.3, None),
            ("B", "timm:resnet50", 0.5, None)]
    cache.write_text("".join(json.dumps({"ghn": g, "split": f"real_heldout/{form}", "name": m,
                                         "result": {"top1": t, **({"structure_hash": h} if h else {})}}) + "\n"
                             for g, m, t, h in rows))
    means = common.heldout_means(cache, {"a": "A", "b": "B"})[form]
    assert means["models"] == 1 and means["mean"] == {"a": 30.0, "b": 50.0}


def test_graph_change_compares_a_ghns_rows_on_the_earlier_and_todays_graph(tmp_path):
    import graph_change  # experiments/graph_change.py

    form = "timm"
    hashes = real_heldout.load()["hashes"]
    rows = [("A", "timm:resnet18", 0.20, "0" * 40), ("A", "timm:resnet18", 0.30, hashes["timm:resnet18"][form]),
            ("A", "timm:resnet50", 0.40, hashes["timm:resnet50"][form]), ("B", "timm:resnet50", 0.9, "0" * 40)]
    cache = tmp_path / "held.jsonl"
    cache.write_text("".join(json.dumps({"ghn": g, "split": f"real_heldout/{form}", "name": m,
                                         "result": {"top1": t, "structure_hash": h}}) + "\n" for g, m, t, h in rows))
    res = graph_change.before_after(cache, "A")[form]
    assert res["before"] == {"timm:resnet18": 20.0} and res["after"] == {"timm:resnet18": 30.0}
    assert res["models"] == 2 and res["mean_before"] == 30.0 and res["mean_after"] == 35.0
