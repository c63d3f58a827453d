"""Batched augmentation and normalization on uint8 image tensors, on their own device.

Everything here works on whole batches already on the training device (GPU or
CPU): no per-image Python and no PIL. Random numbers are drawn on the CPU from
an optional ``torch.Generator`` and then moved to the images' device, so a
given generator state gives the same crops and flips on every device.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

__all__ = ["CIFAR10_MEAN", "CIFAR10_STD", "normalize", "random_crop_flip", "augment"]

# Per-channel statistics of the CIFAR-10 training set, as fractions of 255.
CIFAR10_MEAN = (125.3 / 255, 122.9 / 255, 113.9 / 255)
CIFAR10_STD = (62.5 / 255, 61.9 / 255, 66.5 / 255)


def _check(images: torch.Tensor) -> None:
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"expected a uint8 batch B x 3 x H x W, got {images.dtype} {tuple(images.shape)}")


@functools.lru_cache(maxsize=16)
def _affine(mean: tuple, std: tuple, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (scale, shift) with x * scale + shift == (x / 255 - mean) / std, cached per device."""
    with torch.inference_mode(False):  # usable both inside and outside inference mode
        scale = torch.tensor([1.0 / (255.0 * s) for s in std], dtype=torch.float32)
        shift = torch.tensor([-m / s for m, s in zip(mean, std)], dtype=torch.float32)
        return scale.view(1, 3, 1, 1).to(device), shift.view(1, 3, 1, 1).to(device)


def normalize(images: torch.Tensor, mean=CIFAR10_MEAN, std=CIFAR10_STD,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 B x 3 x H x W -> float ``(x / 255 - mean) / std`` per channel, on the same device.

    This is the only input transform at evaluation time.
    """
    _check(images)
    scale, shift = _affine(tuple(map(float, mean)), tuple(map(float, std)), images.device)
    out = torch.addcmul(shift, images.to(torch.float32), scale)
    return out if dtype == torch.float32 else out.to(dtype)


def _to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Small CPU tensor -> device without stalling the CUDA stream (pinned, non-blocking)."""
    if device.type == "cpu":
        return t
    if device.type == "cuda":
        t = t.pin_memory()
    return t.to(device, non_blocking=True)


def random_crop_flip(images: torch.Tensor, padding: int = 4, flip: bool = True,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Random ``H x W`` crop of the zero-padded images plus random horizontal flip (p = 0.5).

    uint8 in, uint8 out, same shape and device; each image gets its own offsets,
    as torchvision's ``RandomCrop(32, padding=4)`` + ``RandomHorizontalFlip()``.
    ``generator`` must be a CPU generator (or None for the global RNG).
    """
    _check(images)
    b, c, h, w = images.shape
    dev = images.device
    if b == 0:
        return images.clone()
    offsets = torch.randint(0, 2 * padding + 1, (b, 2), generator=generator)
    flips = (torch.randint(0, 2, (b,), generator=generator) if flip
             else torch.zeros(b, dtype=torch.long))
    draws = _to_device(torch.cat([offsets, flips[:, None]], 1), dev)
    offsets, flips = draws[:, :2], draws[:, 2].bool()
    padded = F.pad(images, (padding, padding, padding, padding)) if padding else images
    rows = offsets[:, :1] + torch.arange(h, device=dev)                    # b x h
    ar = torch.arange(w, device=dev)
    cols = offsets[:, 1:] + torch.where(flips[:, None], w - 1 - ar, ar)    # b x w
    bi = torch.arange(b, device=dev).view(b, 1, 1, 1)
    ci = torch.arange(c, device=dev).view(1, c, 1, 1)
    return padded[bi, ci, rows.view(b, 1, h, 1), cols.view(b, 1, 1, w)]


def augment(images: torch.Tensor, generator: torch.Generator | None = None, padding: int = 4,
            flip: bool = True, mean=CIFAR10_MEAN, std=CIFAR10_STD,
            dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Training transform: :func:`random_crop_flip` then :func:`normalize` (uint8 -> float)."""
    return normalize(random_crop_flip(images, padding, flip, generator), mean, std, dtype)
