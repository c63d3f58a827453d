import pytest
import torch


@pytest.fixture(scope="session")
def trace():
    """``trace(model)`` at CIFAR size; ``graphparam.trace`` itself checks that every parameter is owned."""
    from graphparam import trace as trace_model

    return lambda model: trace_model(model, input_size=(3, 32, 32))


@pytest.fixture(scope="session")
def check_net(trace):
    """Build-free check of a model: forward on 2x3x32x32 gives finite (2, 10) logits, and it traces."""

    def check(model: torch.nn.Module) -> None:
        torch.manual_seed(0)
        x = torch.randn(2, 3, 32, 32)
        with torch.no_grad():
            y = model(x)
        assert y.shape == (2, 10)
        assert torch.isfinite(y).all()
        trace(model)

    return check
