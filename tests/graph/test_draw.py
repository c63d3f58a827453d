"""Drawing: deep graphs wrap into rows that a person can read, every node is labelled."""

import torch.nn as nn

from graphparam.graph import trace
from graphparam.graph.draw import ROW_LEVELS, lanes, layout


def _deep_mlp(layers=60):
    return nn.Sequential(*[m for _ in range(layers) for m in (nn.Linear(8, 8), nn.ReLU())])


def test_layout_of_a_deep_chain_wraps_into_rows_without_overlaps():
    graph = trace(_deep_mlp(), (8,))
    pos = layout(graph)
    assert pos[:, 0].max() == ROW_LEVELS - 1 and pos[:, 0].min() == 0
    assert len({(float(x), float(y)) for x, y in pos}) == len(graph.nodes)       # no two nodes on one spot
    rows = len(set(pos[:, 1].round(3)))
    assert rows == -(-len(graph.nodes) // ROW_LEVELS)                            # ceil(N / levels) rows


def test_lanes_of_a_residual_branch_return_to_the_main_line():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.skip = nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 4)

        def forward(self, x):
            return self.b(self.a(x)) + self.skip(x)

    graph = trace(Block(), (4,))
    lane = {n.name: lanes(graph)[i] for i, n in enumerate(graph.nodes)}
    assert lane["a"] == 0 and lane["skip"] == 1 and lane["add"] == 0


def test_drawing_of_a_deep_graph_is_not_a_thin_strip(tmp_path):
    from PIL import Image

    path = tmp_path / "deep.png"
    trace(_deep_mlp(), (8,)).draw(str(path))
    width, height = Image.open(path).size
    assert width / height < 4 and width <= 4000                                  # was 60 in x 3 in at 120 dpi
