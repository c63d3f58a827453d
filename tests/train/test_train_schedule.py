import pytest
import torch

from graphparam.train.schedule import WarmupCosine


def _sched(**kw):
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    return WarmupCosine(opt, peak_lr=1.0, **kw)


def test_warmup_then_cosine_over_steps():
    s = _sched(warmup_steps=4, total_steps=14, min_ratio=0.1)
    assert [s.lr(i) for i in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert s.lr(4) == pytest.approx(1.0)
    assert s.lr(9) == pytest.approx(0.55)          # half way: (1 + 0.1) / 2
    assert s.lr(14) == pytest.approx(0.1) and s.lr(100) == pytest.approx(0.1)


def test_time_budget_run_anneals_over_elapsed_time():
    s = _sched(warmup_steps=2, total_steps=None, min_ratio=0.0)
    assert s.lr(0, progress=0.0) == 0.5                   # warmup is counted in steps
    assert s.lr(5, progress=0.5) == pytest.approx(0.5)
    assert s.lr(5, progress=1.2) == pytest.approx(0.0)
    assert s.lr(5) == 1.0                                  # no horizon and no progress: peak


def test_apply_sets_every_group_and_state_round_trips():
    s = _sched(warmup_steps=0, total_steps=10)
    assert s.apply(5) == s.optimizer.param_groups[0]["lr"]
    t = _sched()
    t.load_state_dict(s.state_dict())
    assert t.total_steps == 10
    t.load_state_dict(_sched().state_dict())
    assert t.total_steps is None
