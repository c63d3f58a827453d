"""Would norm scales and shifts beyond the decoder's bounds help? A GHN's prediction for held-out real models as
timm builds them, then every predicted norm scale and shift multiplied by fixed factors, zero-shot top-1 each time.

The decoder bounds norm scales to ``1 ± scale_bound`` and shifts to ``± shift_bound`` (0.5 and 0.1); the
LayerNorm families predict the lower bounds exactly (scale 0.5, shift -0.1). If going past the bounds (scale
x 0.5 = 0.25, shift x 2 = -0.2) lifted their accuracy, wider bounds would be a lever for training. The norms
scaled are a net's LayerNorm / GroupNorm layers where it has them, else its BatchNorm layers.

    python experiments/norm_bounds.py --ghn experiments/results/campaign46_ghn --data DATA
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_probe_args, modules_of_kind, probe_inputs, provenance, write_results  # noqa: E402

MODELS = ("timm:vit_tiny_patch16_224", "timm:convnext_atto", "timm:mixer_s16_224", "timm:poolformer_s12",
          "timm:resnet18", "timm:efficientnet_b0", "timm:resnet50")
VARIANTS = {"prediction": (1.0, 1.0), "scale x0.5": (0.5, 1.0), "scale x0.75": (0.75, 1.0), "scale x1.5": (1.5, 1.0),
            "shift x0": (1.0, 0.0), "shift x2": (1.0, 2.0), "scale x0.5, shift x2": (0.5, 2.0)}


def norm_layers(model) -> list:
    """The model's layer / group norms with an affine scale, else its batch norms (kinds of the op registry)."""
    def affine(kinds):
        return [m for m in modules_of_kind(model, kinds) if getattr(m, "weight", None) is not None]

    return affine(("layer_norm", "group_norm")) or affine(("batch_norm",))


def probe(ghn, ref: str, data) -> dict:
    import torch

    from arch_zoo import real_heldout
    from graphparam.evaluate import evaluate

    torch.manual_seed(0)
    model = real_heldout.build(ref, "timm")
    ghn.predict(model, real_heldout.INPUT_SIZE)
    norms = norm_layers(model)
    scales = [n.weight.detach().clone() for n in norms]
    shifts = [n.bias.detach().clone() for n in norms]
    top1 = {}
    for name, (a, b) in VARIANTS.items():
        with torch.no_grad():
            for n, w, s in zip(norms, scales, shifts):
                n.weight.copy_(a * w)
                n.bias.copy_(b * s)
        top1[name] = round(100 * evaluate(model, data, progress=False).top1, 2)
    return {"norm": type(norms[0]).__name__, "layers": len(norms),
            "scale_mean": round(float(torch.cat(scales).mean()), 3),
            "shift_mean": round(float(torch.cat(shifts).mean()), 3), "top1": top1}


def markdown(res: dict, head: list[str]) -> str:
    names = list(VARIANTS)
    lines = ["# Norm scales and shifts beyond the decoder's bounds", "", *head,
             f"GHN `{res['ghn']}` (fingerprint {res['fingerprint']}); {res['images']} test images, models as timm "
             "builds them. Top-1 % with every predicted norm scale / shift multiplied as the column says.", "",
             "| model | norms | mean scale | mean shift | " + " | ".join(names) + " | best change |",
             "|---|---|---:|---:|" + "---:|" * (len(names) + 1)]
    for ref, r in res["models"].items():
        best = max(names[1:], key=lambda n: r["top1"][n])
        lines.append(f"| {ref} | {r['layers']} {r['norm']} | {r['scale_mean']:.3f} | {r['shift_mean']:.3f} | "
                     + " | ".join(f"{r['top1'][n]:.2f}" for n in names)
                     + f" | {best}: {r['top1'][best] - r['top1'][names[0]]:+.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_probe_args(p, "norm_bounds")
    p.add_argument("--models", nargs="+", default=list(MODELS), help="held-out references")
    args = p.parse_args(argv)
    ghn, data = probe_inputs(p, args)
    res = {"ghn": args.ghn, "fingerprint": ghn.fingerprint(), "images": len(data), "variants": VARIANTS, "models": {}}
    for ref in args.models:
        res["models"][ref] = probe(ghn, ref, data)
        print(ref, res["models"][ref]["top1"], file=sys.stderr, flush=True)
    write_results(args.out, res, markdown(res, provenance(__file__, argv)))
    print(f"wrote {args.out}.{{json,md}}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
