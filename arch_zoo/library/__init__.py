"""Training nets built by timm's and torchvision's own constructors, at drawn hyper-parameters.

The generated families of :mod:`arch_zoo.generator` are made of arch_zoo's own blocks; the nets users
bring are made of timm's and torchvision's. ``sample_library(seed, key)`` draws one
:class:`LibrarySpec`: a library family (:data:`FAMILIES`) and the arguments its constructor is called
with, as canonical JSON. ``spec.build()`` calls that constructor, so the modules, block wiring and
initialisation are the library's own:

- ``timm_resnet``: ``timm.models.resnet.ResNet``, BasicBlock or Bottleneck (plain, ResNeXt or wide),
  stems ``''``/``deep``/``deep_tiered``, ``avg_down``, SE or ECA gates, ReLU or SiLU;
- ``timm_efficientnet``: ``timm.models.efficientnet.EfficientNet`` from a drawn block-string arch def
  (``ds``/``ir``/``er``/``cn``/``uir`` blocks) in MobileNetV2, EfficientNet(-Lite), EfficientNetV2,
  MnasNet and MobileNetV4-like styles;
- ``timm_mobilenetv3``: ``timm.models.mobilenetv3.MobileNetV3`` (hard-swish, hard-sigmoid SE, ``_nre`` stages);
- ``timm_convnext``: ``timm.models.convnext.ConvNeXt`` (V1 layer scale or V2 GRN, kernel 3/5/7, conv MLP);
- ``timm_vit``: ``timm.models.vision_transformer.VisionTransformer`` (patch 4 or 2, class token or average
  pool, layer scale, register tokens, QK norm) and DeiT's distilled variant;
- ``timm_mixer``: ``timm.models.mlp_mixer.MlpMixer`` as MLP-Mixer, ResMLP or gMLP;
- ``timm_metaformer``: ``timm.models.metaformer.MetaFormer`` as PoolFormer v1/v2 or ConvFormer;
- ``timm_regnet``: ``timm.models.regnet.RegNet`` from a drawn ``RegNetCfg`` (X, or Y with SE);
- ``timm_densenet``: ``timm.models.densenet.DenseNet`` (growth rate, block config, stems);
- ``tv_shufflenet``, ``tv_mobilenetv3``: torchvision's ``ShuffleNetV2`` and ``MobileNetV3``.

Adaptation to 32x32 inputs is done at construction (each family knows its constructor): the first
factor 4 of early downsampling is removed, as :mod:`graphparam.cifar_stem` does for a finished model
(ImageNet-sized 7x7/4x4 stem convolutions become 3x3 stride 1, stem pools are dropped, and the strides
of a generated arch def are drawn for 32x32), so convnets end on a 4x4 map; transformers and MLPs get
``img_size=32`` and 4-pixel (or 2-pixel) patches.

The native form (``args["native"]``, drawn with probability :attr:`LibraryConfig.native`; the
``library_native`` stream draws only native nets) skips that adaptation and runs the net as its library
builds it for ImageNet, at 32x32, as users often do: ResNet, RegNet, DenseNet and ShuffleNetV2 keep their
stride-2 stems and stem pools, ConvNeXt its 4x4/4 patchify stem and MetaFormer its 7x7/4 stem (32x
downsampling: they end on a 1x1 map); EfficientNet and both MobileNetV3s keep their stems' stride 2 on the
stage strides drawn for 32x32 (they end on 2x2); ViT/DeiT and the Mixers take timm's default 16-pixel
patches at ``img_size=32`` (2x2 = 4 tokens; ``patch_size`` reads 16 in the args). Every family has a native
form (a family without one would set :attr:`Family.native` to ``None`` and always be drawn adapted): no
downsampling in these constructors needs more than a 1x1 map, so every native draw builds, runs and traces
at 32x32. The draw comes after all others and only when ``native > 0``, so ``library``,
``library_shallow``, ``library_deep`` and ``real_mix`` draw what they drew before it existed.

Draws are keyed like :class:`arch_zoo.generator._Draw` (sha256 of the key, only ``random()`` and exact
float ops), so a seed gives the same spec everywhere. Depth is drawn first, uniformly in a quantile range
of each family's depth range (:attr:`LibraryConfig.depth`, >1 extrapolates: ``library_deep``), then widths,
skewed narrow, among those whose rough parameter estimate fits :attr:`LibraryConfig.max_params`.
Configurations whose graphs equal held-out real networks (:mod:`arch_zoo.real_heldout`: timm resnet10t/18/26d/
50/50d, ResNeXt-50, wide ResNet-50, their SE/ECA variants, ViT/DeiT-Ti/S, ConvNeXt-atto/nano, Mixer-S, ResMLP-12,
DenseNet-121) are never drawn, adapted or native (so no native draw is a held-out model's ``timm`` form
either); the other held-out structures differ in widths no draw can take.

Every net traces strictly with :func:`graphparam.trace`; PoolFormer v2 and ConvFormer (StarReLU computes
``x ** 2``, an op graphparam's fx front end does not register) go through its torch.export fallback, about 1 s
instead of 0.1 s.

Layout: :mod:`.spec` (:class:`LibrarySpec`, :class:`LibraryConfig`, :data:`FAMILIES`, :data:`LIBRARY_STREAMS`,
:func:`sample_library`), :mod:`.draw` (the :class:`~.draw.Family` record and the draw and build helpers the
families share), and the families by kind: :mod:`.convnets` (ResNet, RegNet, DenseNet, ConvNeXt),
:mod:`.mobile` (EfficientNet, both MobileNetV3s, ShuffleNetV2), :mod:`.transformers` (ViT, Mixer, MetaFormer).
:mod:`arch_zoo.library_nets` is an alias of this package.
"""

from .draw import Family
from .spec import FAMILIES, LIBRARY_STREAMS, LibraryConfig, LibrarySpec, count_params, sample_library

__all__ = ["LibrarySpec", "LibraryConfig", "FAMILIES", "LIBRARY_STREAMS", "sample_library", "count_params", "Family"]
