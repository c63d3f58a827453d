"""Model references (graphparam.sources): bad class counts are refused before anything is built."""

import pytest

from graphparam.errors import CifarStemError, ClassCountError, GraphparamError
from graphparam.sources import check_num_classes, create_model


@pytest.mark.parametrize("ref", ["timm:resnet18", "torchvision:resnet18", "zoo:1", "real:resnet50"])
@pytest.mark.parametrize("num_classes", [0, -1])
def test_num_classes_below_one_gives_clear_error(ref, num_classes):
    with pytest.raises(ClassCountError, match=f"positive integer, got {num_classes}"):
        create_model(ref, num_classes=num_classes)


def test_num_classes_error_is_a_user_error_and_a_value_error():
    assert issubclass(ClassCountError, GraphparamError) and issubclass(ClassCountError, ValueError)


@pytest.mark.parametrize("num_classes", [None, 1, 10])
def test_valid_num_classes_pass_through(num_classes):
    assert check_num_classes(num_classes) == num_classes


def test_num_classes_that_is_not_an_integer_gives_clear_error():
    with pytest.raises(ClassCountError):
        check_num_classes(2.5)


def test_timm_vit_is_built_for_the_input_size():
    model = create_model("timm:vit_tiny_patch16_224", num_classes=10, input_size=(3, 32, 32))
    assert model.patch_embed.img_size == (32, 32) and model.pos_embed.shape[1] == 1 + 2 * 2  # cls + 2x2 patches


def test_timm_vit_with_cifar_stem_gets_4_pixel_patches():
    model = create_model("timm:vit_tiny_patch16_224", cifar_stem=True)
    assert model.patch_embed.patch_size == (4, 4) and model.pos_embed.shape[1] == 1 + 8 * 8


def test_timm_cnn_ignores_the_input_size():
    model = create_model("timm:resnet18", input_size=(3, 32, 32))
    assert model.conv1.kernel_size == (7, 7)                     # built as timm builds it


def test_cifar_stem_on_a_model_that_downsamples_without_a_stride_gives_clear_error():
    with pytest.raises(GraphparamError, match=r"TResNet.*'body.s2d' \(SpaceToDepth\)"):
        create_model("timm:tresnet_m", cifar_stem=True)


USER_CODE = '''
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, num_classes=10, width=8):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.fc(self.conv(x).mean((2, 3)))


def fixed_head():
    return Net(num_classes=7)


not_a_model = 3
'''


@pytest.fixture
def user_file(tmp_path, monkeypatch):
    (tmp_path / "user_nets.py").write_text(USER_CODE)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "user_nets.py"


def test_python_reference_builds_a_class_from_a_file_with_the_class_count(user_file):
    model = create_model(f"python:{user_file}:Net", num_classes=4)
    assert model.fc.out_features == 4


def test_python_reference_imports_a_module_from_the_working_directory(user_file):
    assert create_model("python:user_nets:Net").fc.out_features == 10


def test_python_factory_without_num_classes_keeps_its_own_head(user_file):
    assert create_model("python:user_nets.py:fixed_head", num_classes=10).fc.out_features == 7


def test_python_reference_goes_through_the_cifar_stem_like_any_model(user_file):
    with pytest.raises(CifarStemError, match="cannot give Net a CIFAR stem"):  # it never downsamples
        create_model("python:user_nets:Net", cifar_stem=True)


@pytest.mark.parametrize("ref, message", [
    ("python:user_nets", "must look like MODULE:ATTR"),
    ("python:missing.py:Net", "no such Python file"),
    ("python:no_such_module_here:Net", "cannot import"),
    ("python:user_nets:Missing", "has no attribute 'Missing'"),
    ("python:user_nets:not_a_model", "is a int, not an nn.Module"),
])
def test_python_reference_errors_are_one_line(user_file, ref, message):
    with pytest.raises(GraphparamError, match=message):
        create_model(ref)


def test_python_file_that_fails_to_run_gives_one_line(tmp_path):
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(GraphparamError, match="broken.py failed to import: RuntimeError: boom"):
        create_model(f"python:{tmp_path / 'broken.py'}:Net")
