import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny nets: intra-op threads only add contention on small shared CI machines."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _fx_trace(model: torch.nn.Module):
    """Fallback while graphparam.trace is unavailable: fx-trace and check every parameter is reached."""
    gm = torch.fx.symbolic_trace(model)
    reached = set()
    for node in gm.graph.nodes:
        if node.op == "call_module":
            sub = gm.get_submodule(node.target)
            reached |= {f"{node.target}.{name}" if node.target else name for name, _ in sub.named_parameters()}
        elif node.op == "get_attr":
            reached.add(node.target)
    missing = [name for name, _ in model.named_parameters() if name not in reached]
    assert not missing, f"parameters not reached by the traced graph: {missing[:5]}"
    return gm


def _trace_fn():
    try:
        from graphparam import trace
    except (ImportError, AttributeError):
        return _fx_trace
    return lambda model: trace(model, input_size=(3, 32, 32))


@pytest.fixture(scope="session")
def trace():
    """``trace(model)``: graphparam.trace if it exists, else torch.fx with a parameter-ownership check."""
    return _trace_fn()


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
