"""Named splits: an endless training stream and fixed evaluation sets.

An evaluation split holds the first ``size`` nets ``sample(seed, name)``,
seed = 0, 1, ..., that are not already in it or in an earlier split of
``EVAL_SPLITS`` (so the splits are duplicate-free and disjoint). The random
stream is keyed by the split name, so these never reuse training draws.
The hashes of every evaluation net are committed in
``arch_zoo/splits/eval_hashes.json``: ``split()`` checks regenerated specs
against them (a changed generator fails loudly instead of silently changing
the benchmark), and ``train_stream`` skips any spec whose hash is listed.
Regenerate the file deliberately with ``python -m arch_zoo --write``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Callable, Iterator

from .generator import STREAMS, sample
from .spec import ArchSpec

__all__ = ["Split", "SPLITS", "split", "train_stream", "stream_names", "MIXED_STREAMS", "eval_hashes", "EVAL_SPLITS",
           "HASHES_PATH"]

HASHES_PATH = Path(__file__).with_name("splits") / "eval_hashes.json"


@dataclass(frozen=True)
class Split:
    """A named set of nets: ``size`` distinct generated nets (``None``: endless ``train`` or the ``real`` names)."""

    name: str
    size: int | None
    description: str


SPLITS: dict[str, Split] = {
    s.name: s
    for s in (
        Split("train", None, "endless stream sample(seed, 'train'), seed = 0, 1, ...; eval nets skipped"),
        Split("val", 200, "in distribution (train config)"),
        Split("test", 500, "in distribution (train config)"),
        Split("wide", 100, "widths 96..512 (train: 8..256)"),
        Split("deep", 100, "20..40 cells (train: 4..18)"),
        Split("dense", 100, "DAG cells only, 5..8 nodes (train: 2..5) of up to 4 inputs (train: 2), concat-heavy"),
        Split("bnfree", 100, "no normalization layers anywhere (train: batch or layer norm)"),
        Split("real", None, "names of arch_zoo.real.REAL_MODELS (timm/torchvision nets adapted to 32x32)"),
    )
}
"""Split name -> definition."""

EVAL_SPLITS = ("val", "test", "wide", "deep", "dense", "bnfree")
"""Generated evaluation splits (their hashes are excluded from training)."""


@cache
def _generate_all() -> dict[str, tuple[ArchSpec, ...]]:
    taken: set[str] = set()
    out = {}
    for name in EVAL_SPLITS:
        specs: list[ArchSpec] = []
        seed = 0
        while len(specs) < SPLITS[name].size:
            spec = sample(seed, name)
            if spec.hash not in taken:
                taken.add(spec.hash)
                specs.append(spec)
            seed += 1
        out[name] = tuple(specs)
    return out


@cache
def _committed_hashes() -> dict[str, tuple[str, ...]]:
    with open(HASHES_PATH) as f:
        return {name: tuple(hashes) for name, hashes in json.load(f).items()}


@cache
def _eval_split(name: str) -> tuple[ArchSpec, ...]:
    specs = _generate_all()[name]
    expected = _committed_hashes().get(name)
    got = tuple(s.hash for s in specs)
    if expected != got:
        bad = next((i for i, (a, b) in enumerate(zip(got, expected or ())) if a != b), min(len(got), len(expected or ())))
        raise RuntimeError(
            f"split {name!r}: regenerated net {bad} does not match {HASHES_PATH.name}; the generator changed. "
            "If intended, run `python -m arch_zoo --write` (this changes the benchmark)."
        )
    return specs


def split(name: str) -> list:
    """The nets of an evaluation split as ``ArchSpec``s, or for ``real`` the ``REAL_MODELS`` names (str).

    ``train`` is endless: use ``train_stream`` instead.
    """
    if name not in SPLITS:
        raise KeyError(f"unknown split {name!r}; known: {', '.join(SPLITS)}")
    if name == "real":
        from .real import REAL_MODELS

        return list(REAL_MODELS)
    if name == "train":
        raise ValueError("'train' is an endless stream; use arch_zoo.train_stream()")
    return list(_eval_split(name))


@cache
def eval_hashes() -> frozenset[str]:
    """Hashes of every net in the generated evaluation splits (from the committed file)."""
    return frozenset(h for name in EVAL_SPLITS for h in _committed_hashes()[name])


MIXED_STREAMS: dict[str, tuple[str, ...]] = {
    "real_mix": ("library", "train"),
    "user_mix": ("library", "library_native", "train"),
    "library_mix": ("library", "library_native"),
    "zoo_mix": ("library", "train", "library_native", "train"),
}
"""Streams that interleave others: seed ``s`` draws the net of seed ``s`` of stream ``parts[s % len(parts)]``.
``real_mix``: even seeds the ``library`` stream's nets (timm/torchvision constructors,
:mod:`arch_zoo.library`), odd seeds the ``train`` stream's, so every run of 2k consecutive seeds is half each.
``user_mix``: thirds of the nets users bring and of generated ones: seeds ``3k`` the ``library`` stream's nets
(adapted to 32x32), ``3k + 1`` the ``library_native`` stream's (the same families as their library builds them,
ImageNet stems and 16-pixel patches run at 32x32) and ``3k + 2`` the ``train`` stream's. ``library_mix``: only
the nets users bring, ``user_mix`` without its generated third (even seeds ``library``, odd ``library_native``).
``zoo_mix``: ``user_mix`` with half its nets generated (seeds ``4k + 1`` and ``4k + 3`` the ``train`` stream's), for
the zoo's own splits."""


def stream_names() -> tuple[str, ...]:
    """Every name ``train_stream`` accepts: generator streams (``STREAMS``), library streams
    (``LIBRARY_STREAMS``: ``library``, ``library_shallow``, ``library_deep``, ``library_native``) and mixed
    streams (``MIXED_STREAMS``: ``real_mix``, ``user_mix``, ``library_mix``, ``zoo_mix``)."""
    from .library import LIBRARY_STREAMS

    return (*STREAMS, *LIBRARY_STREAMS, *MIXED_STREAMS)


def _stream_sampler(stream: str) -> Callable[[int], object]:
    """``seed -> spec`` for a stream name (``KeyError`` for an unknown one)."""
    from .library import LIBRARY_STREAMS, sample_library

    if stream in STREAMS:
        config = STREAMS[stream]
        key = "train" if stream == "train" else f"train-{stream}"
        return lambda seed: sample(seed, key, config)
    if stream in LIBRARY_STREAMS:
        lib_config, lib_key = LIBRARY_STREAMS[stream], f"train-{stream}"
        return lambda seed: sample_library(seed, lib_key, lib_config)
    if stream in MIXED_STREAMS:
        parts = [_stream_sampler(name) for name in MIXED_STREAMS[stream]]
        return lambda seed: parts[seed % len(parts)](seed)
    raise KeyError(f"unknown training stream {stream!r}; known: {', '.join(stream_names())}")


def train_stream(start: int = 0, stream: str = "train") -> Iterator[tuple[int, object]]:
    """Yield ``(seed, spec)`` for seed = start, start+1, ..., skipping evaluation nets.

    ``stream`` names a generator config of ``STREAMS`` (``ArchSpec``s): ``train`` draws
    ``sample(seed, 'train')``, the distribution of the ``val``/``test`` splits; other streams draw from their
    own keyed sequence. ``library``, ``library_shallow``, ``library_deep`` and ``library_native``
    (``LIBRARY_STREAMS``) yield ``LibrarySpec``s, nets built by timm's and torchvision's own constructors
    (``library_native``: with their ImageNet stems and patching); ``MIXED_STREAMS`` (``real_mix``,
    ``user_mix``, ``library_mix``, ``zoo_mix``) interleave streams. Every spec has ``.hash`` and ``.build(num_classes=...)``.
    """
    draw = _stream_sampler(stream)
    excluded = eval_hashes()
    seed = start
    while True:
        spec = draw(seed)
        if spec.hash not in excluded:
            yield seed, spec
        seed += 1


def write_hashes(path: Path = HASHES_PATH) -> dict[str, list[str]]:
    """Regenerate every evaluation split and write its hashes to ``path``."""
    hashes = {name: [s.hash for s in specs] for name, specs in _generate_all().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(hashes, f, indent=1)
        f.write("\n")
    _committed_hashes.cache_clear()
    _eval_split.cache_clear()
    eval_hashes.cache_clear()
    return hashes


def main() -> None:
    parser = argparse.ArgumentParser(description="Check or regenerate the committed evaluation-split hashes.")
    parser.add_argument("--write", action="store_true", help=f"rewrite {HASHES_PATH}")
    args = parser.parse_args()
    if args.write:
        hashes = write_hashes()
        print(f"wrote {sum(map(len, hashes.values()))} hashes to {HASHES_PATH}")
    else:
        for name in EVAL_SPLITS:
            print(name, len(split(name)), "ok")

