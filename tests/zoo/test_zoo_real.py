import pytest

from arch_zoo import real

SAMPLE = ["resnet18", "mobilenet_v3_small", "efficientnet_b0", "vit_tiny", "swin_tiny", "mixer_s"]


@pytest.mark.parametrize("name", SAMPLE)
def test_real_model_builds_forwards_and_traces(name, check_net):
    model = real.build(name)
    assert real.count_params(model) > 100_000
    check_net(model)


def test_catalogue_entries():
    assert len(real.REAL_MODELS) >= 15
    for name, entry in real.REAL_MODELS.items():
        assert entry.name == name and entry.source in ("timm", "torchvision") and entry.adaptation
    with pytest.raises(KeyError, match="unknown real model"):
        real.build("resnet9000")


def test_cifar_stem():
    model = real.build("resnet50", num_classes=100)
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert model.fc.out_features == 100
