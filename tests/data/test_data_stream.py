import io

import pytest
import torch

from graphparam.data import BatchStream, ImageSet


def _set(n=10):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    return ImageSet(x, torch.arange(n) % 3, ("a", "b", "c"), "toy")


def test_batches_and_epochs():
    s = BatchStream(_set(10), batch_size=4, seed=0)
    x, y = next(s)
    assert x.shape == (4, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    s = BatchStream(_set(10), batch_size=4, seed=0)
    seen = torch.cat([s.next_indices() for _ in range(5)])  # 20 samples = 2 epochs
    assert torch.equal(torch.bincount(seen[:10], minlength=10), torch.ones(10, dtype=torch.long))
    assert torch.equal(torch.bincount(seen[10:], minlength=10), torch.ones(10, dtype=torch.long))
    assert s.epoch == 2 and s.step == 5


def test_seeded():
    a, b, c = (BatchStream(_set(), 4, seed=s) for s in (1, 1, 2))
    xa, xb, xc = next(a)[0], next(b)[0], next(c)[0]
    assert torch.equal(xa, xb) and not torch.equal(xa, xc)


@pytest.mark.parametrize("augment", [True, False])
def test_resume_gives_identical_batches(augment):
    data = _set(10)
    a = BatchStream(data, batch_size=4, seed=3, augment=augment)
    for _ in range(3):  # ends mid-epoch, after one epoch boundary
        next(a)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    expected = [next(a) for _ in range(6)]

    b = BatchStream(data, batch_size=4, seed=999, augment=augment)  # seed comes from the state
    next(b)
    buf.seek(0)
    b.load_state_dict(torch.load(buf, weights_only=True))
    for (xa, ya), (xb, yb) in zip(expected, (next(b) for _ in range(6))):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert a.state_dict()["step"] == b.state_dict()["step"] == 9


def test_state_checks_size():
    s = BatchStream(_set(10), 4).state_dict()
    with pytest.raises(ValueError):
        BatchStream(_set(12), 4).load_state_dict(s)
