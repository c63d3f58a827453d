"""arch_zoo: a deterministic generator of neural architectures and its evaluation splits.

- ``ArchSpec``: frozen, JSON-serialisable description of a net; ``spec.build()`` makes the ``nn.Module``.
- ``sample(seed, split)``: one random architecture (DAG cells, ResNet, MobileNet, ConvNeXt or ViT family).
- ``SPLITS`` / ``split(name)``: fixed evaluation sets (val, test, wide, deep, dense, bnfree, real);
  ``train_stream()`` yields training nets, never one from an evaluation split.
- ``real``: timm/torchvision networks adapted to 32x32 inputs (``real.build(name)``).
- ``real_heldout``: a held-out list of timm/torchvision models, as built and with a CIFAR stem;
  ``heldout_hashes()`` are their graphs' structure hashes, for a training stream to skip.
- ``library``: ``sample_library(seed)`` draws a ``LibrarySpec``, a net built by timm's or torchvision's
  own constructor at drawn hyper-parameters (training streams ``library``, ``library_shallow``,
  ``library_deep``, ``library_native`` (ImageNet stems kept), the half-and-half ``real_mix``, the
  thirds of ``user_mix`` and its library-only ``library_mix``; ``stream_names()`` lists every stream).

All nets built here trace with ``torch.fx`` and use every parameter in the forward pass.
"""

from . import real, real_heldout
from .generator import GeneratorConfig, sample
from .library import LibrarySpec, sample_library
from .real_heldout import heldout_hashes
from .spec import ArchSpec, SpecError
from .splits import SPLITS, split, stream_names, train_stream

__all__ = ["ArchSpec", "SpecError", "sample", "split", "SPLITS", "train_stream", "GeneratorConfig", "real",
           "real_heldout", "heldout_hashes", "LibrarySpec", "sample_library", "stream_names"]
