from pathlib import Path

import numpy as np
import pytest
import torch

from graphparam.data import EMBEDDED_PATH, load_dataset, load_embedded

LOSSLESS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cifar10_lossless_5k.npz"


def test_embedded_set():
    s = load_embedded()
    assert EMBEDDED_PATH.stat().st_size <= 2_000_000
    assert len(s) == 1000 and s.images.shape == (1000, 3, 32, 32) and s.images.dtype == torch.uint8
    counts = torch.bincount(s.labels, minlength=10)
    assert len(s.classes) == 10 and counts.sum() == 1000 and counts.min() >= 80 and counts.max() <= 120
    assert load_dataset("embedded", "test") is s


@pytest.mark.skipif(not LOSSLESS.is_file(), reason="shared lossless CIFAR-10 absent")
def test_embedded_is_bit_exact():
    with np.load(LOSSLESS) as z:
        x, y = z["test_x"], z["test_y"]
    s = load_embedded()
    assert np.array_equal(s.images.permute(0, 2, 3, 1).numpy(), x)
    assert np.array_equal(s.labels.numpy(), y.astype(np.int64))
