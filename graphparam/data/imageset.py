"""The in-memory image dataset value shared by training and evaluation."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from graphparam.errors import DatasetNotFoundError

__all__ = ["ImageSet", "DatasetNotFoundError"]


@dataclass(frozen=True, eq=False)
class ImageSet:
    """A decoded image classification set held in memory.

    images:  uint8 tensor N x 3 x H x W (RGB, 0..255)
    labels:  int64 tensor N
    classes: class names, ``classes[label]``
    name:    short human-readable name, e.g. ``"cifar10-jpeg/test"``

    The tensors may be shared with a loader cache: treat them as read-only.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    name: str

    def __post_init__(self) -> None:
        x, y = self.images, self.labels
        if not isinstance(x, torch.Tensor) or x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"ImageSet.images must be a uint8 tensor N x 3 x H x W, got "
                             f"{getattr(x, 'dtype', type(x))} {tuple(getattr(x, 'shape', ()))}")
        if not isinstance(y, torch.Tensor) or y.dtype != torch.int64 or y.shape != (x.shape[0],):
            raise ValueError(f"ImageSet.labels must be an int64 tensor of length {x.shape[0]}, got "
                             f"{getattr(y, 'dtype', type(y))} {tuple(getattr(y, 'shape', ()))}")
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= len(self.classes)):
            raise ValueError(f"ImageSet labels must lie in [0, {len(self.classes)}), "
                             f"got [{int(y.min())}, {int(y.max())}]")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.images.shape[2]), int(self.images.shape[3])

    def subset(self, index, name: str | None = None) -> "ImageSet":
        """The images at ``index`` (a slice, index tensor or list), in that order."""
        if isinstance(index, (list, tuple)):
            index = torch.as_tensor(index, dtype=torch.long)
        return ImageSet(self.images[index], self.labels[index], self.classes,
                        name if name is not None else self.name)

    def __repr__(self) -> str:
        h, w = self.image_size
        return f"ImageSet({self.name!r}, n={len(self)}, {h}x{w}, {self.num_classes} classes)"
