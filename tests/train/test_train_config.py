import json

import pytest

from graphparam.train import TrainConfig, build_parser, main, parse_duration
from graphparam.train.config import from_args, parse_args


@pytest.mark.parametrize("text, seconds", [
    ("90", 90), ("90s", 90), ("9m", 540), ("1.5h", 5400), ("1h30m", 5400), ("1h 30m 5s", 5405),
    ("0.5m", 30), (" 2M ", 120), (45, 45), (2.5, 2.5),
])
def test_time_budget_parses(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "m", "5x", "9 minutes", "30m1h", "1m1m", "1h30", "0", "0m", "-5m", "inf",
                                  "nan", True])
def test_bad_time_budget_is_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_time_budget_flag_gives_seconds():
    args = parse_args(build_parser(), ["--time-budget", "9m", "--out", "x"])
    cfg = from_args(args)
    assert cfg.time_budget == 540 and cfg.steps is None and cfg.out == "x"


def test_bad_time_budget_flag_exits_with_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--time-budget", "soon"])
    assert exc.value.code == 2
    assert "not a duration" in capsys.readouterr().err


def test_run_without_steps_or_budget_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--out", "x"])
    assert exc.value.code == 2 and "steps or time_budget" in capsys.readouterr().err


def test_help_works(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--time-budget", "--meta-batch", "--export", "--checkpoint-minutes", "--param-penalty"):
        assert flag in out


def test_config_json_round_trip(tmp_path):
    cfg = TrainConfig(ghn="tiny", steps=10, time_budget=60.0, ghn_overrides={"layers": 1}, max_params=10_000)
    assert TrainConfig.from_json(cfg.to_json()) == cfg
    path = tmp_path / "c.json"
    path.write_text(cfg.to_json())
    assert TrainConfig.from_json(path) == cfg


def test_config_file_is_overridden_by_explicit_flags(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"ghn": "tiny", "steps": 7, "lr": 0.5}))
    cfg = from_args(parse_args(build_parser(), ["--config", str(path), "--lr", "0.25"]))
    assert (cfg.ghn, cfg.steps, cfg.lr) == ("tiny", 7, 0.25)


def test_unknown_config_field_is_refused():
    with pytest.raises(ValueError, match="unknown TrainConfig field"):
        TrainConfig.from_dict({"steps": 1, "learning_rate": 1.0})


def test_a_retired_field_loads_when_off_and_is_refused_when_set(monkeypatch):
    import graphparam.train.config as C

    monkeypatch.setitem(C.RETIRED, "old_switch", (0.0, "abc1234"))
    saved = {**TrainConfig(steps=3).to_dict(), "old_switch": 0.0}  # a run of older code
    assert TrainConfig.from_dict(saved).steps == 3
    with pytest.raises(ValueError, match="old_switch, which is retired: .* commit abc1234"):
        TrainConfig.from_dict({**saved, "old_switch": 3.0})


def test_the_retired_restoring_pull_loads_at_its_off_values_and_refuses_a_run_that_used_it():
    saved = TrainConfig(steps=3).to_dict()
    off = {"readout_limit": 0.0, "vector_pull": 1.0, "gain_pull": 1.0, "pull_readout_only": False}
    assert TrainConfig.from_dict({**saved, **off}) == TrainConfig(steps=3)  # legs 43, 44: the pull off
    with pytest.raises(ValueError, match="readout_limit, which is retired: .* commit f1d5359"):
        TrainConfig.from_dict({**saved, **off, "readout_limit": 3.0})  # leg 42
    with pytest.raises(SystemExit):
        parse_args(build_parser(), ["--steps", "1", "--readout-limit", "3"])


def test_logit_scale_weight_needs_the_logit_norm_it_anchors(capsys):
    cfg = from_args(parse_args(build_parser(), ["--steps", "1", "--logit-norm", "1", "--logit-scale-weight", "0.1"]))
    assert (cfg.logit_norm, cfg.logit_scale_weight) == (1.0, 0.1)
    with pytest.raises(SystemExit) as exc:
        main(["--steps", "1", "--logit-scale-weight", "0.1"])
    assert exc.value.code == 2 and "give --logit-norm too" in capsys.readouterr().err


def test_desaturate_needs_a_loaded_ghn(capsys):
    cfg = from_args(parse_args(build_parser(), ["--steps", "1", "--init-from", "cifar10", "--desaturate", "2"]))
    assert (cfg.init_from, cfg.desaturate) == ("cifar10", 2.0)
    with pytest.raises(SystemExit) as exc:
        main(["--steps", "1", "--desaturate", "2"])
    assert exc.value.code == 2 and "give --init-from too" in capsys.readouterr().err


def test_negative_arch_workers_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--steps", "1", "--arch-workers", "-1"])
    assert exc.value.code == 2 and "arch_workers must be >= 0" in capsys.readouterr().err


def test_clock_is_wall_or_cpu_and_a_cpu_budget_counts_process_seconds(tmp_path):
    import time

    from train_helpers import run_tiny, tiny_config

    with pytest.raises(ValueError, match="clock"):
        tiny_config(tmp_path, clock="gpu")
    start = time.process_time()
    trainer, result = run_tiny(tmp_path / "cpu", steps=None, time_budget=2.0, clock="cpu")
    assert result.stopped_by == "time_budget"
    assert 2.0 <= result.elapsed <= time.process_time() - start
    assert trainer.pretrained_cfg().training["clock"] == "cpu"


def test_lr_defaults_to_the_scratch_rate_and_to_a_lower_one_when_continuing_from_a_ghn():
    from graphparam.train.config import CONTINUE_LR, SCRATCH_LR

    assert TrainConfig(steps=1).lr == SCRATCH_LR
    assert TrainConfig(steps=1, init_from="cifar10").lr == CONTINUE_LR < SCRATCH_LR
    assert TrainConfig(steps=1, init_from="cifar10", lr=1e-3).lr == 1e-3  # an explicit rate wins
    args = parse_args(build_parser(), ["--steps", "1", "--init-from", "cifar10"])
    saved = from_args(args)
    assert saved.lr == CONTINUE_LR
    assert TrainConfig.from_dict(saved.to_dict()).lr == CONTINUE_LR  # the resolved rate is what a run saves
