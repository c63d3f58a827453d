"""One training net, built and traced: :class:`Arch` and :func:`build_arch` (and the :func:`output_std` probe).

Building and tracing run under a forked RNG seeded by the arch seed: they draw random numbers
(initialisation, the example input), and whether a net is built here, in a build worker
(:mod:`graphparam.train.build_pool`) or found in a cache (:mod:`graphparam.train.archs`) must not
change the global RNG stream of the run.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from graphparam.graph import ArchGraph, trace
from graphparam.pretrained_cfg import DEFAULT_CFG

__all__ = ["Arch", "build_arch", "output_std"]


@dataclass
class Arch:
    seed: int
    spec: object              # arch_zoo.ArchSpec (or anything with .hash and .build())
    net: nn.Module
    graph: ArchGraph
    num_params: int
    param_names: frozenset = frozenset()
    output_std: float | None = None   # logits std at default init (see output_std), when probed

    @property
    def hash(self) -> str:
        return self.spec.hash

    def describe(self) -> dict:
        return {"seed": self.seed, "hash": self.hash, "params": self.num_params}


def build_arch(seed: int, spec, device: torch.device | str = "cpu", num_classes: int = DEFAULT_CFG.num_classes,
               input_size: tuple[int, int, int] = DEFAULT_CFG.input_size, probe: bool = False) -> Arch:
    """Build ``spec`` for ``num_classes`` labels and trace it at ``input_size`` (C, H, W), without touching
    the global RNG state.

    ``probe``: also measure :func:`output_std` of the net at its default initialization.
    """
    input_size = tuple(input_size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = spec.build(num_classes=num_classes)
        graph = trace(net, input_size, name=f"zoo:{seed}")
        std = output_std(net, input_size) if probe else None
    net = net.to(device).train()
    return Arch(seed, spec, net, graph, sum(p.numel() for p in net.parameters()),
                frozenset(name for name, _ in net.named_parameters()), std)


@torch.no_grad()
def output_std(net: nn.Module, input_size: tuple[int, int, int] = DEFAULT_CFG.input_size, images: int = 8) -> float:
    """Std of ``net``'s logits on a fixed Gaussian probe batch, in train mode (batch-statistics BatchNorm).

    At PyTorch's default initialization generated nets give about 0.2 (median of train seeds 0-59; at most
    1.2). Before DAG cells got a normalizing input projection, a few (identity and pooling paths summed
    with a residual, repeated over a stage) multiplied the signal at every cell and reached 10^3 (train
    seed 1287: 1,749, now 1.16); a user stream can still hold such nets, whose loss is then thousands of
    times ln 10 whatever is predicted, and one of them in a meta-batch steers the whole update.
    """
    from graphparam.evaluate import logits_of

    x = torch.randn(images, *input_size, generator=torch.Generator().manual_seed(0))
    state = {k: v.clone() for k, v in net.state_dict().items()}  # the probe must not move BN buffers
    out = logits_of(net.train()(x)).float()
    net.load_state_dict(state)
    std = float(out.std())
    return std if std == std else float("inf")
