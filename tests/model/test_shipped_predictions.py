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
    'timm:resnet18': 'd51a147aec64887e1a90cf33376553859af885f00a2061345f53a613cf3f4d4c',
    'timm:vit_tiny_patch16_224': 'f512e2b46b8fcfbf1f5a45a197757c6f83dbff800723a86cbe8a016fda17463b',
    'arch_zoo:test[0]': '0cc18bdc6736fd8331bbd6bcc727cb81c59e6ca2b5b22e3252b7082ed156ba5d',
    'arch_zoo:test[1]': '8e1ccb9c81f9b1a7703a251a5151b78a3f3d25a7b641e8e41f6486d2ee64c089',
    'arch_zoo:test[2]': '69d212e61d0db86eb349df3bc790d4a1d4cb55f2f3a604bfa6755dea197e55e7',
    'arch_zoo:test[3]': '6a6ce0bfe62759d7cd4664d3a14bd1dcf210db153cc2f86638a7f32a7b080d99',
    'arch_zoo:test[4]': '4bece99a23c6b77c9a134ab3bc66c8d8e62e9825d1f4a4f01dfe19e3d039ae19',
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
