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
    'timm:resnet18': '91f61dad2379a31b78cfe9bdcd94225605226526be885e96b82e89e6b1bf7f10',
    'timm:vit_tiny_patch16_224': '79b997e59b174d1fbc5211f54e873a5b56db41eb738a436f66fafe5ba63d301a',
    'arch_zoo:test[0]': '772cdf18ba9e9bbf56aee6d2bceb6c9f11d8f54cb12f116718d12cc470e43bf9',
    'arch_zoo:test[1]': '5781e6a0a8dc279f2b98ff15a48a7f81e0567dba97179f7d249803a4c81dcd62',
    'arch_zoo:test[2]': '72e3491dc0a620b15fd54f8ab9fe3cbac03f5755988abf53cc79103859a5c30b',
    'arch_zoo:test[3]': 'c0909ae4cf5b5a764e63995976ac0f53578fa1614d2551f3a8d7c65316588c4a',
    'arch_zoo:test[4]': '2e242574ac662874d0a9c3e07d6048a1ca13c1f8717b238477b75f87037c1eba',
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
