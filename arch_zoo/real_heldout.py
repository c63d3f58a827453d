"""A held-out evaluation set of real networks: timm and torchvision classifiers as users bring them.

Each model comes in two forms, both run on 32x32 images with 10 classes:

- ``timm``: as its library builds it (``graphparam.create_model(ref, num_classes=10, input_size=INPUT_SIZE)``;
  timm models with a fixed input size, ViT / DeiT / Swin / Mixer, are built for 32x32 through ``img_size``);
- ``cifar_stem``: the same with ``cifar_stem=True`` (the first 4x of the early downsampling removed,
  :mod:`graphparam.cifar_stem`, or 4-pixel patches for the ``img_size`` models).

The list and the structure hashes (:meth:`graphparam.graph.ArchGraph.structure_hash`) of both forms'
traced graphs are committed in ``arch_zoo/splits/real_heldout.json``; :func:`heldout_hashes` gives them
to a training stream, which must skip any net whose graph hashes to one of them. Regenerate the file
deliberately (a new timm, torch or tracer can change the graphs; ``--check`` says whether they did)::

    python -m arch_zoo.real_heldout --write   # about a minute on one CPU core
    python -m arch_zoo.real_heldout --check   # the committed hashes against this torch/timm/tracer

Candidates that do not build or trace in both forms, or repeat an earlier candidate's structure in
both, are left out; the file lists them under ``"dropped"`` with the reason. With timm 1.0.31,
torch 2.14 and torchvision they are:

- ``timm:ghostnetv2_100``: its ``timm`` form does not run on 32x32 (the DFC attention's 2x2 average
  pool meets the last stage's 1x1 map); its ``cifar_stem`` form does;
- ``timm:inception_v3``: its ``timm`` form does not run on 32x32 (unpadded convolutions and poolings
  shrink the map below a 3x3 kernel);
- ``timm:efficientvit_b0``: torch.fx meets ``wrap_with_autocast`` in its linear attention, an op the
  registry does not know;
- ``timm:deit_tiny_patch16_224``, ``timm:deit_small_patch16_224``: the same structure as the ViT of
  their size (DeiT differs in training, not architecture); the distilled DeiT stays.

Swin (``swin_tiny_patch4_window7_224``) has 4-pixel patches already, so its two forms are one
structure. timm's ``resnet18`` and torchvision's are one structure too (only timm's is listed).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from functools import cache
from pathlib import Path

__all__ = ["CANDIDATES", "FORMS", "HELDOUT_PATH", "build", "structure_hashes", "generate", "load", "models",
           "heldout_hashes", "check"]

HELDOUT_PATH = Path(__file__).with_name("splits") / "real_heldout.json"
INPUT_SIZE = (3, 32, 32)
NUM_CLASSES = 10
#: the two forms of every model: as built, and with the CIFAR stem
FORMS = ("timm", "cifar_stem")

#: (reference, family) of every candidate, in the order of the committed list
CANDIDATES: tuple[tuple[str, str], ...] = (
    *((f"timm:{n}", "resnet") for n in ("resnet18", "resnet50", "resnet50d", "resnet10t", "resnet26d",
                                         "resnext50_32x4d", "wide_resnet50_2")),
    *((f"timm:{n}", "resnet_variant") for n in ("res2net50_26w_4s", "resnest14d", "skresnet18")),
    *((f"timm:{n}", "se_eca") for n in ("seresnext26d_32x4d", "ecaresnet26t", "legacy_seresnet18")),
    *((f"timm:{n}", "mobilenet") for n in ("mobilenetv2_100", "mobilenetv3_small_100", "mobilenetv3_large_100",
                                            "mobilenetv4_conv_small")),
    ("torchvision:mobilenet_v3_small", "mobilenet"),
    *((f"timm:{n}", "efficientnet") for n in ("efficientnet_b0", "efficientnet_lite0", "tf_efficientnet_b0",
                                               "efficientnetv2_rw_t", "tf_efficientnetv2_b0")),
    *((f"timm:{n}", "nas") for n in ("mnasnet_100", "fbnetc_100", "mixnet_s")),
    ("torchvision:mnasnet0_5", "nas"),
    *((f"timm:{n}", "regnet") for n in ("regnetx_002", "regnety_002", "regnety_008")),
    ("torchvision:regnet_y_400mf", "regnet"),
    ("timm:densenet121", "densenet"),
    ("torchvision:densenet121", "densenet"),
    *((f"timm:{n}", "convnext") for n in ("convnext_atto", "convnext_nano", "convnextv2_atto")),
    *((f"timm:{n}", "ghostnet") for n in ("ghostnet_100", "ghostnetv2_100", "repghostnet_050")),
    *((f"timm:{n}", "repvgg") for n in ("repvgg_a0", "mobileone_s0")),
    *((f"timm:{n}", "dla") for n in ("dla34", "dla46_c")),
    ("timm:hrnet_w18_small", "hrnet"),
    *((f"timm:{n}", "mlp_mixer") for n in ("mixer_s16_224", "resmlp_12_224", "gmlp_ti16_224")),
    *((f"timm:{n}", "poolformer") for n in ("poolformer_s12", "poolformerv2_s12")),
    *((f"timm:{n}", "vit") for n in ("vit_tiny_patch16_224", "vit_small_patch16_224", "deit_tiny_patch16_224",
                                      "deit_small_patch16_224", "deit_tiny_distilled_patch16_224")),
    ("timm:swin_tiny_patch4_window7_224", "swin"),
    ("torchvision:shufflenet_v2_x1_0", "other_cnn"),
    ("torchvision:squeezenet1_1", "other_cnn"),
    *((f"timm:{n}", "other_cnn") for n in ("inception_v3", "cspresnet50", "dpn68", "rexnet_100")),
    *((f"timm:{n}", "hybrid") for n in ("mobilevit_xxs", "fastvit_t8", "efficientvit_b0")),
)


def build(ref: str, form: str, num_classes: int = NUM_CLASSES):
    """A fresh (default-initialized) ``nn.Module`` of one model in one of :data:`FORMS`."""
    from graphparam.sources import create_model

    if form not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    return create_model(ref, num_classes=num_classes, input_size=INPUT_SIZE, cifar_stem=form == "cifar_stem")


def structure_hashes(ref: str) -> dict[str, str]:
    """``{form: structure hash}`` of a model's two forms, traced at 32x32 (errors propagate)."""
    from graphparam.graph import trace

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for form in FORMS:
            out[form] = trace(build(ref, form), INPUT_SIZE, name=ref).structure_hash()
    return out


def generate(candidates=CANDIDATES, progress: bool = True) -> dict:
    """The content of ``real_heldout.json`` for ``candidates``: ``models`` (ref, family), ``hashes``
    (ref -> form -> hash), ``dropped`` (ref -> reason) and the library versions it was made with."""
    import timm
    import torch
    import torchvision

    from graphparam.errors import first_line

    kept, hashes, dropped, by_structure = [], {}, {}, {}
    for ref, family in candidates:
        try:
            h = structure_hashes(ref)
        except Exception as exc:  # noqa: BLE001 - one unbuildable candidate is dropped, with its reason
            dropped[ref] = first_line(exc, limit=300)
        else:
            key = tuple(h[f] for f in FORMS)
            if key in by_structure:
                dropped[ref] = f"same structure as {by_structure[key]} in both forms"
            else:
                by_structure[key] = ref
                kept.append({"ref": ref, "family": family})
                hashes[ref] = h
        if progress:
            print(f"{ref}: {'dropped: ' + dropped[ref] if ref in dropped else 'ok'}", file=sys.stderr, flush=True)
    return {"models": kept, "hashes": hashes, "dropped": dropped,
            "versions": {"torch": torch.__version__.split("+")[0], "timm": timm.__version__,
                         "torchvision": torchvision.__version__.split("+")[0]},
            "input_size": list(INPUT_SIZE), "num_classes": NUM_CLASSES}


@cache
def load() -> dict:
    """The committed ``real_heldout.json``."""
    with open(HELDOUT_PATH) as f:
        return json.load(f)


def models() -> list[dict]:
    """The committed list: ``[{"ref": "timm:resnet50", "family": "resnet"}, ...]``."""
    return [dict(m) for m in load()["models"]]


def heldout_hashes() -> frozenset[str]:
    """Every committed structure hash, both forms of every held-out model: a training stream skips a
    net whose ``trace(net, (3, 32, 32)).structure_hash()`` is among them."""
    return frozenset(h for forms in load()["hashes"].values() for h in forms.values())


def check(progress: bool = True) -> list[str]:
    """References whose regenerated hashes differ from the committed ones (or that no longer build)."""
    stale = []
    for ref, committed in load()["hashes"].items():
        try:
            now = structure_hashes(ref)
        except Exception as exc:  # noqa: BLE001
            now = {"error": str(exc)}
        if now != committed:
            stale.append(ref)
        if progress:
            print(f"{ref}: {'ok' if now == committed else 'CHANGED'}", file=sys.stderr, flush=True)
    return stale


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help=f"regenerate {HELDOUT_PATH.name} from CANDIDATES")
    group.add_argument("--check", action="store_true", help="compare the committed hashes with regenerated ones")
    p.add_argument("--out", default=str(HELDOUT_PATH), help="where --write writes (default: %(default)s)")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    if args.check:
        stale = check()
        print(f"{len(stale)} of {len(load()['hashes'])} changed" + (f": {', '.join(stale)}" if stale else ""))
        return 1 if stale else 0
    res = generate()
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    families = sorted({m["family"] for m in res["models"]})
    print(f"wrote {args.out}: {len(res['models'])} models in {len(families)} families, {len(res['dropped'])} dropped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
