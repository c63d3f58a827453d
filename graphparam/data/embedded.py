"""The evaluation set shipped inside the package.

``assets/cifar10_test1k.npz`` holds the first 1,000 images of the official
CIFAR-10 test set with their exact official pixels (not the JPEG copy) and
labels, so that zero-shot evaluation works with no data download at all.
The pixels are stored as one lossless WebP mosaic (25 x 40 tiles of 32 x 32),
about 1.7 MB; the loader checks the decoded pixels against a SHA-256 stored
next to them. ``python -m graphparam.data.make_embedded`` regenerates it.
"""

from __future__ import annotations

import functools
import hashlib
import io
from pathlib import Path

import numpy as np
import torch

from .imageset import ImageSet

__all__ = ["load_embedded", "EMBEDDED_PATH", "EMBEDDED_NAME"]

EMBEDDED_PATH = Path(__file__).resolve().parent / "assets" / "cifar10_test1k.npz"
EMBEDDED_NAME = "cifar10-test1k"
TILE = 32


def tile(images_hwc: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """N x h x w x 3 images (N = rows * cols) -> one (rows*h) x (cols*w) x 3 mosaic."""
    n, h, w, c = images_hwc.shape
    assert n == rows * cols, (n, rows, cols)
    return images_hwc.reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4).reshape(rows * h, cols * w, c)


def untile(mosaic: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Inverse of :func:`tile`."""
    H, W, c = mosaic.shape
    h, w = H // rows, W // cols
    return np.ascontiguousarray(
        mosaic.reshape(rows, h, cols, w, c).transpose(0, 2, 1, 3, 4).reshape(rows * cols, h, w, c))


def pixels_sha256(images_hwc: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(images_hwc, dtype=np.uint8).tobytes()).hexdigest()


@functools.lru_cache(maxsize=1)
def _load(path: str) -> ImageSet:
    from PIL import Image

    with np.load(path, allow_pickle=False) as z:
        webp = z["webp"].tobytes()
        rows, cols = (int(v) for v in z["grid"])
        labels = torch.from_numpy(z["labels"].astype(np.int64))
        classes = tuple(str(c) for c in z["classes"])
        digest = str(z["sha256"])
    with Image.open(io.BytesIO(webp)) as img:
        mosaic = np.asarray(img.convert("RGB"))
    hwc = untile(mosaic, rows, cols)
    if pixels_sha256(hwc) != digest:
        raise RuntimeError(f"{path}: decoded pixels do not match the stored SHA-256 "
                           "(a lossy or broken WebP decoder?)")
    images = torch.from_numpy(hwc).permute(0, 3, 1, 2).contiguous()
    return ImageSet(images, labels, classes, EMBEDDED_NAME)


def load_embedded() -> ImageSet:
    """The first 1,000 official CIFAR-10 test images, exact pixels, official order.

    Decoded once per process and cached: treat the tensors as read-only.
    """
    return _load(str(EMBEDDED_PATH))
