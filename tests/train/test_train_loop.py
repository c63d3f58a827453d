import json
import math

import pytest
import torch

from graphparam.model import GHN
from graphparam.pretrained_cfg import DEFAULT_CFG, PretrainedCfg, cfg_of
from graphparam.train.metrics import read_metrics
from train_helpers import ghn_state, run_tiny, tiny_sampler


def test_tiny_run_trains_logs_and_exports(tmp_path):
    out = tmp_path / "run"
    trainer, result = run_tiny(out, steps=4, export=str(tmp_path / "export"), eval_every=2, val_nets=1,
                               checkpoint_every=2)
    assert (result.steps, result.skipped, result.stopped_by) == (4, 0, "steps")
    train = read_metrics(out / "metrics.jsonl", "train")
    assert [r["step"] for r in train] == [1, 2, 3, 4]
    for r in train:
        assert math.isfinite(r["loss"]) and 0 <= r["acc"] <= 1 and r["archs_per_s"] > 0 and len(r["seeds"]) == 2
    assert [r["lr"] for r in train][:2] == [1.5e-3, 3e-3]  # linear warmup over 2 steps to lr=3e-3
    assert train[-1]["lr"] < train[1]["lr"]  # then cosine
    assert len(read_metrics(out / "metrics.jsonl", "val")) == 2
    assert (out / "curves.png").stat().st_size > 1000
    assert json.loads((out / "config.json").read_text())["ghn"] == "tiny"
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["latest", "step-000002", "step-000004"]
    final = ghn_state(trainer.ghn)
    for d in (out / "ghn", tmp_path / "export", out / "checkpoints" / "step-000004" / "ghn"):
        loaded = GHN.from_pretrained(d)
        assert all(torch.equal(final[k], v) for k, v in loaded.state_dict().items())
        saved = cfg_of(loaded)  # a dict or a PretrainedCfg, whichever the GHN keeps
        assert saved.training["steps"] == 4 and saved.input_size == DEFAULT_CFG.input_size
        assert saved.num_classes == 10 and saved.mean == DEFAULT_CFG.mean and saved.dataset == "cifar10-test1k-train900"


def test_a_run_ending_between_evaluations_is_validated_at_its_last_step(tmp_path):
    run_tiny(tmp_path / "run", steps=3, eval_every=2, val_nets=1)
    val = read_metrics(tmp_path / "run" / "metrics.jsonl", "val")
    assert [(r["step"], r.get("final", False)) for r in val] == [(2, False), (3, True)]
    for r in val:  # one top-1 per net, in split order, for per-net comparisons between runs
        assert len(r["top1_nets"]) == r["nets"] == 1 and abs(r["top1_nets"][0] - r["top1"]) < 1e-3


class _InfSpec:
    """A spec whose net multiplies its logits by inf."""

    def __init__(self, spec):
        self.spec = spec
        self.hash = spec.hash + "-inf"

    def build(self, num_classes=10):
        net = self.spec.build(num_classes=num_classes)
        net.register_forward_hook(lambda module, args, out: out * float("inf"))
        return net


def test_non_finite_step_is_skipped_and_logged(tmp_path, capsys):
    def sampler(start):
        for seed, spec in tiny_sampler(start):
            yield seed, (_InfSpec(spec) if seed == 3 else spec)   # step 2 holds seeds 2, 3

    states = {}
    trainer, result = run_tiny(tmp_path, sampler=sampler, steps=3,
                               on_step=lambda t, r: states.__setitem__(r["step"], ghn_state(t.ghn)))
    assert (result.steps, result.skipped) == (3, 1)
    skips = read_metrics(tmp_path / "metrics.jsonl", "skip")
    assert len(skips) == 1 and skips[0]["step"] == 2 and skips[0]["reason"] == "non-finite loss"
    assert [n["seed"] for n in skips[0]["bad_nets"]] == [3]
    assert skips[0]["bad_nets"][0]["hash"].endswith("-inf")
    assert "seed 3" in capsys.readouterr().err
    assert all(torch.equal(states[1][k], states[2][k]) for k in states[1])        # no update at step 2
    assert not all(torch.equal(states[2][k], states[3][k]) for k in states[2])    # training went on
    assert [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl", "train")] == [1, 3]


class _FakeClock:
    """Stands in for the ``time`` module of the loop: every reading advances by 0.25 s."""

    def __init__(self):
        import time

        self._time, self.now = time, 0.0

    def perf_counter(self):
        self.now += 0.25
        return self.now

    monotonic = perf_counter

    def __getattr__(self, name):
        return getattr(self._time, name)


def test_time_budget_stops_the_run_and_anneals_the_rate(tmp_path, monkeypatch):
    import graphparam.train.loop as loop

    monkeypatch.setattr(loop, "time", _FakeClock())
    trainer, result = run_tiny(tmp_path, steps=None, time_budget=3.0, warmup_steps=1)
    assert result.stopped_by == "time_budget" and result.elapsed >= 3.0 and 3 <= result.steps < 12
    lrs = [r["lr"] for r in read_metrics(tmp_path / "metrics.jsonl", "train")]
    assert lrs[0] == 3e-3 and all(a > b for a, b in zip(lrs[1:], lrs[2:])) and lrs[-1] < 1e-3


def test_non_finite_gradient_step_is_skipped(tmp_path, monkeypatch):
    real = torch.nn.utils.clip_grad_norm_
    calls = []

    def clip(params, max_norm, *args, **kwargs):
        calls.append(1)
        norm = real(params, max_norm, *args, **kwargs)
        if len(calls) == 2:                       # step 2: poison the gradient
            for p in params:
                p.grad.fill_(float("nan"))
            return torch.tensor(float("nan"))
        return norm

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip)
    states = {}
    _, result = run_tiny(tmp_path, steps=3, on_step=lambda t, r: states.__setitem__(r["step"], ghn_state(t.ghn)))
    assert (result.steps, result.skipped) == (3, 1)
    skip, = read_metrics(tmp_path / "metrics.jsonl", "skip")
    assert skip["step"] == 2 and skip["reason"] == "non-finite gradient" and len(skip["nets"]) == 2
    assert all(torch.equal(states[1][k], states[2][k]) for k in states[1])
    assert all(torch.isfinite(v).all() for v in states[3].values())


def test_net_with_unpredicted_parameters_is_skipped_not_half_predicted(tmp_path, monkeypatch):
    import graphparam.train.archs as archs

    real = archs.build_arch

    def build_with_extra(seed, spec, *args, **kwargs):
        arch = real(seed, spec, *args, **kwargs)
        if seed == 1:   # a parameter the graph does not know (so the GHN cannot predict it)
            arch.param_names = arch.param_names | {"not.in.the.graph"}
        return arch

    monkeypatch.setattr(archs, "build_arch", build_with_extra)
    _, result = run_tiny(tmp_path, steps=2)
    skip, = read_metrics(tmp_path / "metrics.jsonl", "skip")
    assert skip["step"] == 1 and "predicted no tensor" in skip["reason"] and result.skipped == 1


def test_init_from_starts_with_the_checkpoint_weights(tmp_path):
    from graphparam.model import GHNConfig

    start = GHN(GHNConfig.named("tiny", layers=1))
    start.save(tmp_path / "start")

    from graphparam.train import Trainer
    from train_helpers import tiny_config, tiny_data

    trainer = Trainer(tiny_config(tmp_path / "run", steps=1, init_from=str(tmp_path / "start")),
                      sampler=tiny_sampler, data=tiny_data())
    before = ghn_state(trainer.ghn)
    assert trainer.ghn.config == start.config  # the checkpoint's config, not --ghn tiny's
    assert all(torch.equal(before[k], v) for k, v in start.state_dict().items())
    trainer.run()
    assert any(not torch.equal(before[k], v) for k, v in trainer.ghn.state_dict().items())


def test_init_from_takes_overrides_that_keep_every_shape(tmp_path):
    from graphparam.errors import CheckpointError
    from graphparam.model import GHNConfig
    from graphparam.train import Trainer
    from train_helpers import tiny_config, tiny_data

    start = GHN(GHNConfig.named("tiny", layers=1))
    start.save(tmp_path / "start")
    trainer = Trainer(tiny_config(tmp_path / "run", steps=1, init_from=str(tmp_path / "start"),
                                  ghn_overrides={"tile_layout": "repeat"}), sampler=tiny_sampler, data=tiny_data())
    assert trainer.ghn.config.tile_layout == "repeat" and trainer.ghn.config.layers == 1
    assert all(torch.equal(trainer.ghn.state_dict()[k], v) for k, v in start.state_dict().items())
    trainer.run()
    assert GHN.from_pretrained(tmp_path / "run" / "ghn").config.tile_layout == "repeat"
    with pytest.raises(CheckpointError, match="shape"):  # a wider GHN is not the checkpoint's
        GHN.from_pretrained(tmp_path / "start", config_overrides={"hidden": 2 * start.config.hidden})


def test_init_from_desaturates_only_the_bounded_read_outs(tmp_path):
    from graphparam.model import GHNConfig
    from graphparam.train import Trainer
    from train_helpers import tiny_config, tiny_data

    start = GHN(GHNConfig.named("tiny", layers=1))
    with torch.no_grad():
        start.decoder.read_e.bias.fill_(-100.0)  # every vector element at its lower bound
    start.save(tmp_path / "start")
    trainer = Trainer(tiny_config(tmp_path / "run", steps=1, init_from=str(tmp_path / "start"), desaturate=2.0),
                      sampler=tiny_sampler, data=tiny_data())
    state = trainer.ghn.state_dict()
    factor = state["decoder.read_e.bias"] / -100.0  # weight and bias scaled by one factor
    assert 0 < float(factor[0]) < 0.05 and torch.allclose(factor, factor[0].expand_as(factor))
    torch.testing.assert_close(state["decoder.read_e.weight"], start.state_dict()["decoder.read_e.weight"] * factor[0])
    assert all(torch.equal(state[k], v) for k, v in start.state_dict().items() if "read_e" not in k)


def test_init_from_adds_the_parents_core_hours(tmp_path):
    from graphparam.model import GHNConfig
    from graphparam.train import Trainer
    from train_helpers import tiny_config, tiny_data

    start = GHN(GHNConfig.named("tiny", layers=1))
    start.save(tmp_path / "start", {"training": {"steps": 7, "cpu_core_hours": 1.5}})
    trainer = Trainer(tiny_config(tmp_path / "run", steps=1, init_from=str(tmp_path / "start")),
                      sampler=tiny_sampler, data=tiny_data())
    trainer.run()
    training = cfg_of(GHN.from_pretrained(tmp_path / "run" / "ghn")).training
    assert training["parent"] == {"steps": 7, "cpu_core_hours": 1.5}
    assert abs(training["total_cpu_core_hours"] - 1.5 - training["cpu_core_hours"]) <= 0.001
    assert 0 <= training["cpu_core_hours"] < 0.1


def test_arch_start_begins_the_stream_past_earlier_nets(tmp_path):
    run_tiny(tmp_path, steps=2, arch_start=40)
    seeds = [s for r in read_metrics(tmp_path / "metrics.jsonl", "train") for s in r["seeds"]]
    assert seeds == [40, 41, 42, 43]


def test_the_pretrained_cfg_and_the_nets_follow_the_training_data(tmp_path):
    """Images of 16x16 with 5 classes: nets are built and traced for them, and the GHN says so."""
    from graphparam.data import ImageSet
    from graphparam.evaluate import logits_of
    from graphparam.train import Trainer
    from train_helpers import tiny_config, tiny_data

    def small(images: ImageSet, name: str) -> ImageSet:
        return ImageSet(images.images[:, :, 8:24, 8:24].contiguous(), images.labels % 5, tuple("abcde"), name)

    def conv_nets(start):  # a ViT's spec fixes its image size (its position embedding), so leave those out
        return ((seed, spec) for seed, spec in tiny_sampler(start) if spec.stem.kind != "tokens")

    train, val = tiny_data()
    trainer = Trainer(tiny_config(tmp_path, steps=1, eval_every=1, val_nets=1), sampler=conv_nets,
                      data=(small(train, "tiny16"), small(val, "tiny16-val")))
    result = trainer.run()
    assert result.skipped == 0 and math.isfinite(result.last_loss)
    assert len(read_metrics(tmp_path / "metrics.jsonl", "val")) == 1
    with torch.no_grad():
        for arch in (trainer.archs.next(), trainer.validator.archs()[0]):
            assert arch.graph is not None and logits_of(arch.net(torch.zeros(2, 3, 16, 16))).shape == (2, 5)
    cfg = trainer.pretrained_cfg()
    assert isinstance(cfg, PretrainedCfg)
    assert (cfg.input_size, cfg.num_classes, cfg.dataset) == ((3, 16, 16), 5, "tiny16")
    assert cfg.mean == DEFAULT_CFG.mean and cfg.std == DEFAULT_CFG.std and cfg.training["steps"] == 1
    saved = cfg_of(GHN.from_pretrained(tmp_path / "ghn"))
    assert (saved.input_size, saved.num_classes, saved.training["steps"]) == ((3, 16, 16), 5, 1)
