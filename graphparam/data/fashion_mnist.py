"""Fashion-MNIST from its IDX files, as 32x32 RGB images a CIFAR-10 GHN's nets can take.

A directory holding the four files of the official distribution (gzipped or not; e.g. Debian's
``dataset-fashion-mnist`` package installs them in ``/usr/share/datasets/fashion-mnist``)::

    train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz   (60,000 images)
    t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz    (10,000 images)

is read into an :class:`ImageSet`: each 28x28 grey image is **zero-padded** (2 pixels on every side,
the images' own black background, no resampling) to 32x32 and repeated to 3 identical channels, so
models built for CIFAR-10 run on it unchanged. MNIST ships in the same layout; its class names differ
(pass ``classes``). The library knows no default location: the caller names the directory.
"""

from __future__ import annotations

import functools
import gzip
import os
from pathlib import Path

import numpy as np
import torch

from graphparam.errors import DatasetFormatError

from .imageset import DatasetNotFoundError, ImageSet

__all__ = ["FASHION_MNIST_CLASSES", "read_idx", "find_fashion_mnist_files", "is_fashion_mnist_source",
           "load_fashion_mnist"]

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
#: the file-name prefix of each split
PREFIX = {"train": "train", "test": "t10k"}
#: the side of a Fashion-MNIST image
SIDE = 28
#: IDX type codes (the third byte of the magic number) -> big-endian numpy dtype
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array in one IDX file (gzipped when it starts with the gzip magic bytes).

    Format: two zero bytes, a type code, the number of dimensions ``d``, ``d`` big-endian uint32
    sizes, then the values in C order. Anything else raises :class:`DatasetFormatError`."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DatasetFormatError(f"{path} is a damaged gzip file: {exc}") from exc
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _IDX_DTYPES:
        raise DatasetFormatError(f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'none'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetFormatError(f"{path}: IDX header of {ndim} dimensions is truncated")
    shape = tuple(int(v) for v in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != size:
        raise DatasetFormatError(f"{path}: IDX header says shape {shape} ({size} bytes of data) but the file "
                                 f"holds {len(raw) - header}")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape)


def find_fashion_mnist_files(path: str | os.PathLike, split: str) -> tuple[Path, Path] | None:
    """``(images, labels)`` files of ``split`` in directory ``path`` (``.gz`` preferred), or None."""
    if split not in PREFIX:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(path)
    found = []
    for kind in ("images-idx3", "labels-idx1"):
        name = f"{PREFIX[split]}-{kind}-ubyte"
        f = next((root / n for n in (name + ".gz", name) if (root / n).is_file()), None)
        if f is None:
            return None
        found.append(f)
    return found[0], found[1]


def is_fashion_mnist_source(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a directory holding both splits' IDX files."""
    root = Path(path).expanduser()
    return root.is_dir() and all(find_fashion_mnist_files(root, s) is not None for s in PREFIX)


@functools.lru_cache(maxsize=4)
def _load(images_path: str, labels_path: str, mtime_ns: int, split: str, size: int,
          classes: tuple[str, ...]) -> ImageSet:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (SIDE, SIDE):
        raise DatasetFormatError(f"{images_path}: expected uint8 images N x {SIDE} x {SIDE}, got "
                                 f"{images.dtype} {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DatasetFormatError(f"{labels_path}: expected {images.shape[0]} labels, got shape {labels.shape}")
    if len(labels) and int(labels.max()) >= len(classes):
        raise DatasetFormatError(f"{labels_path}: label {int(labels.max())} but only {len(classes)} class names")
    pad = (size - SIDE) // 2
    x = torch.zeros((images.shape[0], 3, size, size), dtype=torch.uint8)
    x[:, :, pad:pad + SIDE, pad:pad + SIDE] = torch.from_numpy(images.copy()).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return ImageSet(x, y, classes, f"fashion-mnist/{split}")


def load_fashion_mnist(path: str | os.PathLike, split: str = "train", image_size: int = 32,
                       classes: tuple[str, ...] = FASHION_MNIST_CLASSES) -> ImageSet:
    """``split`` ('train': 60,000, 'test': 10,000) of the Fashion-MNIST IDX files in directory ``path``,
    3 x ``image_size`` x ``image_size`` (28x28 zero-padded in the center, grey repeated to 3 channels),
    cached in memory per file and split: treat the tensors as read-only."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DatasetNotFoundError(f"Fashion-MNIST not found: {root} is not a directory")
    if image_size < SIDE or (image_size - SIDE) % 2:
        raise ValueError(f"Fashion-MNIST is padded, not resized: image_size must be {SIDE} + an even number "
                         f"of pixels, got {image_size}")
    files = find_fashion_mnist_files(root, split)
    if files is None:
        raise DatasetNotFoundError(f"Fashion-MNIST not found: {root} lacks {PREFIX[split]}-images-idx3-ubyte(.gz) "
                                   f"or {PREFIX[split]}-labels-idx1-ubyte(.gz)")
    images, labels = (f.resolve() for f in files)
    mtime = max(images.stat().st_mtime_ns, labels.stat().st_mtime_ns)
    return _load(str(images), str(labels), mtime, split, int(image_size), tuple(str(c) for c in classes))
