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
    'timm:resnet18': '5a06640eb53ff482ceab98cf8618b423c6724bffd0401053fe6d53c1c4fa0591',
    'timm:vit_tiny_patch16_224': 'c9750939d1d75bd04f43d2e313fa6b95b341f4204778cd467e527bfe426a6523',
    'torchvision:shufflenet_v2_x0_5': 'a1022f9376caa8fe024d951c9a95747bc512024315173787f93033988962db04',
    'arch_zoo:test[0]': '559cce9c4a643caa7c0839441f32b0597cc204e67a9a88213507739b17f6d46c',
    'arch_zoo:test[1]': '2db6876c062513d8499f6420444171b313f12741b05088e0c239983c8baf3338',
    'arch_zoo:test[2]': 'e22b6a60dd90b6e58df75653157c257a4c971e58b10a401b11deab3a1a122089',
    'arch_zoo:test[3]': '62d753ee2cb2ac3114917e1d380e60d39e9390048e778bc72c4c26782d35c968',
    'arch_zoo:test[4]': 'd967586f16b21fbbee0e25a4effe885b4f6d652aba6ef06d796d88c1fb4fa077',
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
