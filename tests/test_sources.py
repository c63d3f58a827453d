"""Model references (graphparam.sources): bad class counts are refused before anything is built."""

import pytest

from graphparam.errors import ClassCountError, GraphparamError
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
