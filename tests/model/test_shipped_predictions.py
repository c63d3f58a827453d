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
    'timm:resnet18': '8d192d4ce7294667ae4ec2ad988097f7cf8fa769a364e9bf637d767cbea5bacd',
    'timm:vit_tiny_patch16_224': 'e609e95cb03d7d541e5304490f1fb18f1a1683afa6f8bbfa5c76f5e60b42909d',
    'torchvision:shufflenet_v2_x0_5': '327d93feac14b80133443f64ae97ff1ab910aad28ad14f71dfca2476045351cd',
    'arch_zoo:test[0]': 'f806d1dece1870f00fb8505b7aba8f6906e66136167c00cd5c7f246df1000b92',
    'arch_zoo:test[1]': 'eb1772206d53c15e664718ed382c16e32de19efa00a6d988e634fa678187dcde',
    'arch_zoo:test[2]': 'c3f384cddc1dc84263efae4a50620b8ae8e82015f4d2a8455fd5fa7a64955e90',
    'arch_zoo:test[3]': '2e0a93aaa421227d8a5039a376063d1aa95ab55820a9b9ee7466a250cfec6d81',
    'arch_zoo:test[4]': '3e74f30806310a199e53e91abd8d3026b14547f7492911e71acf70337bed2877',
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
