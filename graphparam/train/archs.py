"""The architectures a training run sees: a resumable position in the train stream and an LRU cache.

``ArchSource.next()`` returns the next training net as an :class:`Arch` (seed, spec, built module,
traced graph). The position is the next seed to draw, so it is one int in a checkpoint. Built and
traced nets are cached by spec hash (LRU), so a net seen again (``arch_pool`` cycles over a
finite set) is neither rebuilt nor retraced, and the GHN's per-graph preprocessing, cached on
the graph, is reused too.

A net is built and traced by :func:`~graphparam.train.build.build_arch` (here, or ahead in worker
processes by :mod:`graphparam.train.build_pool`), under a forked RNG seeded by the arch seed: whether a
net is a cache hit must not change the global RNG stream of the run (resumed runs start with an empty
cache). ``Arch``, ``build_arch`` and ``output_std`` are re-exported from :mod:`graphparam.train.build`.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Callable, Iterator

import torch

from graphparam.pretrained_cfg import DEFAULT_CFG
from graphparam.train.build import Arch, build_arch, output_std
from graphparam.train.build_pool import BuildPool

__all__ = ["Arch", "ArchCache", "ArchSource", "build_arch", "output_std"]


class ArchCache:
    """At most ``size`` built nets, least recently used evicted first (``size`` 0: no caching)."""

    def __init__(self, size: int = 256):
        self.size = int(size)
        self._items: OrderedDict[str, Arch] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: str, make: Callable[[], Arch]) -> Arch:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
            self.hits += 1
            return item
        self.misses += 1
        item = make()
        if self.size > 0:
            self._items[key] = item
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return item

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items


class ArchSource:
    """Training nets from ``arch_zoo.train_stream`` with a resumable position.

    ``pool``: cycle over the nets of train seeds ``[0, pool)`` (None: endless stream).
    ``max_params``: skip nets with more parameters (the position still advances past them).
    ``max_output_std``: skip nets whose logits at default init have a larger std (:func:`output_std`;
    ``None``: keep all), as GHN-2's generator leaves out cells that lead to exploding losses.
    Nets whose graph has the structure hash of a held-out real model (``arch_zoo.heldout_hashes``) are skipped.
    ``sampler(start)``: the stream, ``arch_zoo.train_stream`` by default (tests may substitute one).
    ``workers``: build and trace the next nets in this many processes
    (:class:`~graphparam.train.build_pool.BuildPool`; 0: in this process, when needed). The nets are the same,
    but their parameters arrive as zeros instead of PyTorch's default initialization (the GHN replaces them).
    ``num_classes``, ``input_size``: the label count and image shape (C, H, W) of the training data, which
    every net is built and traced for.
    """

    def __init__(self, start: int = 0, pool: int | None = None, max_params: int | None = None,
                 device: torch.device | str = "cpu", cache_size: int = 256,
                 sampler: Callable[[int], Iterator[tuple[int, object]]] | None = None,
                 max_output_std: float | None = None, workers: int = 0,
                 num_classes: int = DEFAULT_CFG.num_classes,
                 input_size: tuple[int, int, int] = DEFAULT_CFG.input_size):
        if sampler is None:
            from arch_zoo import train_stream as sampler
        self.sampler = sampler
        self.pool = pool
        self.max_params = max_params
        self.max_output_std = max_output_std
        self.num_classes, self.input_size = int(num_classes), tuple(input_size)
        self.device = torch.device(device)
        # an endless stream never draws a net twice: caching it would only hold memory (hundreds of MB)
        self.cache = ArchCache(cache_size if pool is not None else 0)
        self.skipped = 0
        # a training net never equals a held-out real model in structure (the samplers avoid their settings;
        # this is the guard behind them)
        from arch_zoo import heldout_hashes

        self.excluded = heldout_hashes()
        self.builder = BuildPool(workers) if workers else None
        self._ahead: deque = deque()  # (seed, spec, future or None) drawn but not yet returned
        self._seek(int(start))

    def _seek(self, seed: int) -> None:
        if self.pool is not None and seed >= self.pool:
            seed = 0
        self.position = seed
        self._it = self.sampler(seed)
        self._cancel_ahead()

    def _cancel_ahead(self) -> None:
        for _, _, future in self._ahead:
            if future is not None:
                future.cancel()
        self._ahead.clear()

    def _draw(self) -> tuple[int, object]:
        while True:
            seed, spec = next(self._it)
            if self.pool is not None and seed >= self.pool:
                self._it = self.sampler(0)
                continue
            return seed, spec

    def _next_drawn(self) -> tuple[int, object, object]:
        if self.builder is None:
            return (*self._draw(), None)
        probe = self.max_output_std is not None
        while len(self._ahead) <= 2 * self.builder.workers:  # two nets in flight per worker
            seed, spec = self._draw()
            future = None if spec.hash in self.cache else self.builder.submit(
                seed, spec, probe, self.num_classes, self.input_size)
            self._ahead.append((seed, spec, future))
        return self._ahead.popleft()

    def _build(self, seed: int, spec, future) -> Arch:
        if future is None:  # no worker, or it was cached when drawn (and evicted since)
            return build_arch(seed, spec, self.device, self.num_classes, self.input_size,
                              probe=self.max_output_std is not None, init=False)
        return self.builder.load(future, self.device)

    def next(self) -> Arch:
        """The next training net (always returns one; loops over the pool if set)."""
        while True:
            seed, spec, future = self._next_drawn()
            self.position = seed + 1
            arch = self.cache.get(spec.hash, lambda: self._build(seed, spec, future))
            if arch.seed != seed:  # same net under another seed: report the seed it was drawn with
                arch = Arch(seed, spec, arch.net, arch.graph, arch.num_params, arch.param_names, arch.output_std)
            if ((self.max_params is not None and arch.num_params > self.max_params)
                    or (self.max_output_std is not None and not arch.output_std <= self.max_output_std)
                    or arch.graph.structure_hash() in self.excluded):
                self.skipped += 1
                continue
            return arch

    def take(self, n: int) -> list[Arch]:
        return [self.next() for _ in range(n)]

    def state_dict(self) -> dict:
        return {"position": self.position, "skipped": self.skipped}

    def load_state_dict(self, state: dict) -> None:
        self.skipped = int(state.get("skipped", 0))
        self._seek(int(state["position"]))

    def close(self) -> None:
        """Stop the build workers (if any)."""
        self._cancel_ahead()
        if self.builder is not None:
            self.builder.close()
