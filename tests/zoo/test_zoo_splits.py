import itertools

import pytest

import arch_zoo
from arch_zoo import SPLITS, sample, split, train_stream
from arch_zoo import splits as splits_mod
from arch_zoo.real import REAL_MODELS


def test_split_definitions():
    assert set(SPLITS) == {"train", "val", "test", "wide", "deep", "dense", "bnfree", "real"}
    sizes = {name: len(split(name)) for name in splits_mod.EVAL_SPLITS}
    assert sizes == {"val": 200, "test": 500, "wide": 100, "deep": 100, "dense": 100, "bnfree": 100}
    assert split("real") == list(REAL_MODELS)
    with pytest.raises(ValueError):
        split("train")
    with pytest.raises(KeyError):
        split("nope")


def test_eval_splits_match_committed_hashes():
    committed = splits_mod._committed_hashes()
    for name in splits_mod.EVAL_SPLITS:
        assert [s.hash for s in split(name)] == list(committed[name])


def test_eval_splits_are_distinct_and_disjoint():
    hashes = [s.hash for name in splits_mod.EVAL_SPLITS for s in split(name)]
    assert len(hashes) == len(set(hashes)) == 1100
    assert splits_mod.eval_hashes() == frozenset(hashes)


def test_eval_split_is_first_distinct_samples():
    assert split("val")[:3] == [sample(0, "val"), sample(1, "val"), sample(2, "val")]


def test_split_returns_a_fresh_list():
    split("val").clear()
    assert len(split("val")) == 200


def test_no_eval_hash_in_first_2000_training_seeds():
    excluded = splits_mod.eval_hashes()
    seeds = []
    for seed, spec in itertools.islice(train_stream(), 2000):
        assert spec.hash not in excluded
        seeds.append(seed)
    assert seeds == sorted(seeds) and seeds[0] == 0


def test_train_stream_skips_eval_nets(monkeypatch):
    banned = frozenset({sample(3).hash, sample(4).hash})
    monkeypatch.setattr(splits_mod, "eval_hashes", lambda: banned)
    seeds = [seed for seed, _ in itertools.islice(arch_zoo.train_stream(start=1), 4)]
    assert seeds == [1, 2, 5, 6]


def test_shallow_stream_draws_train_families_with_few_cells():
    specs = [spec for _, spec in itertools.islice(arch_zoo.train_stream(stream="shallow"), 40)]
    assert all(3 <= len(s.cells) <= 6 for s in specs)
    assert len({s.family for s in specs}) >= 3
