import math

import pytest
import torch
import torch.nn as nn

from graphparam.data import ImageSet
from graphparam.finetune import (FinetuneResult, compare_inits, eval_marks, finetune, format_results, lr_at,
                                 plot_curves, steps_to_reach)
from graphparam.model import GHN, GHNConfig


def _cnn():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(0.1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))


def _images(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return ImageSet(x, y, tuple("abcdefghij"), f"toy{seed}")


def _run(model, epochs=2, seed=0, **kw):
    kw = {"max_steps_per_epoch": 1, **kw}
    return finetune(model, _images(64, 0), _images(20, 1), epochs=epochs, lr=0.05, batch_size=16,
                    device="cpu", seed=seed, progress=False, **kw)


def test_finetune_two_tiny_steps_gives_finite_numbers():
    torch.manual_seed(0)
    model = _cnn()
    before = [p.clone() for p in model.parameters()]
    r = _run(model)
    assert isinstance(r, FinetuneResult)
    assert r.epochs == 2 and r.steps_per_epoch == 1
    assert len(r.test_top1) == len(r.test_loss) == 3 and len(r.train_loss) == 2
    assert all(0 <= a <= 1 for a in r.test_top1)
    assert all(math.isfinite(v) for v in r.test_loss + r.train_loss + [r.seconds])
    assert not r.diverged
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert FinetuneResult.from_dict(r.as_dict()) == r


def test_finetune_is_deterministic_for_a_seed():
    torch.manual_seed(0)
    a = _run(_cnn(), optimizer="adamw")
    torch.manual_seed(0)
    b = _run(_cnn(), optimizer="adamw")
    assert a.train_loss == b.train_loss and a.test_top1 == b.test_top1


def test_finetune_stops_on_divergence():
    torch.manual_seed(0)
    model = _cnn()
    with torch.no_grad():
        model[-1].weight.fill_(float("nan"))
    r = _run(model, epochs=3)
    assert r.diverged and all(math.isnan(v) for v in r.train_loss)
    assert len(r.test_top1) == 4


def test_lr_schedule_warmup_then_cosine_to_zero():
    assert lr_at(0, 10, 1.0, warmup=2) == pytest.approx(0.5)
    assert lr_at(2, 10, 1.0, warmup=2) == pytest.approx(1.0)
    assert lr_at(10, 10, 1.0, warmup=2) == pytest.approx(0.0)
    assert lr_at(5, 10, 0.3, schedule="constant") == 0.3


def test_compare_inits_ghn_vs_random_same_recipe(tmp_path):
    torch.manual_seed(0)
    ghn = GHN(GHNConfig.named("tiny")).eval()
    res = compare_inits(_cnn, ghn, _images(64, 0), _images(20, 1), epochs=1, lr=0.05, batch_size=16,
                        max_steps_per_epoch=2, device="cpu", progress=False)
    assert list(res) == ["ghn", "random"]
    assert res["ghn"].config == {**res["random"].config, "init_seconds": res["ghn"].config["init_seconds"]}
    assert res["ghn"].test_loss[0] != res["random"].test_loss[0]  # different starting points
    plot_curves(res, tmp_path / "one.png")
    plot_curves({"netA": res, "netB": res}, tmp_path / "grid.png")
    assert (tmp_path / "one.png").stat().st_size > 0 and (tmp_path / "grid.png").stat().st_size > 0


def test_format_results_one_row_per_init():
    r = FinetuneResult("ghn", 2, 1, [0.1, 0.2, 0.3], [1.0, 1.0, 1.0], [2.0, 2.0], 3.0, 2.0)
    text = format_results({"ghn": r, "random": r})
    assert text.splitlines()[0].split()[:4] == ["init", "ep0", "ep1", "ep2"]
    assert "30.00" in text and len(text.splitlines()) == 3


@pytest.mark.parametrize("eval_initial", [True, False])
def test_finetune_head_mismatch_gives_clear_error(eval_initial):
    from graphparam.errors import HeadMismatchError

    model = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 3))  # 3 outputs, 10 classes
    with pytest.raises(HeadMismatchError, match="3 outputs .* 10 classes"):
        _run(model, eval_initial=eval_initial)


@pytest.mark.parametrize("kw", [{"epochs": 0}, {"lr": -1.0}, {"batch_size": 0}])
def test_finetune_epochs_lr_or_batch_size_out_of_range_gives_clear_error(kw):
    from graphparam.errors import ArgumentValueError

    args = {"epochs": 1, "lr": 0.05, "batch_size": 16, **kw}
    with pytest.raises(ArgumentValueError, match="got"):
        finetune(_cnn(), _images(64, 0), _images(20, 1), device="cpu", progress=False, **args)


def test_eval_marks_split_an_epoch_and_end_at_its_end():
    assert eval_marks(782, 1) == [782]
    assert eval_marks(782, 4) == [196, 391, 587, 782]
    assert eval_marks(3, 5) == [1, 2, 3]  # more points than steps: every step once


def test_evals_per_epoch_adds_points_and_leaves_the_run_unchanged(tmp_path):
    torch.manual_seed(0)
    one = _run(_cnn(), epochs=2, max_steps_per_epoch=None)  # 4 steps of 16 per epoch
    torch.manual_seed(0)
    four = _run(_cnn(), epochs=2, max_steps_per_epoch=None, evals_per_epoch=4)
    assert one.eval_steps == [0, 4, 8] and one.eval_top1 == one.test_top1
    assert four.eval_steps == [0, 1, 2, 3, 4, 5, 6, 7, 8] and four.eval_epochs[1] == 0.25
    assert four.train_loss == one.train_loss and four.test_top1 == one.test_top1  # same training run
    assert [four.eval_top1[i] for i in (0, 4, 8)] == four.test_top1
    assert four.config["evals_per_epoch"] == 4
    assert FinetuneResult.from_dict(four.as_dict()) == four
    plot_curves({"ghn": four, "random": one}, tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 0


def test_result_of_the_old_format_reads_back_with_per_epoch_points():
    old = {"init": "ghn", "epochs": 2, "steps_per_epoch": 8, "test_top1": [0.1, 0.2, 0.3], "test_loss": [2.0, 1.9, 1.8],
           "train_loss": [2.1, 2.0], "seconds": 3.0, "train_seconds": 2.0, "diverged": False, "config": {}}
    r = FinetuneResult.from_dict(old)
    assert r.eval_steps == [0, 8, 16] and r.eval_top1 == [0.1, 0.2, 0.3] and r.eval_loss == [2.0, 1.9, 1.8]
    assert r.top1_at_epoch(0.25) == (8, 0.2) and r.steps_to_reach(0.25) == 16


def test_steps_to_reach_first_point_at_or_above():
    steps, top1 = [0, 10, 20, 30], [0.1, float("nan"), 0.3, 0.25]
    assert steps_to_reach(steps, top1, 0.1) == 0
    assert steps_to_reach(steps, top1, 0.2) == 20
    assert steps_to_reach(steps, top1, 0.3) == 20
    assert steps_to_reach(steps, top1, 0.31) is None
    with pytest.raises(ValueError, match="differ in length"):
        steps_to_reach([0], top1, 0.1)


def test_divergence_fills_every_remaining_eval_point():
    torch.manual_seed(0)
    model = _cnn()
    with torch.no_grad():
        model[-1].weight.fill_(float("nan"))
    r = _run(model, epochs=2, max_steps_per_epoch=None, evals_per_epoch=2)
    assert r.diverged and r.eval_steps == [0, 2, 4, 6, 8]
    assert len(set(map(str, r.eval_top1[1:]))) == 1  # the broken model's one measurement, repeated


def test_evals_per_epoch_out_of_range_gives_clear_error():
    from graphparam.errors import ArgumentValueError

    with pytest.raises(ArgumentValueError, match="evals_per_epoch must be >= 1, got 0"):
        _run(_cnn(), evals_per_epoch=0)
