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
    'timm:resnet18': '576da3e005fce98b25ddf29769fd75f6751676d170f5cfd6bec47108cd6ae016',
    'timm:vit_tiny_patch16_224': '20fee7332e52822e25c86c4ae1053e4197218f39b56c329eba5ac43206df0035',
    'torchvision:shufflenet_v2_x0_5': 'acc4dcbad1873d7dd5f8d95c220c06884daae9b8278c4176958a4ef2cb0a7432',
    'arch_zoo:test[0]': '3257942a91afa0743fe2b979e1e5b757aa3f3df489ee9e0e395d3709a558ed9e',
    'arch_zoo:test[1]': '5c6b793e8ba3a963dac27bfdd4076073575bee8be2841f7c69cd7ed842ec814a',
    'arch_zoo:test[2]': 'ff25e2451e1c08ec092a98a18db41f2215ed6f440163704802990acd234dd77a',
    'arch_zoo:test[3]': '45174f8a2c2c1bc871076786e5ccd02f4e15c81014c8057c25a62ad327a335a5',
    'arch_zoo:test[4]': '22c01c6529bdb6ddd4594346f7a2aa613648e7555d87b5fe8c03ed29155c6c66',
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
