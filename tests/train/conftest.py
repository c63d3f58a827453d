import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny nets: intra-op threads only add contention on small shared machines; also makes runs comparable."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
