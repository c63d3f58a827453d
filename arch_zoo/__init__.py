"""arch_zoo: a deterministic generator of neural architectures and its evaluation splits.

- ``ArchSpec``: frozen, JSON-serialisable description of a net; ``spec.build()`` makes the ``nn.Module``.
- ``sample(seed, split)``: one random architecture (DAG cells, ResNet, MobileNet, ConvNeXt or ViT family).
- ``SPLITS`` / ``split(name)``: fixed evaluation sets (val, test, wide, deep, dense, bnfree, real);
  ``train_stream()`` yields training nets, never one from an evaluation split.
- ``real``: timm/torchvision networks adapted to 32x32 inputs (``real.build(name)``).

All nets built here trace with ``torch.fx`` and use every parameter in the forward pass.
"""

from . import real
from .generator import GeneratorConfig, sample
from .spec import ArchSpec, SpecError
from .splits import SPLITS, split, train_stream

__all__ = ["ArchSpec", "SpecError", "sample", "split", "SPLITS", "train_stream", "GeneratorConfig", "real"]
