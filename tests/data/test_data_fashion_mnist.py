"""Fashion-MNIST from IDX files: the parser on tiny synthetic files, padding to 32x32 RGB, load_dataset's
recognition of such a directory, clear errors; the installed Debian copy when it is there."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from graphparam.data import FASHION_MNIST_CLASSES, ImageSet, load_dataset, load_fashion_mnist
from graphparam.data.fashion_mnist import is_fashion_mnist_source, read_idx
from graphparam.errors import DatasetFormatError, DatasetNotFoundError

DEBIAN = Path("/usr/share/datasets/fashion-mnist")


def _idx(array: np.ndarray, code: int = 0x08) -> bytes:
    return bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def _write(path: Path, array: np.ndarray, compress: bool = True) -> Path:
    data = _idx(array)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def _fake_dir(root: Path, n_train: int = 6, n_test: int = 4) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = (np.arange(n) % 10).astype(np.uint8)
        _write(root / f"{prefix}-images-idx3-ubyte.gz", x)
        _write(root / f"{prefix}-labels-idx1-ubyte.gz", y, compress=prefix == "train")  # plain name: no .gz
        if prefix == "t10k":
            (root / f"{prefix}-labels-idx1-ubyte.gz").rename(root / f"{prefix}-labels-idx1-ubyte")
        out[prefix] = (x, y)
    return out


def test_read_idx_gzipped_and_plain_and_other_dtypes(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(read_idx(_write(tmp_path / "a.gz", a)), a)
    assert np.array_equal(read_idx(_write(tmp_path / "a", a, compress=False)), a)
    b = np.array([-3, 70000], dtype=">i4")
    (tmp_path / "b").write_bytes(_idx(b, 0x0C))
    assert read_idx(tmp_path / "b").tolist() == [-3, 70000]


@pytest.mark.parametrize("raw, match", [(b"\x08\x03\x00\x00", "not an IDX file"),
                                         (bytes([0, 0, 8, 2]) + struct.pack(">2I", 2, 3) + b"\x00" * 5, "holds 5"),
                                         (bytes([0, 0, 8, 3, 0]), "truncated")])
def test_read_idx_bad_files_give_clear_errors(tmp_path, raw, match):
    (tmp_path / "bad").write_bytes(raw)
    with pytest.raises(DatasetFormatError, match=match):
        read_idx(tmp_path / "bad")


def test_load_pads_28_to_32_and_repeats_grey(tmp_path):
    arrays = _fake_dir(tmp_path)
    assert is_fashion_mnist_source(tmp_path)
    train = load_fashion_mnist(tmp_path, "train")
    assert isinstance(train, ImageSet) and len(train) == 6 and train.image_size == (32, 32)
    assert train.classes == FASHION_MNIST_CLASSES and train.name == "fashion-mnist/train"
    x, y = arrays["train"]
    assert torch.equal(train.images[:, :, 2:30, 2:30], torch.from_numpy(x).unsqueeze(1).expand(-1, 3, -1, -1))
    border = train.images.clone()
    border[:, :, 2:30, 2:30] = 0
    assert not border.any()  # zero padding, no resampling
    assert train.labels.tolist() == y.tolist()
    test = load_dataset(tmp_path, "test")  # recognised by load_dataset, plain labels file found too
    assert len(test) == 4 and test.name == "fashion-mnist/test"
    assert load_dataset(tmp_path, "test") is test  # cached


def test_missing_or_broken_directory_gives_clear_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="not a directory"):
        load_fashion_mnist(tmp_path / "nope")
    _fake_dir(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()
    assert not is_fashion_mnist_source(tmp_path)
    with pytest.raises(DatasetNotFoundError, match="t10k-images-idx3-ubyte"):
        load_fashion_mnist(tmp_path, "test")
    with pytest.raises(ValueError, match="padded, not resized"):
        load_fashion_mnist(tmp_path, "train", image_size=31)


def test_label_count_mismatch_is_a_format_error(tmp_path):
    _fake_dir(tmp_path)
    _write(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    with pytest.raises(DatasetFormatError, match="expected 6 labels"):
        load_fashion_mnist(tmp_path, "train")


@pytest.mark.skipif(not DEBIAN.is_dir(), reason="Debian's dataset-fashion-mnist not installed")
def test_installed_fashion_mnist():
    test = load_dataset(DEBIAN, "test")
    assert len(test) == 10_000 and test.image_size == (32, 32) and test.num_classes == 10
    assert torch.equal(torch.bincount(test.labels), torch.full((10,), 1000))
    assert torch.equal(test.images[:, 0], test.images[:, 2]) and not test.images[:, :, :2].any()
