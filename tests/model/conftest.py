import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: extra intra-op threads only spin against other jobs on a small shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
