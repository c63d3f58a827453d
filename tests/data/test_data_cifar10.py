import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from graphparam.data import (DatasetNotFoundError, ImageSet, load_cifar10, load_dataset,
                             load_image_folder)

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
JPEG_NPZ = SHARED / "cifar10_jpeg.npz"
needs_shared = pytest.mark.skipif(not JPEG_NPZ.is_file(), reason="shared CIFAR-10 data absent")


@needs_shared
def test_shared_npz_test_split():
    s = load_cifar10(JPEG_NPZ, split="test")
    assert isinstance(s, ImageSet) and len(s) == 10_000
    assert s.images.dtype == torch.uint8 and s.images.shape == (10_000, 3, 32, 32)
    assert s.labels.dtype == torch.int64
    assert torch.equal(torch.bincount(s.labels), torch.full((10,), 1000))
    assert s.classes[0] == "airplane" and s.classes[-1] == "truck"
    mean = s.images.float().mean((0, 2, 3))
    assert torch.allclose(mean, torch.tensor([125.3, 122.9, 113.9]), atol=3.0)
    assert load_cifar10(JPEG_NPZ, split="test") is s  # decoded once, cached
    assert load_dataset(SHARED, "test") is s  # directory holding the npz


def test_missing_path_names_it(tmp_path):
    missing = tmp_path / "nope" / "cifar10_jpeg.npz"
    with pytest.raises(DatasetNotFoundError, match="nope") as e:
        load_cifar10(missing, split="test")
    assert isinstance(e.value, FileNotFoundError)
    assert str(missing) in str(e.value) and "--download" in str(e.value)
    assert "\n" not in str(e.value)
    with pytest.raises(DatasetNotFoundError, match=str(missing)):
        load_dataset(missing, "test")


def test_env_var_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHPARAM_DATA", str(tmp_path / "from-env"))
    with pytest.raises(DatasetNotFoundError, match="from-env"):
        load_cifar10(split="test")


def test_bad_split():
    with pytest.raises(ValueError):
        load_cifar10("whatever", split="val")
    with pytest.raises(ValueError):
        load_dataset("embedded", "train")


def _fake_torchvision_root(root: Path, n=6):
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, n)]
    with open(d / "test_batch", "wb") as f:
        pickle.dump({"data": data, "labels": labels}, f)
    with open(d / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f)
    return data, labels


def test_torchvision_root(tmp_path):
    data, labels = _fake_torchvision_root(tmp_path)
    s = load_cifar10(tmp_path, split="test")
    assert s.name == "cifar10/test" and s.classes[3] == "c3"
    assert torch.equal(s.images, torch.from_numpy(data).view(-1, 3, 32, 32))
    assert s.labels.tolist() == labels
    assert torch.equal(load_dataset(tmp_path / "cifar-10-batches-py", "test").images, s.images)
    with pytest.raises(DatasetNotFoundError, match="data_batch_1"):
        load_cifar10(tmp_path, split="train")


def test_image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls, sizes in {"cat": [(40, 50), (32, 32)], "dog": [(20, 64)]}.items():
        (tmp_path / "test" / cls).mkdir(parents=True)
        for i, (h, w) in enumerate(sizes):
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
                tmp_path / "test" / cls / f"{i}.png")
    s = load_dataset(tmp_path, "test")
    assert s.classes == ("cat", "dog") and s.labels.tolist() == [0, 0, 1]
    assert s.images.shape == (3, 3, 32, 32) and s.images.dtype == torch.uint8
    exact = np.array(Image.open(tmp_path / "test" / "cat" / "1.png"))
    assert torch.equal(s.images[1], torch.from_numpy(exact).permute(2, 0, 1))
    assert load_image_folder(tmp_path / "test", image_size=16).images.shape == (3, 3, 16, 16)
    with pytest.raises(DatasetNotFoundError):
        load_image_folder(tmp_path / "missing")


def test_text_file_named_npz_gives_clear_error(tmp_path):
    from graphparam.errors import DatasetFormatError

    bad = tmp_path / "data.npz"
    bad.write_text("not a numpy archive\n")
    with pytest.raises(DatasetFormatError, match="data.npz is not an npz archive"):
        load_cifar10(bad, split="test")


def test_npz_without_the_cifar10_arrays_gives_clear_error(tmp_path):
    from graphparam.errors import DatasetFormatError

    other = tmp_path / "other.npz"
    np.savez(other, test_x=np.zeros((2, 32, 32, 3), np.uint8), test_y=np.zeros(2, np.int64))
    with pytest.raises(DatasetFormatError, match="missing .*test_jpeg"):
        load_cifar10(other, split="test")
