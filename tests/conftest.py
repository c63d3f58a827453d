import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors everywhere in this suite: a second intra-op thread only spins against other
    jobs on a small shared machine (measured: up to 100x slower forwards), and one thread keeps
    timings and float round-off comparable between runs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
