"""A user's image folder (one subfolder per class) as an in-memory ImageSet."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .imageset import DatasetNotFoundError, ImageSet

__all__ = ["load_image_folder", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _to_square(img, size: int):
    """Resize the shorter side to ``size`` (bicubic, antialiased), then center-crop."""
    from PIL import Image

    w, h = img.size
    if (w, h) != (size, size):
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        img = img.resize((nw, nh), Image.Resampling.BICUBIC)
        left, top = (nw - size) // 2, (nh - size) // 2
        img = img.crop((left, top, left + size, top + size))
    return img


def load_image_folder(path: str | os.PathLike, image_size: int = 32,
                      name: str | None = None) -> ImageSet:
    """Load ``path/<class>/<image>`` files into an :class:`ImageSet`.

    Classes are the subfolder names in sorted order (as torchvision's
    ImageFolder); files with an image extension are read recursively inside each
    class folder, converted to RGB, resized so the shorter side is
    ``image_size`` and center-cropped to ``image_size`` x ``image_size``.
    """
    from PIL import Image

    root = Path(path).expanduser()
    if not root.is_dir():
        raise DatasetNotFoundError(f"image folder not found: {root} is not a directory")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    files: list[tuple[Path, int]] = []
    for label, cls in enumerate(classes):
        for f in sorted((root / cls).rglob("*")):
            if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file():
                files.append((f, label))
    if not files:
        raise DatasetNotFoundError(
            f"image folder {root} holds no images in class subfolders "
            f"(expected {root}/<class>/<image>{IMAGE_EXTENSIONS[0]})")
    images = np.empty((len(files), image_size, image_size, 3), np.uint8)
    for i, (f, _) in enumerate(files):
        with Image.open(f) as img:
            images[i] = np.asarray(_to_square(img.convert("RGB"), image_size))
    labels = torch.tensor([label for _, label in files], dtype=torch.int64)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    return ImageSet(x, labels, tuple(classes), name or f"folder:{root.name}")
