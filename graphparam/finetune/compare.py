"""``compare_inits``: one recipe from several starting points of one architecture, same data order."""

from __future__ import annotations

import time
from typing import Callable, Mapping, Sequence

import torch
import torch.nn as nn

from graphparam.data.imageset import ImageSet
from graphparam.finetune.recipe import finetune
from graphparam.finetune.result import FinetuneResult

__all__ = ["compare_inits", "InitFn"]


InitFn = Callable[[nn.Module], nn.Module]


def _resolve_inits(inits, ghn, input_size) -> dict[str, InitFn | None]:
    """Names or a mapping name -> callable(model) -> model; ``None`` keeps the default init."""
    if isinstance(inits, Mapping):
        return dict(inits)
    out: dict[str, InitFn | None] = {}
    for name in inits:
        if name in ("random", "default"):
            out[name] = None
        elif name == "ghn":
            if ghn is None:
                raise ValueError("init 'ghn' needs a GHN (ghn=...)")
            from graphparam.predict import GHNInitializer

            out[name] = GHNInitializer(ghn, input_size=input_size)
        else:
            raise ValueError(f"unknown init {name!r}: use 'ghn', 'random' (= 'default') or pass a mapping "
                             "name -> callable(model) -> model")
    return out


def compare_inits(make_model: Callable[[], nn.Module], ghn=None, train: ImageSet | None = None,
                  test: ImageSet | None = None, *, inits: Sequence[str] | Mapping[str, InitFn | None] = ("ghn", "random"),
                  seed: int = 0, input_size: Sequence[int] | None = None, **finetune_kwargs) -> dict[str, FinetuneResult]:
    """Fine-tune fresh copies of one architecture from several initializations with one recipe.

    ``make_model()`` must return a freshly built model; it is called under
    ``torch.manual_seed(seed)``, so the "random" (default-initialization) run is reproducible.
    ``inits``: names (``"ghn"``: ``ghn.predict`` on the fresh model; ``"random"`` / ``"default"``:
    the model's own initialization) or a mapping ``name -> callable(model) -> model`` (``None``
    keeps the default init). Every run gets the same ``seed``, hence the same data order and
    augmentation. Other keyword arguments go to :func:`finetune` (``epochs`` and ``lr`` are required).
    """
    if train is None or test is None:
        raise ValueError("compare_inits needs train and test ImageSets")
    size = tuple(input_size) if input_size is not None else (3, *train.image_size)
    results: dict[str, FinetuneResult] = {}
    for name, fn in _resolve_inits(inits, ghn, size).items():
        torch.manual_seed(seed)
        model = make_model()
        t0 = time.perf_counter()
        if fn is not None:
            model = fn(model)
        init_seconds = time.perf_counter() - t0
        res = finetune(model, train, test, seed=seed, init=name, **finetune_kwargs)
        res.config["init_seconds"] = init_seconds
        results[name] = res
        del model
    return results
