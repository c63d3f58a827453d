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
    code, out, _ = run(capsys, "zoo", "show", "--seed", "3")
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
