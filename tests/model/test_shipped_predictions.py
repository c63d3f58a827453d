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
    'timm:resnet18': 'fa05215f717f5d20a904e6440598750cf7ea6201c42abdf0acce0bb99a03f52f',
    'timm:vit_tiny_patch16_224': '336f56c80b8861662d7978f096ea91a407e0f4f9a5e70b72d655f980455aaeb4',
    'arch_zoo:test[0]': 'a81c8475a179301a319b3476776c9ac0afe298ac8831c00306fff8452f70b06a',
    'arch_zoo:test[1]': 'cb4c6c320d5e70d23a2a29206159c205ba515a194ebeea684c894725e5e6696c',
    'arch_zoo:test[2]': '891b54b3c0a086e9ccc539fafea6845ccc0d795f6d6a9c02d5931cee32491c98',
    'arch_zoo:test[3]': '5b89dbc722033b0a4040cfd975d4b739b009517b18dcd42b09d05d178404c615',
    'arch_zoo:test[4]': 'ff38035b54eb44c3779f14b678e9eff7e9ff54a9e31935c8d22db66803a8d194',
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
