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
- ``tv_shufflenet``, ``tv_mobilenetv3``: torchvision's ``ShuffleNetV2`` and ``MobileNetV3``;
- ``timm_byobnet``: ``timm.models.byobnet.ByobNet`` from a drawn ``ByoModelCfg`` (through timm's own RepVGG and
  MobileOne block-config helpers) as RepVGG (grouped or SE variants), MobileOne (1-4 branches, SE), GENet, or a
  ResNet-like net of basic / bottleneck / dark / edge blocks with SE, ECA or global-context attention;
- ``timm_cspnet``: ``timm.models.cspnet.CspNet`` from a drawn ``CspModelCfg`` as CSPResNet(-D), CSPResNeXt,
  CSPDarknet, DarkNet or a CS3 net (dark or edge blocks, SE);
- ``timm_ghostnet``: ``timm.models.ghostnet.GhostNet`` v1, v2 (DFC attention) or v3 (re-parameterisable
  branches) from drawn stage configs and width;
- ``timm_rexnet``: ``timm.models.rexnet.RexNet`` (and ReXNet-R) at drawn width and depth multipliers;
- ``timm_swin``: ``timm.models.swin_transformer.SwinTransformer`` (``img_size=32``, patch 4 or 2, windows that
  divide the token grid, 3 or 4 stages);
- ``timm_dla``: ``timm.models.dla.DLA`` of basic, (grouped) bottleneck or Res2Net blocks at drawn tree levels;
- ``timm_dpn``: ``timm.models.dpn.DPN`` (small or wide, ``b`` blocks);
- ``timm_resnet_variant``: timm's ``ResNet`` with Res2Net (``Bottle2neck``), SK (``SelectiveKernelBasic`` /
  ``Bottleneck``) or ResNeSt (``ResNestBottleneck``) blocks, through ``block=`` and ``block_args=``.

Adaptation to 32x32 inputs is done at construction (each family knows its constructor): the first
factor 4 of early downsampling is removed, as :mod:`graphparam.cifar_stem` does for a finished model
(ImageNet-sized 7x7/4x4 stem convolutions become 3x3 stride 1, stem pools are dropped, and the strides
of a generated arch def are drawn for 32x32), so convnets end on a 4x4 map; transformers and MLPs get
``img_size=32`` and 4-pixel (or 2-pixel) patches.

The native form (``args["native"]``, drawn with probability :attr:`LibraryConfig.native`; the
``library_native`` stream draws only native nets) skips that adaptation and runs the net as its library
builds it for ImageNet, at 32x32, as users often do: ResNet (and its Res2Net/SK/ResNeSt variants), RegNet,
DenseNet, ShuffleNetV2, ByobNet, CspNet, DPN and ReXNet keep their stride-2 stems and stem pools, DLA its
stride-2 level 1, ConvNeXt its 4x4/4 patchify stem and MetaFormer its 7x7/4 stem (32x downsampling: they end
on a 1x1 map); EfficientNet, both MobileNetV3s and GhostNet keep their stems' stride 2 on the stage strides
drawn for 32x32 (they end on 2x2; GhostNet v2's DFC attention could not run on a 1x1 map); ViT/DeiT and the
Mixers take timm's default 16-pixel patches at ``img_size=32`` (2x2 = 4 tokens; ``patch_size`` reads 16 in
the args), Swin timm's 4-pixel patches and 7x7 windows (``patch_size`` 4 and ``window_size`` 7 in the args).
Every family has a native form (a family without one would set :attr:`Family.native` to ``None`` and always be
drawn adapted): no downsampling in these constructors needs more than a 1x1 map, so every native draw builds,
runs and traces at 32x32. The draw comes after all others and only when ``native > 0``, so ``library``,
``library_shallow``, ``library_deep`` and ``real_mix`` drew what they drew before it existed. Adding the
eight families from ``timm_byobnet`` on (28 % of the draws together) changed which family each seed draws:
every library stream (``library*``, ``real_mix``, ``user_mix``) draws differently from that commit on.

Draws are keyed like :class:`arch_zoo.generator._Draw` (sha256 of the key, only ``random()`` and exact
float ops), so a seed gives the same spec everywhere. Depth is drawn first, uniformly in a quantile range
of each family's depth range (:attr:`LibraryConfig.depth`, >1 extrapolates: ``library_deep``), then widths,
skewed narrow, among those whose rough parameter estimate fits :attr:`LibraryConfig.max_params`. The ranges
reach real depths: RepVGG-B's 27 blocks, MobileOne-S0's 21, DLA-169's tree levels, Swin-T's 12 blocks,
DPN-92's 30, CSPDarknet-53's 23, GhostNet's 16.
Configurations whose graphs equal held-out real networks (:mod:`arch_zoo.real_heldout`: timm resnet10t/18/26d/
50/50d, ResNeXt-50, wide ResNet-50, their SE/ECA variants, ViT/DeiT-Ti/S, ConvNeXt-atto/nano, Mixer-S, ResMLP-12,
DenseNet-121, RepVGG-A0, MobileOne-S0, DLA-34, ReXNet-1.0, Res2Net-50-26w-4s, ResNeSt-14d, SKResNet-18, DPN-68,
CSPResNet-50, Swin-T) are never drawn, adapted or native (so no native draw is a held-out model's ``timm`` form
either); the other held-out structures differ in widths or strides no draw can take (GhostNet-1.0 downsamples
in four stages, a GhostNet draw in three).

Every net traces strictly with :func:`graphparam.trace`'s fx front end. PoolFormer v2 and ConvFormer (StarReLU
computes ``x ** 2``) went through its torch.export fallback, about 2 s a net instead of 0.1-0.2 s, until the
registry took Python's power operator (thirteenth session); their graphs changed form then (export gives more
reshapes and, in BatchNorm nets, a constant node per buffer). The families from ``timm_byobnet`` on trace in
0.07-0.3 s a net on average, by family. Swin is built without stochastic depth (timm's ``DropPath`` is a dropout
leaf that leaves no node, so the graph is the same with it).

Layout: :mod:`.spec` (:class:`LibrarySpec`, :class:`LibraryConfig`, :data:`FAMILIES`, :data:`LIBRARY_STREAMS`,
:func:`sample_library`), :mod:`.draw` (the :class:`~.draw.Family` record and the draw and build helpers the
families share), and the families by kind: :mod:`.convnets` (ResNet, ResNet with Res2Net/SK/ResNeSt blocks,
RegNet, DenseNet, ConvNeXt), :mod:`.mobile` (EfficientNet, both MobileNetV3s, ShuffleNetV2), :mod:`.lightweight`
(GhostNet, ReXNet), :mod:`.byob` (ByobNet: RepVGG, MobileOne, GENet, ResNet-like), :mod:`.csp` (CspNet),
:mod:`.multipath` (DLA, DPN), :mod:`.transformers` (ViT, Swin, Mixer, MetaFormer).
:mod:`arch_zoo.library_nets` is an alias of this package.
"""

from .draw import Family
from .spec import FAMILIES, LIBRARY_STREAMS, LibraryConfig, LibrarySpec, count_params, sample_library

__all__ = ["LibrarySpec", "LibraryConfig", "FAMILIES", "LIBRARY_STREAMS", "sample_library", "count_params", "Family"]
