"""CIFAR-10 loading: a JPEG npz, a torchvision root, or a fresh download.

Sources accepted by :func:`load_cifar10` (``source``):

* a ``.npz`` file in the JPEG format (``cifar10_jpeg.npz``: JPEG bytes plus
  offsets, official split), or a directory
  holding one; every JPEG is decoded once with PIL and kept in memory;
* a torchvision CIFAR-10 root (a directory holding ``cifar-10-batches-py/``)
  or the ``cifar-10-batches-py`` directory itself (exact official pixels);
* ``download=True``: torchvision downloads the official archive into
  ``source`` (default ``~/.cache/graphparam/cifar10``);
* ``None``: the environment variable ``GRAPHPARAM_DATA``, else a previous
  download in the default cache directory.

Anything else raises :class:`DatasetNotFoundError` with a one-line message.
"""

from __future__ import annotations

import functools
import io
import os
import pickle
from pathlib import Path

import numpy as np
import torch

from graphparam.errors import DatasetFormatError

from .imageset import DatasetNotFoundError, ImageSet

__all__ = [
    "CIFAR10_CLASSES",
    "ENV_VAR",
    "load_cifar10",
    "find_cifar10",
    "is_cifar10_source",
    "default_download_root",
]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
ENV_VAR = "GRAPHPARAM_DATA"
NPZ_NAME = "cifar10_jpeg.npz"
BATCHES_DIR = "cifar-10-batches-py"
#: the side of a CIFAR-10 image: the pickled batches hold each one as a row of 3 x SIDE x SIDE bytes
CIFAR10_SIDE = 32
_SPLITS = ("train", "test")

HOW_TO = ("pass the path of cifar10_jpeg.npz or of a torchvision CIFAR-10 root "
          f"(--data PATH), set {ENV_VAR}, or download it with --download")


def default_download_root() -> Path:
    """Where ``download=True`` without a path puts CIFAR-10."""
    return Path("~/.cache/graphparam/cifar10").expanduser()


def _check_split(split: str) -> str:
    if split not in _SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split


def find_cifar10() -> Path | None:
    """The CIFAR-10 source used when none is given, or None.

    ``$GRAPHPARAM_DATA`` wins when set (even if it does not exist, so that a typo
    is reported rather than silently replaced); then a previous download in
    :func:`default_download_root`. The library knows no other place.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    cache = default_download_root()
    if (cache / BATCHES_DIR).is_dir():
        return cache
    return None


def _resolve(path: Path) -> tuple[str, Path]:
    """(kind, path) with kind 'npz' or 'batches', or DatasetNotFoundError."""
    if not path.exists():
        raise DatasetNotFoundError(f"CIFAR-10 not found: {path} does not exist; {HOW_TO}")
    if path.is_file():
        if path.suffix == ".npz":
            return "npz", path
    else:
        if path.name == BATCHES_DIR:
            return "batches", path
        if (path / BATCHES_DIR).is_dir():
            return "batches", path / BATCHES_DIR
        if (path / NPZ_NAME).is_file():
            return "npz", path / NPZ_NAME
    raise DatasetNotFoundError(
        f"CIFAR-10 not found: {path} is neither a cifar10_jpeg.npz file nor a directory "
        f"holding {NPZ_NAME} or {BATCHES_DIR}/; {HOW_TO}")


def is_cifar10_source(path: str | os.PathLike) -> bool:
    """Whether ``path`` looks like a CIFAR-10 source that :func:`load_cifar10` reads."""
    try:
        _resolve(Path(path).expanduser())
        return True
    except DatasetNotFoundError:
        return False


def _decode_jpegs(buf: np.ndarray, off: np.ndarray) -> np.ndarray:
    from PIL import Image

    n = len(off) - 1
    raw = buf.tobytes()
    out = None
    for i in range(n):
        img = Image.open(io.BytesIO(raw[off[i]:off[i + 1]]))
        if img.mode != "RGB":
            img = img.convert("RGB")
        a = np.asarray(img)
        if out is None:
            out = np.empty((n,) + a.shape, np.uint8)
        elif a.shape != out.shape[1:]:
            raise ValueError(f"JPEG {i} has shape {a.shape}, expected {out.shape[1:]}")
        out[i] = a
    if out is None:
        raise ValueError("no images in the npz split")
    return out


@functools.lru_cache(maxsize=4)
def _load_npz(path: str, mtime_ns: int, split: str) -> ImageSet:
    try:
        z = np.load(path, allow_pickle=False)
    except Exception as exc:  # text, a pickle, a truncated zip: not an npz archive at all
        raise DatasetFormatError(f"{path} is not an npz archive of arrays") from exc
    if not hasattr(z, "files"):  # a plain .npy array saved under an .npz name
        raise DatasetFormatError(f"{path} is a single array, not an npz archive of CIFAR-10 splits")
    with z:
        keys = set(z.files)
        need = {f"{split}_jpeg", f"{split}_off", f"{split}_y"}
        if not need <= keys:
            raise DatasetFormatError(f"{path} is not in the CIFAR-10 JPEG npz format "
                                     f"(missing {sorted(need - keys)})")
        hwc = _decode_jpegs(z[f"{split}_jpeg"], z[f"{split}_off"])
        labels = torch.from_numpy(z[f"{split}_y"].astype(np.int64))
        classes = tuple(str(c) for c in z["classes"]) if "classes" in keys else CIFAR10_CLASSES
    images = torch.from_numpy(hwc).permute(0, 3, 1, 2).contiguous()
    return ImageSet(images, labels, classes, f"cifar10-jpeg/{split}")


def _unpickle(path: Path) -> dict:
    if not path.is_file():
        raise DatasetNotFoundError(f"CIFAR-10 not found: {path} does not exist; {HOW_TO}")
    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")


@functools.lru_cache(maxsize=4)
def _load_batches(path: str, mtime_ns: int, split: str) -> ImageSet:
    root = Path(path)
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    data, labels = [], []
    for name in names:
        d = _unpickle(root / name)
        data.append(np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, CIFAR10_SIDE, CIFAR10_SIDE))
        labels.extend(d["labels"] if "labels" in d else d["fine_labels"])
    classes = CIFAR10_CLASSES
    if (root / "batches.meta").is_file():
        classes = tuple(_unpickle(root / "batches.meta")["label_names"])
    images = torch.from_numpy(np.concatenate(data))
    return ImageSet(images, torch.tensor(labels, dtype=torch.int64), classes, f"cifar10/{split}")


def _download(root: Path) -> Path:
    from torchvision.datasets import CIFAR10

    root.mkdir(parents=True, exist_ok=True)
    try:
        CIFAR10(str(root), train=False, download=True)
    except Exception as e:  # network errors come in many types; a user error either way (one line, exit 2)
        msg = str(e).strip().splitlines()
        raise DatasetNotFoundError(f"downloading CIFAR-10 into {root} failed: {type(e).__name__}"
                                   + (f": {msg[0]}" if msg else "")) from e
    return root / BATCHES_DIR


def load_cifar10(source: str | os.PathLike | None = None, split: str = "train",
                 download: bool = False) -> ImageSet:
    """Load a CIFAR-10 split as an :class:`ImageSet` (decoded once, cached in memory).

    See the module docstring for the accepted ``source`` values. Results are
    cached per (file, split): a second call returns the same ImageSet, whose
    tensors must therefore be treated as read-only.
    """
    _check_split(split)
    if download:
        root = Path(source).expanduser() if source is not None else default_download_root()
        kind, path = "batches", _download(root)
    else:
        found = Path(source).expanduser() if source is not None else find_cifar10()
        if found is None:
            raise DatasetNotFoundError(
                f"CIFAR-10 not found: no source given, {ENV_VAR} unset and nothing downloaded "
                f"in {default_download_root()}; {HOW_TO}")
        kind, path = _resolve(found)
    path = path.resolve()
    loader = _load_npz if kind == "npz" else _load_batches
    return loader(str(path), path.stat().st_mtime_ns, split)
