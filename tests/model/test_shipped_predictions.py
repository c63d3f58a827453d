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
    'timm:resnet18': 'bb9cb758753c1e4a40b4fff36f7423c61f67ed5cb9f75ecd0f4f202a1389c44b',
    'timm:vit_tiny_patch16_224': '43db4b80f1e6430874d783687e59c872d6902bc165fa3e6eefabc4e50a433329',
    'torchvision:shufflenet_v2_x0_5': 'a552a1fdb78a8a1887af3714d41a9d5e0897bd1e279268ce8d1dd80397733c68',
    'arch_zoo:test[0]': '610710ba37f14e29350b075933c89ed60ebde9882ad75b3afb98a0b73010a894',
    'arch_zoo:test[1]': 'a34985b2842bd51eacc58448760c22bf99b2221ef3633485ce7873d03e0c5fe8',
    'arch_zoo:test[2]': 'c421de5d964d80c548bc005f96c6519b8b04ab5b9877f457370349bc736a3282',
    'arch_zoo:test[3]': 'a8be2b1dd7743ffd0c7fc07ba6031e6c58407a5c319f1a1a08e3149c7985f398',
    'arch_zoo:test[4]': 'ac92c4944f2e53237e6af1e48d5875221b95dba69eb629951512774aa291725a',
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
