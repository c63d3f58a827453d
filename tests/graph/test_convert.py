"""Conversions of an ArchGraph (networkx, PyTorch Geometric)."""

import subprocess
import sys
import textwrap


def test_to_pyg_in_a_fresh_process_raises_no_deprecation_warning():
    """PyG's own import calls the deprecated ``torch.jit.script``; ``to_pyg`` must not pass that on.
    A fresh interpreter, because the test session may have imported torch_geometric already."""
    code = textwrap.dedent("""
        import torch.nn as nn
        from graphparam.graph import trace
        from graphparam.graph.convert import to_pyg_batch
        graph = trace(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2)), (3, 8, 8))
        data = graph.to_pyg()
        batch = to_pyg_batch([graph, graph])
        assert data.num_nodes == len(graph.nodes) and batch.num_graphs == 2
    """)
    proc = subprocess.run([sys.executable, "-W", "error::FutureWarning", "-W", "error::DeprecationWarning",
                           "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
