"""experiments/average_ghns.py: the weight average of GHNs and what it cost."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

from average_ghns import average_state, soup_training_record  # noqa: E402


def test_floats_are_averaged_and_other_tensors_must_agree():
    a = {"w": torch.tensor([1.0, 3.0]), "n": torch.tensor(4)}
    b = {"w": torch.tensor([3.0, 5.0]), "n": torch.tensor(4)}
    out = average_state([a, b])
    assert torch.equal(out["w"], torch.tensor([2.0, 4.0])) and int(out["n"]) == 4
    with pytest.raises(ValueError, match="differs"):
        average_state([a, {**b, "n": torch.tensor(5)}])
    with pytest.raises(ValueError, match="parameter names"):
        average_state([a, {"w": b["w"]}])


def test_a_shared_parent_is_counted_once():
    parent = {"cpu_core_hours": 1.0, "total_cpu_core_hours": 3.0}
    legs = [{"steps": 10, "cpu_core_hours": 0.5, "parent": parent},
            {"steps": 20, "gpu_hours": 0.25, "parent": dict(parent)}]
    record = soup_training_record(legs)
    assert record["steps"] == 30 and record["averaged_from"] == legs
    assert record["total_cpu_core_hours"] == 3.5 and record["total_gpu_hours"] == 0.25
