"""Trace coverage over timm families and every torchvision classification model.

    python experiments/coverage.py                    # all, writes experiments/results/coverage.{md,json}
    python experiments/coverage.py --only timm --models resnet18 vit_tiny_patch16_224

Each model is traced at its default input size; a model counts as covered when tracing
succeeds with strict=True and the graph owns exactly the model's parameter count.
Results are appended as they come, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import warnings
from pathlib import Path

import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, command_line, write_results  # noqa: E402

import graphparam.graph as G  # noqa: E402
from graphparam.errors import first_line  # noqa: E402

# At least one model per family the issue names, and many more; small variants keep the run short.
TIMM_MODELS = [
    "resnet18", "resnet50", "resnet101", "resnext50_32x4d", "wide_resnet50_2", "resnetv2_50", "resnet50d",
    "seresnet50", "ecaresnet26t", "resnest14d", "res2net50_26w_4s", "skresnet18", "cspresnet50", "cspdarknet53",
    "darknet53", "dpn68", "densenet121", "efficientnet_b0", "efficientnet_lite0", "efficientnetv2_rw_t",
    "tf_efficientnetv2_b0", "mobilenetv2_100", "mobilenetv3_small_100", "mobilenetv3_large_100", "mnasnet_100",
    "fbnetc_100", "spnasnet_100", "mixnet_s", "tinynet_a", "lcnet_050", "hardcorenas_a", "rexnet_100",
    "regnetx_002", "regnety_004", "regnetz_b16", "convnext_atto", "convnext_tiny", "convnextv2_atto",
    "vit_tiny_patch16_224", "vit_base_patch16_224", "deit_tiny_patch16_224", "deit_tiny_distilled_patch16_224",
    "swin_tiny_patch4_window7_224", "swinv2_cr_tiny_ns_224", "mixer_b16_224", "gmlp_ti16_224", "resmlp_12_224",
    "poolformer_s12", "poolformerv2_s12", "ghostnet_100", "ghostnetv2_100", "levit_128s", "levit_conv_128s",
    "coat_tiny", "coat_lite_tiny", "convmixer_1024_20_ks9_p14", "repvgg_a0", "repvit_m1", "mobileone_s0", "dla34",
    "hrnet_w18_small", "inception_v3", "inception_v4", "xception41", "xcit_nano_12_p16_224", "beit_base_patch16_224",
    "maxvit_nano_rw_256", "coatnet_nano_rw_224", "edgenext_xx_small", "efficientformer_l1", "efficientformerv2_s0",
    "mobilevit_xxs", "mobilevitv2_050", "nfnet_l0", "nf_resnet26", "dm_nfnet_f0", "cait_xxs24_224", "pit_ti_224",
    "twins_pcpvt_small", "twins_svt_small", "pvt_v2_b0", "fastvit_t8", "hiera_tiny_224", "crossvit_tiny_240",
    "tnt_s_patch16_224", "visformer_tiny", "convit_tiny", "gcvit_xxtiny", "davit_tiny", "nest_tiny",
    "focalnet_tiny_srf", "tiny_vit_5m_224", "efficientvit_b0", "efficientvit_m0", "inception_next_tiny",
    "mambaout_femto", "starnet_s1", "hgnet_tiny", "hgnetv2_b0", "ese_vovnet19b_dw", "selecsls42b", "gernet_s",
    "vgg11", "eva02_tiny_patch14_224", "sequencer2d_s", "volo_d1_224", "bat_resnext26ts", "botnet26t_256",
    "halonet26t", "lambda_resnet26t", "rdnet_tiny", "nextvit_small", "tresnet_m",
]


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def build(source: str, name: str) -> tuple[torch.nn.Module, tuple[int, ...]]:
    if source == "timm":
        import timm

        model = timm.create_model(name, pretrained=False)
        size = tuple(model.pretrained_cfg.get("input_size", (3, 224, 224)))
    else:
        import torchvision

        model = torchvision.models.get_model(name, weights=None)
        size = (3, 299, 299) if name == "inception_v3" else (3, 224, 224)
    return model, size


def check(source: str, name: str, timeout: int) -> dict:
    row: dict = {"source": source, "model": name}
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        model, size = build(source, name)
        model.eval()
        row["input_size"] = list(size)
        row["params"] = sum(p.numel() for p in model.parameters())
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = G.trace(model, size)
        row["seconds"] = round(time.perf_counter() - t0, 3)
        row.update(nodes=len(graph.nodes), param_nodes=len(graph.param_nodes), owned=graph.num_params,
                   frontend=graph.frontend, unknown=sum(n.kind == "unknown" for n in graph.nodes))
        row["covered"] = graph.num_params == row["params"] and row["unknown"] == 0
    except _Timeout:
        row.update(covered=False, error=f"timeout after {timeout}s")
    except Exception as exc:  # recorded, not raised: this is a survey
        row.update(covered=False, error=first_line(exc, limit=300))
    finally:
        signal.alarm(0)
    return row


def write_report(rows: list[dict], command: str) -> None:
    lines = ["# Trace coverage", "", f"Command: `{command}`", "",
             "Covered = traced with `strict=True` and the graph owns exactly the model's parameter count "
             "(every tensor owned by one node). Time is trace + IR at the model's default input size on this "
             "2-core CPU, measured while other jobs shared the cores (so an upper bound; see bench_trace.md for "
             "quiet timings). The front end is fx unless torch.fx could not follow the model's Python.", ""]
    for source in ("timm", "torchvision"):
        part = [r for r in rows if r["source"] == source]
        if not part:
            continue
        ok = sum(r["covered"] for r in part)
        lines += [f"## {source}: {ok}/{len(part)} covered ({100 * ok / len(part):.1f} %)", "",
                  "| model | covered | front end | nodes | param nodes | params | owned | time (s) | error |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in part:
            lines.append(f"| {r['model']} | {'yes' if r['covered'] else 'NO'} | {r.get('frontend', '')} | "
                         f"{r.get('nodes', '')} | {r.get('param_nodes', '')} | {r.get('params', '')} | "
                         f"{r.get('owned', '')} | {r.get('seconds', '')} | {r.get('error', '')} |")
        lines.append("")
    write_results(RESULTS / "coverage", rows, "\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["timm", "torchvision"])
    ap.add_argument("--models", nargs="*", help="subset of model names")
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--fresh", action="store_true", help="ignore earlier results")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    import torchvision

    todo = [("timm", m) for m in TIMM_MODELS]
    todo += [("torchvision", m) for m in sorted(torchvision.models.list_models(module=torchvision.models))]
    order = {t: i for i, t in enumerate(todo)}  # the table's order, whatever subset is re-run
    if args.only:
        todo = [t for t in todo if t[0] == args.only]
    if args.models:
        todo = [t for t in todo if t[1] in args.models]
    path = RESULTS / "coverage.json"
    rows = [] if args.fresh or not path.exists() else json.loads(path.read_text())
    redo = {(s, m) for s, m in todo}
    rows = [r for r in rows if (r["source"], r["model"]) not in redo or r["covered"]] if not args.models else \
        [r for r in rows if (r["source"], r["model"]) not in redo]
    done = {(r["source"], r["model"]) for r in rows}
    command = command_line(__file__, argv)
    for source, name in tqdm([t for t in todo if t not in done], desc="tracing"):
        rows.append(check(source, name, args.timeout))
        if not rows[-1]["covered"]:
            tqdm.write(f"{source}:{name}: {rows[-1].get('error', 'owned numel differs')}")
        rows.sort(key=lambda r: order.get((r["source"], r["model"]), 10**6))
        write_report(rows, command.strip())


if __name__ == "__main__":
    main()
