"""The images of a training run: the CIFAR-10 training set minus a fixed held-out validation part, and what
they are to a GHN trained on them (:func:`data_cfg`: image shape, classes, normalization)."""

from __future__ import annotations

import torch

from graphparam.data import ImageSet, load_dataset
from graphparam.errors import ConfigError
from graphparam.pretrained_cfg import DEFAULT_CFG, PretrainedCfg

__all__ = ["training_images", "data_cfg", "HOLDOUT_SEED"]

HOLDOUT_SEED = 0x7A1  # fixed: the held-out images do not depend on the run's seed


def training_images(source: str | None = None, val_images: int = 1000) -> tuple[ImageSet, ImageSet | None]:
    """``(train, val)``: ``val`` is a fixed random subset of ``val_images`` training images (None if 0)
    and ``train`` the rest, in their original order.

    ``source="embedded"`` uses the 1,000 images shipped with the package (test images: for smoke
    tests of the loop only, never for reported results).
    """
    if source is not None and str(source).lower() == "embedded":
        data = load_dataset("embedded", "test")
    else:
        data = load_dataset(source, "train")
    if val_images <= 0:
        return data, None
    if val_images >= len(data):
        raise ConfigError(f"--val-images {val_images} leaves no training images out of the {len(data)} of "
                          f"{data.name}: hold out fewer")
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(HOLDOUT_SEED))
    held = perm[:val_images].sort().values
    keep = torch.ones(len(data), dtype=torch.bool)
    keep[held] = False
    train = data.subset(keep.nonzero().squeeze(1), name=f"{data.name}-train{len(data) - val_images}")
    val = data.subset(held, name=f"{data.name}-heldout{val_images}")
    return train, val


def data_cfg(images: ImageSet, mean, std) -> PretrainedCfg:
    """The :class:`~graphparam.pretrained_cfg.PretrainedCfg` of a GHN trained on ``images`` normalized with
    ``mean`` and ``std``: the images' shape (C, H, W), their class count and their name as the data set."""
    return DEFAULT_CFG.for_images(tuple(images.images.shape[1:]), images.num_classes, images.name, mean, std)
