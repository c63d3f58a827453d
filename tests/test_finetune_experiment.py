"""experiments/finetune.py: held-out tokens built in the CIFAR-stem form of real_zero_shot.py, a Fashion-MNIST
directory as --dataset, evaluation points inside an epoch, the report's per-point table, steps-to-reach and win
count, its own result stem, and a rerun that resumes (a tiny synthetic data set and an untrained GHN)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))
sys.path.insert(0, str(Path(__file__).resolve().parent / "data"))

import finetune as script  # noqa: E402  (experiments/finetune.py)
from test_data_fashion_mnist import _fake_dir  # noqa: E402


def test_heldout_token_is_the_cifar_stem_form_of_real_zero_shot():
    from arch_zoo import real_heldout

    net = script.net_factory("heldout:torchvision:mobilenet_v3_small")
    assert net.family == "mobilenet" and "CIFAR stem" in net.name and net.input_size == real_heldout.INPUT_SIZE
    torch.manual_seed(0)
    ours = net.make()
    torch.manual_seed(0)
    ref = real_heldout.build("torchvision:mobilenet_v3_small", "cifar_stem")
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [(k, v.shape) for k, v in ref.state_dict().items()]
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), ref.state_dict().values()))
    with pytest.raises(SystemExit, match="not in the held-out list"):
        script.net_factory("heldout:timm:resnet9000")


def test_reach_reads_the_ghn_quarter_epoch_point():
    row = {"ghn": {"eval_steps": [0, 3, 5, 8], "eval_curve": [0.2, 0.3, 0.35, 0.4]},
           "random": {"eval_steps": [0, 3, 5, 8], "eval_curve": [0.1, 0.2, 0.31, 0.5]}}
    r = script.reach(row, steps_per_epoch=8)  # 1/4 epoch = step 2: the first point at or after it is step 3
    assert (r["ghn_step"], r["target"], r["default_steps"]) == (3, 0.3, 5)
    assert script._frac(0.25) == "1/4" and script._frac(1.5) == "1 1/2" and script._frac(2) == "2"


def test_script_on_a_fashion_mnist_directory(tmp_path):
    data = tmp_path / "fmnist"
    data.mkdir()
    _fake_dir(data, n_train=32, n_test=20)
    cmd = [sys.executable, str(ROOT / "experiments" / "finetune.py"), "--ghn", "untrained:tiny", "--nets", "test:0",
           "--dataset", str(data), "--epochs", "1", "--max-steps-per-epoch", "0", "--batch-size", "8",
           "--evals-per-epoch", "4", "--seeds", "0", "--test-images", "20", "--test-subset", "first",
           "--out", str(tmp_path / "out"), "--name", "ft_fashion"]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "GHN ahead after 1 epoch on" in run.stdout and "last epoch" not in run.stdout  # one epoch: said once
    out = json.loads((tmp_path / "out" / "ft_fashion.json").read_text())
    assert out["complete"] and out["data"]["train"] == "fashion-mnist/train"
    assert out["recipe"]["evals_per_epoch"] == 4 and out["recipe"]["dataset"] == "fashion-mnist/train"
    pair = out["runs"]["test:0|0"]
    assert pair["ghn"]["eval_steps"] == pair["random"]["eval_steps"] == [0, 1, 2, 3, 4]
    md = (tmp_path / "out" / "ft_fashion.md").read_text()
    assert "Fashion-MNIST, never seen by the GHN" in md and "| 1/4 (1) | 1/2 (2) | 3/4 (3) | 1 (4) |" in md
    assert "GHN start ahead after 1 epoch on" in md and "after the last epoch" not in md  # one epoch: said once
    assert "default init reaches it at step" in md
    assert (tmp_path / "out" / "ft_fashion.png").stat().st_size > 0
    assert not (tmp_path / "out" / "finetune.json").exists()  # its own stem
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "seed 0: top1" not in again.stdout  # resumed: nothing retrained
