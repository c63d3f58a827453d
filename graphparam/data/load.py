"""One entry point from a user-given data source to an ImageSet (used by the CLI)."""

from __future__ import annotations

import os
from pathlib import Path

from .cifar10 import HOW_TO, is_cifar10_source, load_cifar10
from .embedded import load_embedded
from .fashion_mnist import is_fashion_mnist_source, load_fashion_mnist
from .folder import load_image_folder
from .imageset import DatasetNotFoundError, ImageSet

__all__ = ["load_dataset", "EMBEDDED"]

EMBEDDED = "embedded"


def load_dataset(source: str | os.PathLike | None = None, split: str = "test",
                 download: bool = False, image_size: int = 32) -> ImageSet:
    """Load ``split`` ('train' or 'test') of the data set named by ``source``:

    * ``"embedded"``: the 1,000 exact official CIFAR-10 test images shipped in
      the package (test split only);
    * ``None`` or ``"cifar10"``: CIFAR-10 from ``$GRAPHPARAM_DATA`` or a previous
      download (see :func:`load_cifar10`); with ``download=True`` a torchvision download;
    * a path to ``cifar10_jpeg.npz``, to a directory holding it, or to a
      torchvision CIFAR-10 root: that CIFAR-10;
    * a directory holding Fashion-MNIST's four IDX files (``train-images-idx3-ubyte.gz``, ...):
      Fashion-MNIST, 28x28 zero-padded to ``image_size`` and grey repeated to RGB
      (:func:`~graphparam.data.fashion_mnist.load_fashion_mnist`);
    * any other directory: an image folder (``<class>/<image>``); if it has a
      ``<split>/`` subfolder, that subfolder is used. Images are resized to
      ``image_size``.
    """
    if source is None or str(source).lower() == "cifar10":
        return load_cifar10(None, split, download=download)
    if str(source).lower() == EMBEDDED:
        if split != "test":
            raise ValueError(f"the embedded data set has only a 'test' split, not {split!r}")
        return load_embedded()
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    path = Path(source).expanduser()
    if download:
        return load_cifar10(path, split, download=True)
    if not path.exists():
        raise DatasetNotFoundError(
            f"data not found: {path} does not exist; {HOW_TO}, or use '{EMBEDDED}'")
    if is_cifar10_source(path):
        return load_cifar10(path, split)
    if is_fashion_mnist_source(path):
        return load_fashion_mnist(path, split, image_size=image_size)
    if path.is_dir():
        sub = path / split
        return load_image_folder(sub if sub.is_dir() else path, image_size=image_size)
    raise DatasetNotFoundError(
        f"data not understood: {path} is not a CIFAR-10 npz or root nor an image folder; {HOW_TO}")
