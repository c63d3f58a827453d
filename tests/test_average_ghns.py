"""experiments/average_ghns.py: a soup of GHNs of one parent, and its lineage cost."""

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

import average_ghns  # noqa: E402

from graphparam.model import GHN, GHNConfig  # noqa: E402
from graphparam.model.checkpoint import save  # noqa: E402
from graphparam.train.lineage import lineage_cost  # noqa: E402

PARENT = {"cpu_core_hours": 2.0, "total_cpu_core_hours": 5.0}


def _member(path: Path, seed: int, own: float, parent=PARENT) -> Path:
    torch.manual_seed(seed)
    ghn = GHN(GHNConfig.named("tiny"))
    cfg = ghn.pretrained_cfg.to_dict()
    cfg["training"] = {"cpu_core_hours": own, "total_cpu_core_hours": own + lineage_cost(parent, "cpu_core_hours"),
                       "parent": parent}
    return save(ghn, path, cfg)


def test_soup_is_the_mean_and_counts_the_parent_once(tmp_path):
    a, b = _member(tmp_path / "a", 0, 1.0), _member(tmp_path / "b", 1, 0.5)
    assert average_ghns.main([str(a), str(b), "--out", str(tmp_path / "soup")]) == 0
    soup = GHN.from_pretrained(tmp_path / "soup")
    ga, gb = GHN.from_pretrained(a), GHN.from_pretrained(b)
    key = next(k for k, v in soup.state_dict().items() if v.is_floating_point() and v.numel() > 1)
    torch.testing.assert_close(soup.state_dict()[key], (ga.state_dict()[key] + gb.state_dict()[key]) / 2)
    training = json.loads((tmp_path / "soup" / "config.json").read_text())["pretrained_cfg"]["training"]
    assert lineage_cost(training, "cpu_core_hours") == pytest.approx(5.0 + 1.0 + 0.5)
    assert len(training["average_of"]) == 2 and "average_ghns.py" in training["command"]


def test_ghns_of_different_parents_are_refused(tmp_path):
    a = _member(tmp_path / "a", 0, 1.0)
    b = _member(tmp_path / "b", 1, 1.0, parent={"cpu_core_hours": 3.0})
    with pytest.raises(SystemExit, match="different parents"):
        average_ghns.main([str(a), str(b), "--out", str(tmp_path / "soup")])
