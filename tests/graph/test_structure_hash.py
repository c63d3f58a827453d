"""ArchGraph.structure_hash: equal for two builds of one architecture, different for another one."""

import torch
import torch.nn as nn

from graphparam.graph import trace


class Net(nn.Module):
    def __init__(self, width=8, stride=2, residual=True):
        super().__init__()
        self.stem = nn.Conv2d(3, width, 3, stride, 1)
        self.bn = nn.BatchNorm2d(width)
        self.conv = nn.Conv2d(width, width, 3, 1, 1)
        self.head = nn.Linear(width, 10)
        self.residual = residual

    def forward(self, x):
        x = torch.relu(self.bn(self.stem(x)))
        y = self.conv(x)
        x = x + y if self.residual else y
        return self.head(x.mean((2, 3)))


class Renamed(nn.Module):
    """Net with other module names (and a different nesting)."""

    def __init__(self):
        super().__init__()
        self.a = nn.ModuleDict({"first": nn.Conv2d(3, 8, 3, 2, 1), "norm": nn.BatchNorm2d(8)})
        self.b = nn.Conv2d(8, 8, 3, 1, 1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = torch.relu(self.a["norm"](self.a["first"](x)))
        x = x + self.b(x)
        return self.fc(x.mean((2, 3)))


def h(model, size=(3, 32, 32)):
    return trace(model, size).structure_hash()


def test_hash_ignores_parameter_values_names_and_input_size():
    torch.manual_seed(0)
    a = h(Net())
    torch.manual_seed(1)
    assert h(Net()) == a                   # other parameter values
    assert h(Renamed()) == a               # other module and parameter names
    assert h(Net(), (3, 64, 64)) == a      # traced at another size
    assert len(a) == 40 and int(a, 16) >= 0


def test_hash_changes_with_width_stride_and_wiring():
    a = h(Net())
    assert len({a, h(Net(width=16)), h(Net(stride=1)), h(Net(residual=False))}) == 4


def test_hash_is_cached_on_the_graph():
    graph = trace(Net(), (3, 32, 32))
    assert graph.structure_hash() is graph.structure_hash()
