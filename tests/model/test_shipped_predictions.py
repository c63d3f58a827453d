"""The shipped GHN's predictions, pinned bit-identically: refactoring the model code must not change them.

The hashes are a sha256 over every predicted tensor of a net (names sorted, float32 bytes), computed
with one torch thread on CPU by the code that made them. A change of these hashes is a change of
behaviour, not a refactor.
"""

from __future__ import annotations

import hashlib

import pytest
import torch

import graphparam

pytest.importorskip("timm")

EXPECTED = {
    'timm:resnet18': '687ce6a8f61e2fc8104fff0828102554adae6c20d2d065bf45b6bc7130c63b55',
    'timm:vit_tiny_patch16_224': '17ed57b5e0ecf0b0c88c16b97139f63e311d6f8eb0d49c324291ae7c46478190',
    'torchvision:shufflenet_v2_x0_5': 'ba7d20108d03689f10d7e56d3fbc690b45f90541adff582104ade109ac3b6268',
    'arch_zoo:test[0]': '1cb6454b350dacb5fa9aca3b19902b118eaf536fae4798d5b634857be5208bac',
    'arch_zoo:test[1]': '9adb540ba19772ea3b14af40d25a68ea99101b36ccdb20048e3528a403300af2',
    'arch_zoo:test[2]': '9024900f8f64e55aebb56b1d6777b3037d54fbf12481d11e240ab4397721fc4b',
    'arch_zoo:test[3]': '268ce3031c7b1c8bcc3e05b4189b8e3c5fab4fe1d5b51fa46449bbfb3f5b6e76',
    'arch_zoo:test[4]': 'de4d40b5a938e40ee96ea3f6b24f45001530a23628684ed9e528009bf2f2dbb1',
}


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        h.update(name.encode())
        h.update(tensors[name].detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()


def _nets():
    import arch_zoo

    yield "timm:resnet18", graphparam.create_model("timm:resnet18", num_classes=10, input_size=(3, 32, 32))
    yield "timm:vit_tiny_patch16_224", graphparam.create_model("timm:vit_tiny_patch16_224", num_classes=10,
                                                               input_size=(3, 32, 32))
    # channels reordered by concatenations, slices and shuffles (GHNConfig.channel_order)
    yield "torchvision:shufflenet_v2_x0_5", graphparam.create_model("torchvision:shufflenet_v2_x0_5", num_classes=10,
                                                                    input_size=(3, 32, 32))
    for i, spec in enumerate(arch_zoo.split("test")[:5]):
        yield f"arch_zoo:test[{i}]", spec.build(num_classes=10)


def compute() -> dict[str, str]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ghn = graphparam.load_ghn("cifar10")
        ghn.eval()
        out = {}
        for name, model in _nets():
            graph = graphparam.trace(model, (3, 32, 32))
            out[name] = _digest(ghn.predict_tensors(graph))
        return out
    finally:
        torch.set_num_threads(threads)


def test_shipped_predictions_unchanged():
    assert compute() == EXPECTED


if __name__ == "__main__":  # print the current hashes
    for k, v in compute().items():
        print(f"    {k!r}: {v!r},")
