"""The zero-shot table's per-net result file: a resumed or partitioned table reuses exactly the
results of the same GHN, data and image count, and nothing else."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

from train_eval import NetResults, evaluate_split  # noqa: E402


def test_results_are_reused_only_in_their_context(tmp_path):
    path = tmp_path / "nets.jsonl"
    first = NetResults(path, {"ghn": "abc", "images": 100})
    first.put("test", "000", {"top1": 0.5})
    assert NetResults(path, {"ghn": "abc", "images": 100}).get("test", "000")["top1"] == 0.5
    assert NetResults(path, {"ghn": "abc", "images": 1000}).get("test", "000") is None
    assert NetResults(path, {"ghn": "other", "images": 100}).get("test", "000") is None


def test_a_resumed_split_equals_an_uninterrupted_one(tmp_path, monkeypatch):
    from graphparam.data import load_dataset
    from graphparam.evaluate import first_images

    torch.set_num_threads(1)
    data = first_images(load_dataset("embedded", "test"), 50)
    cache = NetResults(tmp_path / "nets.jsonl", {"ghn": "default_init", "images": len(data)})
    whole = evaluate_split(None, "test", data, 2, torch.device("cpu"), 50, progress=False)
    evaluate_split(None, "test", data, 1, torch.device("cpu"), 50, progress=False, cache=cache)  # interrupted
    resumed = evaluate_split(None, "test", data, 2, torch.device("cpu"), 50, progress=False, cache=cache)
    assert [n["top1"] for n in resumed["nets"].values()] == [n["top1"] for n in whole["nets"].values()]
    assert len((tmp_path / "nets.jsonl").read_text().splitlines()) == 2


def test_shards_fill_one_cache_with_the_nets_of_the_whole_split(tmp_path):
    from graphparam.data import load_dataset
    from graphparam.evaluate import first_images

    torch.set_num_threads(1)
    data = first_images(load_dataset("embedded", "test"), 20)
    cpu = torch.device("cpu")
    whole = evaluate_split(None, "test", data, 3, cpu, 20, progress=False)
    context = {"ghn": "default_init", "images": len(data)}
    parts = [evaluate_split(None, "test", data, 3, cpu, 20, progress=False, cache=NetResults(tmp_path / "n.jsonl", context),
                            shard=(i, 2)) for i in range(2)]
    assert [list(part["nets"]) for part in parts] == [["000", "002"], ["001"]]
    table = evaluate_split(None, "test", data, 3, cpu, 20, progress=False, cache=NetResults(tmp_path / "n.jsonl", context))
    assert {k: n["top1"] for k, n in table["nets"].items()} == {k: n["top1"] for k, n in whole["nets"].items()}


def test_real_models_can_be_chosen_by_name_and_keep_their_index(tmp_path):
    import arch_zoo
    from graphparam.data import load_dataset
    from graphparam.evaluate import first_images

    torch.set_num_threads(1)
    data = first_images(load_dataset("embedded", "test"), 20)
    res = evaluate_split(None, "real", data, None, torch.device("cpu"), 20, progress=False, only={"vit_tiny"})
    index = list(arch_zoo.real.REAL_MODELS).index("vit_tiny")
    assert list(res["nets"]) == [f"{index:03d}"] and res["nets"][f"{index:03d}"]["id"] == "vit_tiny"


def test_jobs_fill_the_cache_in_parallel_and_write_the_table_from_it(tmp_path):
    import json
    import zero_shot_table

    cache, out = tmp_path / "nets.jsonl", tmp_path / "zs"
    args = ["--splits", "test", "--max-nets", "3", "--max-images", "20", "--data", "embedded",
            "--cache", str(cache), "--out", str(out)]
    assert zero_shot_table.main(args + ["--jobs", "2"]) == 0
    records = [json.loads(line) for line in cache.read_text().splitlines()]
    assert len(records) == 6  # 3 nets x (GHN, default init), each measured once by one of the two shards
    table = json.loads(out.with_suffix(".json").read_text())
    assert table["ghn"]["test"]["summary_top1_percent"]["n"] == 3
    assert "--jobs 2" in table["meta"]["command"]


def test_a_tile_layout_override_is_another_ghn_for_the_cache(tmp_path):
    import json
    import zero_shot_table

    cache = tmp_path / "nets.jsonl"
    args = ["--splits", "test", "--max-nets", "1", "--max-images", "20", "--data", "embedded", "--threads", "1",
            "--cache", str(cache)]
    assert zero_shot_table.main(args + ["--tile-layout", "permuted", "--out", str(tmp_path / "a")]) == 0
    assert zero_shot_table.main(args + ["--tile-layout", "repeat", "--out", str(tmp_path / "b")]) == 0
    keys = [json.loads(line)["ghn"] for line in cache.read_text().splitlines()]
    assert len(keys) == 3 and keys.count("default_init") == 1  # the GHN twice: the layout is part of it
    assert json.loads((tmp_path / "b.json").read_text())["meta"]["tile_layout"] == "repeat"
