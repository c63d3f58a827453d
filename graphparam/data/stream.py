"""An infinite, deterministic, resumable stream of training batches.

The whole uint8 image set is copied to the training device once; each batch is
an index gather plus :mod:`.augment` on that device, so the data path never
waits on the CPU. Order: every epoch is a fresh permutation of the set drawn
from a seeded CPU ``torch.Generator``; a batch that crosses the end of an epoch
is completed from the next epoch's permutation, so all batches have
``batch_size`` images and every image is seen exactly once per epoch.
Augmentation draws from a second seeded CPU generator. ``state_dict()``
captures the position and both generator states, so a resumed run reproduces
the batches of an uninterrupted one exactly.
"""

from __future__ import annotations

import torch

from .augment import CIFAR10_MEAN, CIFAR10_STD, augment as _augment, normalize
from .imageset import ImageSet

__all__ = ["BatchStream"]

_AUG_SEED_OFFSET = 0x5EED_A06


class BatchStream:
    """``next(stream) -> (x, y)``: x float B x 3 x H x W (normalized), y int64 B, on ``device``."""

    def __init__(self, data: ImageSet, batch_size: int, device: str | torch.device = "cpu",
                 seed: int = 0, augment: bool = True, dtype: torch.dtype = torch.float32,
                 mean=CIFAR10_MEAN, std=CIFAR10_STD):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if len(data) == 0:
            raise ValueError("cannot stream batches from an empty ImageSet")
        self.data_name = data.name
        self.batch_size = int(batch_size)
        self.device = torch.device(device)
        self.augment = bool(augment)
        self.dtype = dtype
        self.mean, self.std = mean, std
        self.images = data.images.to(self.device)
        self.labels = data.labels.to(self.device)
        self.n = len(data)
        self._reset(int(seed))

    # -- position -------------------------------------------------------------------
    def _reset(self, seed: int) -> None:
        self.seed = seed
        self.step = 0        # batches produced so far
        self.epoch = 0       # index of the current epoch
        self._pos = 0        # position inside the current epoch's permutation
        self._perm_gen = torch.Generator().manual_seed(seed)
        self._aug_gen = torch.Generator().manual_seed(seed + _AUG_SEED_OFFSET)
        self._draw_perm()

    def _draw_perm(self) -> None:
        # Snapshot the generator *before* drawing, so state_dict can redraw this permutation.
        self._epoch_gen_state = self._perm_gen.get_state()
        self._perm = torch.randperm(self.n, generator=self._perm_gen).to(self.device)

    @property
    def samples_seen(self) -> int:
        return self.epoch * self.n + self._pos

    @property
    def epochs_done(self) -> float:
        """Fractional number of epochs consumed."""
        return self.epoch + self._pos / self.n

    @property
    def steps_per_epoch(self) -> float:
        return self.n / self.batch_size

    # -- iteration ------------------------------------------------------------------
    def next_indices(self) -> torch.Tensor:
        """Advance by one batch and return its image indices (on ``device``), without gathering."""
        parts, need = [], self.batch_size
        while need:
            take = min(need, self.n - self._pos)
            parts.append(self._perm[self._pos:self._pos + take])
            self._pos += take
            need -= take
            if self._pos == self.n:
                self.epoch += 1
                self._pos = 0
                self._draw_perm()
        self.step += 1
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.gather(self.next_indices())

    def gather(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)`` of the images at ``idx``, augmented as the stream's batches are."""
        x, y = self.images[idx], self.labels[idx]
        if self.augment:
            x = _augment(x, generator=self._aug_gen, mean=self.mean, std=self.std, dtype=self.dtype)
        else:
            x = normalize(x, self.mean, self.std, self.dtype)
        return x, y

    def __iter__(self) -> "BatchStream":
        return self

    # -- checkpointing -----------------------------------------------------------------
    def state_dict(self) -> dict:
        """Position and generator states (CPU tensors and ints; torch.save-able)."""
        return {
            "seed": self.seed,
            "n": self.n,
            "batch_size": self.batch_size,
            "step": self.step,
            "epoch": self.epoch,
            "pos": self._pos,
            "perm_generator": self._epoch_gen_state.clone(),
            "aug_generator": self._aug_gen.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Resume from :meth:`state_dict`; the data set must have the same size.

        The batch size may differ from the saved one (the position is counted in
        images); the next batches then match an uninterrupted run only if it is equal.
        """
        if int(state["n"]) != self.n:
            raise ValueError(f"BatchStream state is for a set of {state['n']} images, "
                             f"this stream has {self.n}")
        self.seed = int(state["seed"])
        self.step = int(state["step"])
        self.epoch = int(state["epoch"])
        self._perm_gen = torch.Generator()
        self._perm_gen.set_state(state["perm_generator"].clone())
        self._draw_perm()
        self._pos = int(state["pos"])
        self._aug_gen = torch.Generator()
        self._aug_gen.set_state(state["aug_generator"].clone())

    def __repr__(self) -> str:
        return (f"BatchStream({self.data_name!r}, n={self.n}, batch_size={self.batch_size}, "
                f"device={self.device}, augment={self.augment}, step={self.step}, "
                f"epoch={self.epochs_done:.3f})")
