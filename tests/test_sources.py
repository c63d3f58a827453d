"""Model references (graphparam.sources): bad class counts are refused before anything is built."""

import pytest

from graphparam.errors import ClassCountError, GraphparamError
from graphparam.sources import check_num_classes, load_model


@pytest.mark.parametrize("ref", ["timm:resnet18", "torchvision:resnet18", "zoo:1", "real:resnet50"])
@pytest.mark.parametrize("num_classes", [0, -1])
def test_num_classes_below_one_gives_clear_error(ref, num_classes):
    with pytest.raises(ClassCountError, match=f"positive integer, got {num_classes}"):
        load_model(ref, num_classes=num_classes)


def test_num_classes_error_is_a_user_error_and_a_value_error():
    assert issubclass(ClassCountError, GraphparamError) and issubclass(ClassCountError, ValueError)


@pytest.mark.parametrize("num_classes", [None, 1, 10])
def test_valid_num_classes_pass_through(num_classes):
    assert check_num_classes(num_classes) == num_classes


def test_num_classes_that_is_not_an_integer_gives_clear_error():
    with pytest.raises(ClassCountError):
        check_num_classes(2.5)
