"""One training net, built and traced: :class:`Arch` and :func:`build_arch` (and the :func:`output_std` probe).

Building and tracing run under a forked RNG seeded by the arch seed: they draw random numbers
(initialisation, the example input), and whether a net is built here, in a build worker
(:mod:`graphparam.train.build_pool`) or found in a cache (:mod:`graphparam.train.archs`) must not
change the global RNG stream of the run.

A training net runs only on the GHN's predicted parameters, so its own random initialization is wasted work
(about 2 % of a ``user_mix`` step: ``uniform_`` and ``normal_`` took 2.2 s of 132 s over 12 steps profiled by
``experiments/profile_step.py``). ``init=False`` builds it with the random initializers of ``torch.nn.init`` and
``timm.layers`` filling zeros instead, as a build worker's nets arrive anyway; buffers and deterministic fills
(ones, zeros, constants) stay as their modules set them. The training run is bit for bit the same.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn as nn

from graphparam.graph import ArchGraph, trace
from graphparam.pretrained_cfg import DEFAULT_CFG

__all__ = ["Arch", "build_arch", "output_std"]


#: the random initializers replaced by a zero fill under ``init=False``, by module
_RANDOM_INITS = {
    "torch.nn.init": ("uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_",
                      "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_"),
    "timm.layers": ("trunc_normal_", "trunc_normal_tf_", "variance_scaling_", "lecun_normal_"),
    "timm.layers.weight_init": ("trunc_normal_", "trunc_normal_tf_", "variance_scaling_", "lecun_normal_"),
}


def _zero_fill(tensor: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    with torch.no_grad():
        return tensor.zero_()


@contextlib.contextmanager
def _without_random_init() -> Iterator[None]:
    """Random initializers fill zeros inside the block (modules that imported one by name keep the real one)."""
    import importlib

    saved = []
    for module_name, names in _RANDOM_INITS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in names:
            if hasattr(module, name):
                saved.append((module, name, getattr(module, name)))
                setattr(module, name, _zero_fill)
    try:
        yield
    finally:
        for module, name, fn in reversed(saved):
            setattr(module, name, fn)


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
               input_size: tuple[int, int, int] = DEFAULT_CFG.input_size, probe: bool = False,
               init: bool = True) -> Arch:
    """Build ``spec`` for ``num_classes`` labels and trace it at ``input_size`` (C, H, W), without touching
    the global RNG state.

    ``probe``: also measure :func:`output_std` of the net at its default initialization (which needs it).
    ``init``: initialize the parameters as the net's library does; ``False`` (without ``probe``) leaves the
    randomly initialized ones at zero, for a net that will only run on predicted parameters.
    """
    input_size = tuple(input_size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        with contextlib.nullcontext() if init or probe else _without_random_init():
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
