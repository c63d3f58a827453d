import pytest
import torch
import torch.nn.functional as F

from graphparam.data import CIFAR10_MEAN, CIFAR10_STD, augment, normalize, random_crop_flip


def _batch(b=16, seed=0):
    return torch.randint(0, 256, (b, 3, 32, 32), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(seed))


def test_shapes_and_dtypes():
    x = _batch()
    y = random_crop_flip(x, generator=torch.Generator().manual_seed(1))
    assert y.dtype == torch.uint8 and y.shape == x.shape
    z = augment(x, generator=torch.Generator().manual_seed(1))
    assert z.dtype == torch.float32 and z.shape == x.shape
    assert normalize(x, dtype=torch.bfloat16).dtype == torch.bfloat16


def test_deterministic_under_seed():
    x = _batch()
    a = augment(x, generator=torch.Generator().manual_seed(7))
    b = augment(x, generator=torch.Generator().manual_seed(7))
    c = augment(x, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_crop_flip_matches_reference():
    x = _batch(32)
    g = torch.Generator().manual_seed(3)
    out = random_crop_flip(x, padding=4, generator=g)
    g = torch.Generator().manual_seed(3)  # replay the same draws
    offsets = torch.randint(0, 9, (32, 2), generator=g)
    flips = torch.randint(0, 2, (32,), generator=g)
    padded = F.pad(x, (4, 4, 4, 4))
    for i in range(32):
        oy, ox = offsets[i].tolist()
        ref = padded[i, :, oy:oy + 32, ox:ox + 32]
        if flips[i]:
            ref = ref.flip(-1)
        assert torch.equal(out[i], ref)
    assert 0 < flips.sum() < 32


def test_normalize_values():
    x = torch.full((2, 3, 4, 4), 200, dtype=torch.uint8)
    z = normalize(x)
    for c in range(3):
        expected = (200 / 255 - CIFAR10_MEAN[c]) / CIFAR10_STD[c]
        assert torch.allclose(z[:, c], torch.tensor(expected), atol=1e-5)
    with pytest.raises(ValueError):
        normalize(x.float())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")
def test_same_augmentation_on_gpu():
    x = _batch()
    a = random_crop_flip(x, generator=torch.Generator().manual_seed(5))
    b = random_crop_flip(x.cuda(), generator=torch.Generator().manual_seed(5))
    assert b.is_cuda and torch.equal(a, b.cpu())
