"""Channel order through concatenations, shuffles and slices (graphparam.graph.channels)."""

import torch
import torch.nn as nn

from graphparam.graph import trace
from graphparam.graph.channels import ORDER_ATTR, SOURCES_ATTR, UNTIED_ATTRS


class _Concat(nn.Module):
    """Two producers of 5 and 3 channels, concatenated, then read by one conv; a shuffled copy by another."""

    def __init__(self, shuffle: bool = False):
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 5, 1), nn.Conv2d(3, 3, 1)
        self.c = nn.Conv2d(8, 4, 1)
        self.shuffle = shuffle

    def forward(self, x):
        y = torch.cat([self.a(x), self.b(x)], dim=1)
        if self.shuffle:  # torchvision's channel_shuffle, groups 2 of 4 channels
            y = y.view(y.size(0), 2, 4, y.size(2), y.size(3)).transpose(1, 2).flatten(1, 2)
        return self.c(y)


class _TwoReaders(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 4, 1), nn.Conv2d(3, 4, 1)
        self.first, self.second = nn.Conv2d(8, 2, 1), nn.Conv2d(8, 2, 1)
        self.shuffle = nn.ChannelShuffle(2)

    def forward(self, x):
        y = torch.cat([self.a(x), self.b(x)], dim=1)
        return self.first(self.shuffle(y)) + self.second(y)


class _Mixer(nn.Module):
    """A linear layer across positions (token mixing) and a classifier over a flattened map."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.tokens = nn.Linear(16, 16)
        self.head = nn.Linear(4 * 16, 10)

    def forward(self, x):
        y = self.tokens(self.conv(x).flatten(2))
        return self.head(y.flatten(1))


class _SumAfterConcat(nn.Module):
    """b is read through a concatenation (placed at 5, 6, 7), then summed with d: d must share b's positions."""

    def __init__(self, gate: bool = False):
        super().__init__()
        self.a, self.b, self.d = nn.Conv2d(3, 5, 1), nn.Conv2d(3, 3, 1), nn.Conv2d(3, 3, 1)
        self.c, self.e = nn.Conv2d(8, 4, 1), nn.Conv2d(3, 2, 1)
        self.eca = nn.Conv1d(1, 1, 3, padding=1, bias=False) if gate else None

    def forward(self, x):
        b = self.b(x)
        y = torch.cat([self.a(x), b], dim=1)
        if self.eca is not None:  # ECA: one gate value per channel from a conv across channels
            y = y * torch.sigmoid(self.eca(y.mean((2, 3)).unsqueeze(1))).view(y.size(0), -1, 1, 1)
        return self.c(y), self.e(b + self.d(x))


def _attrs(graph, name):
    node = next(n for n in graph.nodes if n.name == name)
    return node.attrs.get(ORDER_ATTR), node.attrs.get(SOURCES_ATTR)


def test_a_concatenated_producer_is_placed_where_its_reader_reads_it():
    graph = trace(_Concat(), (3, 8, 8))
    assert _attrs(graph, "a") == (None, None)
    assert _attrs(graph, "b") == ((5, 6, 7), None)  # written at the positions c reads: c reads in order
    assert _attrs(graph, "c") == (None, None)


def test_a_shuffle_interleaves_the_producers_for_their_first_reader():
    graph = trace(_Concat(shuffle=True), (3, 8, 8))
    # the shuffle of [a0..a4, b0..b2] in 2 groups of 4 gives a0 a4 a1 b0 a2 b1 a3 b2, which c reads in order
    assert _attrs(graph, "a") == ((0, 2, 4, 6, 1), None)
    assert _attrs(graph, "b") == ((3, 5, 7), None)
    assert _attrs(graph, "c") == (None, None)


def test_a_later_reader_reads_each_channel_where_the_first_placed_it():
    graph = trace(_TwoReaders(), (3, 8, 8))
    assert _attrs(graph, "a")[0] == (0, 2, 4, 6) and _attrs(graph, "b")[0] == (1, 3, 5, 7)
    assert _attrs(graph, "first") == (None, None)
    assert _attrs(graph, "second") == (None, (0, 2, 4, 6, 1, 3, 5, 7))


def test_reads_across_positions_stay_in_order():
    graph = trace(_Mixer(), (3, 4, 4))
    for name in ("conv", "tokens", "head"):
        assert _attrs(graph, name) == (None, None)


def test_plain_nets_have_no_channel_order():
    import timm

    graph = trace(timm.create_model("resnet18", num_classes=10), (3, 32, 32))
    assert not any(ORDER_ATTR in n.attrs or SOURCES_ATTR in n.attrs for n in graph.nodes)


def test_channels_summed_together_share_their_positions():
    graph = trace(_SumAfterConcat(), (3, 8, 8))
    assert _attrs(graph, "b") == ((5, 6, 7), None)
    assert _attrs(graph, "d") == ((5, 6, 7), None)  # tied to b by the sum
    assert _attrs(graph, "e") == (None, (5, 6, 7))  # reads the sum where both were written
    node = next(n for n in graph.nodes if n.name == "d")
    assert node.attrs[UNTIED_ATTRS[ORDER_ATTR]] == ()  # without ties (older checkpoints): in order


def test_a_gate_of_one_value_per_channel_ties_nothing():
    graph = trace(_SumAfterConcat(gate=True), (3, 8, 8))
    assert _attrs(graph, "a")[0] is None and _attrs(graph, "b")[0] == (5, 6, 7)
    assert _attrs(graph, "d")[0] == (5, 6, 7)
