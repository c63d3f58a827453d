"""The run's RNG state: captured into a checkpoint and restored, the per-step seed; the run's record."""

import random

import numpy as np
import torch

from graphparam.train.record import RunRecord
from graphparam.train.rng import rng_state, set_rng_state, step_seed


def _draws() -> tuple:
    return torch.rand(3).tolist(), random.random(), np.random.rand(2).tolist(), random.gauss(0, 1)


def test_a_restored_rng_state_draws_what_the_captured_one_did():
    random.gauss(0, 1)  # leaves a cached Gaussian in Python's state
    state = rng_state()
    first = _draws()
    _draws()
    set_rng_state(state)
    assert _draws() == first


def test_step_seed_is_a_fixed_63_bit_mix_of_seed_step_and_rank():
    seeds = {step_seed(s, t, r) for s in (0, 1) for t in (0, 1, 2) for r in (0, 1)}
    assert len(seeds) == 12 and all(0 <= v < 2 ** 63 for v in seeds)
    assert step_seed(7, 3, 1) == step_seed(7, 3, 1)


def test_a_disabled_run_record_writes_nothing(tmp_path):
    from graphparam.train.config import TrainConfig

    record = RunRecord(tmp_path / "out", enabled=False)
    record.start(TrainConfig(out=str(tmp_path / "out"), steps=1), 0, None, world_size=2)
    record.step({"kind": "skip", "step": 1, "reason": "x", "nets": [], "bad_nets": []}, log_every=1)
    record.checkpoint(1, None)
    record.stop(1, "steps", 1.0, None)
    assert not (tmp_path / "out").exists()
