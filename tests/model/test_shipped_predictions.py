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
    'timm:resnet18': '3900186c733325be3ea35601d8d478c9a12cbfc1affd2375609ffe91593b3d35',
    'timm:vit_tiny_patch16_224': '2c999aa772b3c4536e618b1a205e9aa093fbec91d99bf3083ea3ddd8fa2c43d5',
    'torchvision:shufflenet_v2_x0_5': '99016380bb82a76ed446fc7edbb99f2ced0cfba0bf765451658d99165b1ccf59',
    'arch_zoo:test[0]': '68db79cfda3083abb1912caf45bc0205dd5118e296a025aaea6f278e5f9508fd',
    'arch_zoo:test[1]': '7ea82fa2148fe3a3eced90d6faaffbd0d78556269ed9144d884d0546133973fb',
    'arch_zoo:test[2]': '5de33eac821ecc7baf0008b6910563b113121a6b3842e12e4d8013b18ba0c5a7',
    'arch_zoo:test[3]': '095581138847c05e17c025f7a40bd8153889969329cb07345ec8e09f7e28e103',
    'arch_zoo:test[4]': '5f4980ec7de7e89c40c57f2ba2887525878d0d9dda1dcd16fff4eb6a2526d82a',
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
