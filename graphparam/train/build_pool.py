"""Build and trace training nets in worker processes, ahead of the step that needs them.

On a GPU a meta-training step of 8 small nets takes a fraction of a second, while building and
tracing one generated net costs about 0.14 CPU seconds in Python: done in the training process,
construction is most of the step. :class:`BuildPool` runs :func:`~graphparam.train.build.build_arch`
in ``workers`` spawned processes (one torch thread each) and hands the nets back in the order they
were asked for. A net is built from its seed alone (under a forked RNG), so where it was built does
not change it: a run with workers sees the same nets, graphs and buffers as one without, and computes
the same losses. Only the nets' parameter values stay behind (they arrive as zeros): the GHN replaces
every one of them.
"""

from __future__ import annotations

import multiprocessing
import pickle
from concurrent.futures import Future, ProcessPoolExecutor

import torch
import torch.nn as nn

from graphparam.pretrained_cfg import DEFAULT_CFG
from graphparam.train.build import Arch, build_arch

__all__ = ["BuildPool"]


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def _build(seed: int, spec, probe: bool, num_classes: int, input_size: tuple[int, int, int]) -> bytes:
    arch = build_arch(seed, spec, "cpu", num_classes, input_size, probe=probe, init=False)
    _set_parameters(arch.net, "meta")
    # pickled here, by value: torch's multiprocessing reductions would pass every tensor as a
    # shared-memory file descriptor, hundreds per net
    return pickle.dumps(arch, protocol=pickle.HIGHEST_PROTOCOL)


def _set_parameters(net: nn.Module, device: torch.device | str) -> None:
    """Replace every parameter of ``net`` by zeros of its shape on ``device`` ("meta": no storage at all)."""
    for module in net.modules():
        for name, p in module._parameters.items():
            if p is not None:
                module._parameters[name] = nn.Parameter(torch.zeros(p.shape, dtype=p.dtype, device=device),
                                                        requires_grad=p.requires_grad)


class BuildPool:
    """``submit(seed, spec)`` starts building a net in a worker and returns its future; ``load(future)``
    waits for it and returns the :class:`~graphparam.train.build.Arch`, on the CPU."""

    def __init__(self, workers: int):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = int(workers)
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, seed: int, spec, probe: bool = False, num_classes: int = DEFAULT_CFG.num_classes,
               input_size: tuple[int, int, int] = DEFAULT_CFG.input_size) -> Future:
        if self._pool is None:  # spawned, not forked: the parent may hold CUDA and OpenMP threads
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_init_worker)
        return self._pool.submit(_build, seed, spec, probe, int(num_classes), tuple(input_size))

    @staticmethod
    def load(future: Future, device: torch.device | str = "cpu") -> Arch:
        """The built net on ``device``, its parameters zeros: a training net's default initialization is
        never used (the GHN predicts every parameter), and sending it costs more than building the net's
        graph (2.5 MB and 22 ms of unpickling for a typical training net, against 75 kB and 4 ms)."""
        arch = pickle.loads(future.result())
        _set_parameters(arch.net, device)
        arch.net = arch.net.to(device).train()
        return arch

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
