"""Does BatchNorm's eps explain a held-out model's low zero-shot? The GHN's prediction for the held-out real models
whose BatchNorm layers use another eps than PyTorch's 1e-5 (TF ports, torchvision's MobileNetV3, DPN: 1e-3),
measured with their own eps and with every BatchNorm's eps set to 1e-5: the same weights, train-mode BatchNorm.

The graph does not carry eps, so the GHN predicts the same tensors either way; a large difference means that the
predicted nets lean on channels whose batch variance is below eps (a near-constant channel that BatchNorm blows up
at 1e-5 and damps at 1e-3), and the share of such channels is reported beside.

    python experiments/bn_eps.py --ghn cifar10 --data DATA
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_probe_args, modules_of_kind, probe_inputs, provenance, write_results  # noqa: E402


def bn_layers(model) -> list:
    return modules_of_kind(model, ("batch_norm",))


def low_variance_share(model, images, below: float) -> float:
    """Share of BatchNorm input channels whose batch variance over ``images`` is below ``below``."""
    import torch

    variances = []
    hooks = [m.register_forward_hook(lambda m, inp, out: variances.append(
        inp[0].detach().transpose(0, 1).flatten(1).var(1))) for m in bn_layers(model)]
    try:
        with torch.no_grad():
            model.train()(images)
    finally:
        for h in hooks:
            h.remove()
    v = torch.cat(variances)
    return float((v < below).float().mean())


def probe(ghn, ref: str, data, probe_images) -> dict | None:
    import torch

    from arch_zoo import real_heldout
    from graphparam.evaluate import evaluate

    torch.manual_seed(0)
    model = real_heldout.build(ref, "timm")
    eps = sorted({m.eps for m in bn_layers(model)})
    if not eps or eps == [1e-5]:
        return None
    ghn.predict(model, real_heldout.INPUT_SIZE)
    own = evaluate(model, data, progress=False).top1
    share = low_variance_share(model, probe_images, max(eps))
    for m in bn_layers(model):
        m.eps = 1e-5
    return {"eps": eps, "top1_own_eps": round(100 * own, 2),
            "top1_eps_1e-5": round(100 * evaluate(model, data, progress=False).top1, 2),
            "share_below_eps": round(share, 4)}


def markdown(res: dict, head: list[str]) -> str:
    lines = ["# BatchNorm eps and the held-out models", "", *head,
             f"GHN `{res['ghn']}` (fingerprint {res['fingerprint']}); {res['images']} test images, models as timm / "
             f"torchvision build them, train-mode BatchNorm; channel share over {res['probe_images']} images.", "",
             "| model | eps | top-1 % with its eps | with eps 1e-5 | change | BN input channels with variance below its eps |",
             "|---|---|---:|---:|---:|---:|"]
    for ref, r in res["models"].items():
        lines.append(f"| {ref} | {', '.join(f'{e:g}' for e in r['eps'])} | {r['top1_own_eps']:.2f} | "
                     f"{r['top1_eps_1e-5']:.2f} | {r['top1_eps_1e-5'] - r['top1_own_eps']:+.2f} | "
                     f"{100 * r['share_below_eps']:.1f} % |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_probe_args(p, "bn_eps")
    p.add_argument("--probe-images", type=int, default=256, help="images whose batch variance is measured")
    args = p.parse_args(argv)
    ghn, data = probe_inputs(p, args)
    import torch

    from arch_zoo import real_heldout
    from graphparam.data.augment import normalize

    cfg = ghn.pretrained_cfg
    probe_images = normalize(data.images[:args.probe_images], mean=cfg.mean, std=cfg.std, dtype=torch.float32)
    res = {"ghn": args.ghn, "fingerprint": ghn.fingerprint(), "images": len(data),
           "probe_images": len(probe_images), "models": {}}
    for m in real_heldout.models():
        r = probe(ghn, m["ref"], data, probe_images)
        if r is not None:
            res["models"][m["ref"]] = r
            print(m["ref"], r, file=sys.stderr, flush=True)
    write_results(args.out, res, markdown(res, provenance(__file__, argv)))
    print(f"wrote {args.out}.{{json,md}}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
