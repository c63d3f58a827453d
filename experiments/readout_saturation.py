"""How saturated are a GHN's bounded read-outs? The raw (pre-``tanh``) vector elements (biases, norm scales and
shifts, layer scales) and weight-gain outputs on a fixed set of nets, per GHN.

A GHN is a checkpoint directory, a registered name, or ``REV:PATH`` (the checkpoint at ``PATH`` in git revision
``REV``, e.g. ``3ff76db:graphparam/checkpoints/cifar10``, the shipped GHN of that commit). Nets: the first 8
``val`` nets of the zoo and held-out real models as timm builds them (``--models``), in all and per net. ``tanh`` of a raw value beyond 3.8 is
within 0.001 of its bound and passes less than 0.2 % of its gradient.

    python experiments/readout_saturation.py --ghn 6eb15df:graphparam/checkpoints/cifar10 \\
        3ff76db:graphparam/checkpoints/cifar10 experiments/results/campaign21_ghn experiments/results/campaign25_ghn
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, RESULTS, command_line, provenance, write_results  # noqa: E402

REAL = ("timm:resnet50", "timm:convnext_atto", "timm:vit_tiny_patch16_224")
PER_NET = ("timm:resnet18", "timm:efficientnet_b0", "timm:mobileone_s0", "timm:poolformer_s12", "timm:mixer_s16_224",
           "timm:swin_tiny_patch4_window7_224")  # more families, for the per-net table
SATURATED = 3.8  # |raw| beyond this: tanh within 0.001 of +-1


def checkout(ref: str, tmp: Path) -> str:
    """A ``REV:PATH`` checkpoint written out of git into ``tmp``; other refs unchanged."""
    if ":" not in ref or Path(ref).exists():
        return ref
    rev, path = ref.split(":", 1)
    out = tmp / rev
    out.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "model.safetensors"):
        blob = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{path}/{name}"], check=True,
                              capture_output=True).stdout
        (out / name).write_bytes(blob)
    return str(out)


def graphs_of_nets(models: list[str]) -> dict[str, object]:
    """``{name: graph}``: the first 8 ``val`` nets and ``models`` as timm builds them at 32x32."""
    from graphparam.graph import trace
    from graphparam.sources import create_model
    from graphparam.train.validate import val_archs

    graphs = {f"val:{i}": a.graph for i, a in enumerate(val_archs(8, "cpu", 10, (3, 32, 32)))}
    return graphs | {ref: trace(create_model(ref, num_classes=10, input_size=(3, 32, 32)), (3, 32, 32))
                     for ref in models}


def stats(raw) -> dict:
    import torch

    a = raw.abs()
    q = torch.quantile(raw, torch.tensor([0.1, 0.5, 0.9])).tolist() if raw.numel() else [float("nan")] * 3
    return {"n": int(raw.numel()), "median_abs": round(float(a.median()), 3), "q10": round(q[0], 3),
            "q50": round(q[1], 3), "q90": round(q[2], 3), "saturated": round(float((a > SATURATED).float().mean()), 4)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ghn", nargs="+", required=True, help="checkpoints: directory, registered name or REV:PATH")
    p.add_argument("--out", default=str(RESULTS / "readout_saturation"), help="output stem")
    p.add_argument("--models", nargs="+", default=[*REAL, *PER_NET],
                   help="held-out models (as timm builds them) beside the val nets")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)

    import torch

    from graphparam.model import GHN
    from graphparam.train.desaturate import readout_raw

    torch.set_num_threads(args.threads)
    graphs = graphs_of_nets(args.models)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for ref in args.ghn:
            ghn = GHN.from_pretrained(checkout(ref, Path(tmp))).eval()
            raws = {name: readout_raw(ghn, [g]) for name, g in graphs.items()}  # the totals are their union
            vec, gain = (torch.cat([raw[k] for raw in raws.values()]) for k in (0, 1))
            per_net = {name: dict(zip(("vectors", "gains"), map(stats, raw))) for name, raw in raws.items()}
            rows.append({"ghn": ref, "fingerprint": ghn.fingerprint(),
                         "steps": (ghn.pretrained_cfg.training or {}).get("steps"),
                         "vectors": stats(vec), "gains": stats(gain), "per_net": per_net})
            print(f"{ref}: vectors median |raw| {rows[-1]['vectors']['median_abs']}, saturated "
                  f"{100 * rows[-1]['vectors']['saturated']:.1f} %; gains {rows[-1]['gains']['median_abs']}, "
                  f"{100 * rows[-1]['gains']['saturated']:.1f} %", flush=True)
    lines = ["# Saturation of the GHN's bounded read-outs", "", *provenance(__file__, argv),
             f"Raw (pre-tanh) outputs on the first 8 `val` nets and {', '.join(args.models)} (as timm builds them, "
             "32x32). "
             f"Saturated: |raw| > {SATURATED} (tanh within 0.001 of its bound, under 0.2 % of the gradient passes).",
             "", "| GHN | fingerprint | vectors: median abs raw | q10 / q50 / q90 | saturated | gains: median abs raw "
             "| q10 / q50 / q90 | saturated |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        v, g = r["vectors"], r["gains"]
        lines.append(f"| `{r['ghn']}` | {r['fingerprint']} | {v['median_abs']} | {v['q10']} / {v['q50']} / {v['q90']} "
                     f"| {100 * v['saturated']:.1f} % | {g['median_abs']} | {g['q10']} / {g['q50']} / {g['q90']} "
                     f"| {100 * g['saturated']:.1f} % |")
    for r in rows:
        lines += ["", f"## Per net: `{r['ghn']}`", "", "| net | vectors: median raw | saturated | gains: median raw "
                  "| saturated |", "|---|---:|---:|---:|---:|"]
        for name, s in r["per_net"].items():
            v, g = s["vectors"], s["gains"]
            lines.append(f"| {name} | {v['q50']} | {100 * v['saturated']:.1f} % | {g['q50']} | "
                         f"{100 * g['saturated']:.1f} % |")
    write_results(args.out, {"command": command_line(__file__, argv), "nets": ["val[:8]", *args.models], "rows": rows},
                  "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
