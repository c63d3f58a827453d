"""The command line: every subcommand on small inputs, and a one-line error for each bad input."""

import json

import pytest
import torch

from graphparam.cli import main
from graphparam.model import GHN, GHNConfig


@pytest.fixture(scope="module")
def ghn_dir(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ghn") / "tiny"
    GHN(GHNConfig.named("tiny")).save(path)
    return str(path)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_graph_prints_summary_and_draws(capsys, tmp_path):
    png = tmp_path / "g.png"
    code, out, _ = run(capsys, "graph", "zoo:1", "--png", str(png))
    assert code == 0 and "parameters owned" in out and png.exists()


def test_zoo_list_show_sample(capsys):
    code, out, _ = run(capsys, "zoo", "list")
    assert code == 0 and "test" in out and "500 nets" in out
    code, out, _ = run(capsys, "zoo", "show", "--seed", "3", "--json")
    assert code == 0 and json.loads(out.splitlines()[0])
    code, out, _ = run(capsys, "zoo", "sample", "-n", "2")
    assert code == 0 and len(out.strip().splitlines()) == 2


def test_predict_writes_safetensors(capsys, tmp_path, ghn_dir):
    from safetensors.torch import load_file

    out = tmp_path / "w.safetensors"
    code, text, _ = run(capsys, "predict", "zoo:2", "--ghn", ghn_dir, "--out", str(out))
    assert code == 0 and out.exists()
    assert all(torch.isfinite(t).all() for t in load_file(str(out)).values())


def test_eval_on_embedded_set(capsys, ghn_dir):
    code, out, _ = run(capsys, "eval", "zoo:2", "--ghn", ghn_dir, "--max-images", "100")
    assert code == 0 and "zero-shot top-1" in out and "100 images" in out


def one_line_error(capsys, *argv):
    code, out, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("graphparam: error:")
    return lines[0]


def test_unknown_timm_name_gives_one_line_error(capsys):
    assert "unknown timm model" in one_line_error(capsys, "graph", "timm:resnet_does_not_exist")


def test_model_file_that_is_not_a_model_gives_one_line_error(capsys, tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_text("this is not a model")
    one_line_error(capsys, "graph", str(bad))


def test_missing_dataset_path_gives_one_line_error(capsys, ghn_dir):
    assert "nowhere" in one_line_error(capsys, "eval", "zoo:2", "--ghn", ghn_dir, "--data", "/nowhere/cifar")


def test_corrupted_checkpoint_gives_one_line_error(capsys, tmp_path, ghn_dir):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(ghn_dir, broken)
    (broken / "model.safetensors").write_bytes(b"\x80\x04garbage-not-safetensors")
    one_line_error(capsys, "eval", "zoo:2", "--ghn", str(broken))


@pytest.mark.parametrize("value", ["0", "-1"])
@pytest.mark.parametrize("command", ["graph", "predict", "eval", "finetune"])
def test_num_classes_zero_gives_clear_error(capsys, tmp_path, command, value):
    out = ["--out", str(tmp_path / "w.safetensors")] if command == "predict" else []
    line = one_line_error(capsys, command, "zoo:1", "--num-classes", value, *out)
    assert f"positive integer, got {value}" in line
    assert not list(tmp_path.iterdir())                 # nothing written


def test_num_classes_below_one_for_an_onnx_model_gives_clear_error(capsys, tmp_path):
    line = one_line_error(capsys, "predict", str(tmp_path / "m.onnx"), "--num-classes", "0")
    assert "positive integer" in line


def test_eval_head_mismatch_names_both_numbers(capsys, ghn_dir):
    line = one_line_error(capsys, "eval", "zoo:2", "--num-classes", "3", "--ghn", ghn_dir, "--max-images", "50")
    assert "3 outputs" in line and "10 classes" in line


# ---- a newcomer's path (issue 12) ----------------------------------------------------------------------
def test_zoo_show_prints_a_table_one_row_per_cell(capsys):
    import arch_zoo

    code, out, _ = run(capsys, "zoo", "show", "--seed", "3")
    spec = arch_zoo.sample(3)
    lines = out.splitlines()
    assert code == 0 and spec.hash in lines[0] and "parameters" in lines[0]
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["cell", "kind"])
    rows = lines[header + 1: header + 1 + len(spec.cells)]
    assert [r.split()[:2] for r in rows] == [[str(i), c.kind] for i, c in enumerate(spec.cells)]
    assert max(len(line) for line in lines) < 200                          # not one line of JSON


@pytest.mark.parametrize("command", ["graph", "predict", "eval", "finetune"])
def test_every_model_command_defaults_to_10_classes(command):
    from graphparam.cli import build_parser

    assert build_parser().parse_args([command]).num_classes == 10


@pytest.mark.parametrize("command", ["graph", "predict", "eval", "finetune"])
def test_input_size_defaults_to_the_ghns_pretrained_cfg(command):
    from graphparam.cli import _set_input_size, build_parser
    from graphparam.pretrained_cfg import DEFAULT_CFG, PretrainedCfg

    args = build_parser().parse_args([command])
    assert args.input_size is None                          # not a literal: resolved once the GHN is known

    class WithCfg:
        pretrained_cfg = PretrainedCfg(input_size=(3, 16, 16))

    assert _set_input_size(build_parser().parse_args([command]), WithCfg()) == (3, 16, 16)
    assert _set_input_size(build_parser().parse_args([command])) == DEFAULT_CFG.input_size
    given = build_parser().parse_args([command, "--input-size", "3", "8", "8"])
    assert _set_input_size(given, WithCfg()) == (3, 8, 8)


def test_predict_builds_and_traces_at_the_input_size_of_the_ghns_pretrained_cfg(capsys, tmp_path):
    from safetensors.torch import load_file

    from graphparam.pretrained_cfg import PretrainedCfg

    torch.manual_seed(0)
    ghn = tmp_path / "ghn16"
    GHN(GHNConfig.named("tiny", layers=1)).save(ghn, pretrained_cfg=PretrainedCfg(input_size=(3, 16, 16)))
    out = tmp_path / "w.safetensors"
    code, _, err = run(capsys, "predict", "timm:vit_tiny_patch16_224", "--ghn", str(ghn), "--out", str(out))
    assert code == 0, err
    assert load_file(str(out))["pos_embed"].shape[1] == 1 + 1  # built for 16x16: cls + one 16-pixel patch


def test_graph_of_timm_model_builds_a_10_class_head():
    from graphparam.cli import _model, build_parser

    assert _model(build_parser().parse_args(["graph", "timm:resnet18"])).fc.out_features == 10


def test_predict_reports_what_it_wrote_with_the_umask_mode(capsys, tmp_path, ghn_dir):
    import os
    import stat

    from safetensors.torch import load_file

    out = tmp_path / "w.safetensors"
    old = os.umask(0o022)
    try:
        code, text, _ = run(capsys, "predict", "zoo:2", "--ghn", ghn_dir, "--out", str(out))
    finally:
        os.umask(old)
    n = len(load_file(str(out)))
    assert code == 0 and str(out) in text and f"{n} tensors" in text and "KiB" in text
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_eval_input_size_that_is_not_the_datas_gives_one_line_error(capsys, ghn_dir):
    line = one_line_error(capsys, "eval", "timm:vit_tiny_patch16_224", "--input-size", "3", "224", "224",
                          "--ghn", ghn_dir, "--max-images", "20")
    assert "--input-size 3 224 224" in line and "3x32x32" in line


def test_eval_of_timm_vit_by_name_runs_at_32x32(capsys, ghn_dir):
    code, out, err = run(capsys, "eval", "timm:vit_tiny_patch16_224", "--ghn", ghn_dir, "--max-images", "20")
    assert code == 0, err
    assert "zero-shot top-1" in out and "20 images" in out


def _fake_cifar10_download(root):
    """What torchvision's download leaves in ``root``: cifar-10-batches-py/ with 5 train and 1 test batch."""
    import pickle

    import numpy as np

    batches = root / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(batches / name, "wb") as f:
            pickle.dump({"data": rng.integers(0, 256, (20, 3072), dtype=np.uint8),
                         "labels": [i % 10 for i in range(20)]}, f)
    return batches


def test_eval_download_fetches_cifar10_into_data_root(capsys, tmp_path, ghn_dir, monkeypatch):
    import graphparam.data.cifar10 as cifar10

    monkeypatch.setattr(cifar10, "_download", _fake_cifar10_download)
    code, out, err = run(capsys, "eval", "zoo:2", "--ghn", ghn_dir, "--download", "--data", str(tmp_path / "c10"))
    assert code == 0, err
    assert "cifar10/test" in out and "20 images" in out


@pytest.mark.parametrize("command", ["eval", "finetune"])
def test_download_that_fails_gives_one_line_error(capsys, tmp_path, command, monkeypatch):
    import torchvision.datasets

    class Offline:
        def __init__(self, *args, **kwargs):
            raise ConnectionError("no route to host\nsecond line")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", Offline)
    line = one_line_error(capsys, command, "zoo:2", "--download", "--data", str(tmp_path / "c10"))
    assert "downloading CIFAR-10" in line and "no route to host" in line


def test_missing_data_message_names_only_flags_that_exist(capsys, ghn_dir, monkeypatch, tmp_path):
    from graphparam.cli import build_parser

    monkeypatch.setenv("GRAPHPARAM_DATA", str(tmp_path / "nowhere"))
    line = one_line_error(capsys, "finetune", "zoo:2", "--ghn", ghn_dir)
    assert "--download" in line
    for command in ("eval", "finetune"):
        assert build_parser().parse_args([command, "--download"]).download


@pytest.mark.parametrize("flag, value", [("--batch-size", "0"), ("--max-images", "-5")])
def test_eval_batch_size_zero_or_negative_image_count_gives_clear_error(capsys, ghn_dir, flag, value):
    line = one_line_error(capsys, "eval", "zoo:2", "--ghn", ghn_dir, flag, value)
    assert f"got {value}" in line


def test_unknown_zoo_split_gives_clear_error(capsys):
    code, _, err = run(capsys, "zoo", "show", "--split", "nope")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "unknown zoo split 'nope'" in err


def test_finetune_reads_any_data_source_and_evaluates_inside_an_epoch(capsys, ghn_dir, tmp_path):
    """A Fashion-MNIST IDX directory (tiny, synthetic) goes through the same --data as CIFAR-10."""
    import gzip
    import struct

    import numpy as np

    rng = np.random.default_rng(0)
    for prefix, n in (("train", 16), ("t10k", 8)):
        for kind, array in (("images-idx3", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)),
                            ("labels-idx1", (np.arange(n) % 10).astype(np.uint8))):
            header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
            (tmp_path / f"{prefix}-{kind}-ubyte.gz").write_bytes(gzip.compress(header + array.tobytes()))
    png = tmp_path / "ft.png"
    code, out, _ = run(capsys, "finetune", "zoo:2", "--ghn", ghn_dir, "--data", str(tmp_path), "--batch-size", "4",
                       "--max-steps", "2", "--evals-per-epoch", "2", "--png", str(png))
    assert code == 0 and png.exists()
    assert "ghn" in out and "random" in out


@pytest.mark.parametrize("flag, value", [("--epochs", "0"), ("--batch-size", "0"), ("--lr", "-1"),
                                         ("--evals-per-epoch", "0")])
def test_finetune_bad_recipe_is_refused_before_looking_for_data(capsys, ghn_dir, monkeypatch, tmp_path, flag, value):
    monkeypatch.setenv("GRAPHPARAM_DATA", str(tmp_path / "nowhere"))
    line = one_line_error(capsys, "finetune", "zoo:2", "--ghn", ghn_dir, flag, value)
    assert f"got {value}" in line and "not found" not in line
