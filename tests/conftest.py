import os
from pathlib import Path

import pytest
import torch

# The library finds CIFAR-10 only through $GRAPHPARAM_DATA (or --data); the tests use the project's shared copy
# beside the repository when there is one and nothing else is set.
_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10_jpeg.npz"
if "GRAPHPARAM_DATA" not in os.environ and _SHARED.is_file():
    os.environ["GRAPHPARAM_DATA"] = str(_SHARED)


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors everywhere in this suite: a second intra-op thread only spins against other
    jobs on a small shared machine (measured: up to 100x slower forwards), and one thread keeps
    timings and float round-off comparable between runs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
