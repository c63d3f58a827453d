"""Every parameter of every coverage-list model and every arch_zoo evaluation net gets a prediction.

    python experiments/predict_sweep.py                       # all; writes experiments/results/predict_sweep.{md,json}
    python experiments/predict_sweep.py --only zoo --splits test
    python experiments/predict_sweep.py --only timm --models resnet18 vit_tiny_patch16_224

For each model: trace it (timm and torchvision at their default input size, zoo nets at 32×32),
predict with the GHN (the shipped ``cifar10`` checkpoint by default), and check that the
prediction has one tensor per parameter name of the model, of exactly that parameter's shape,
with every value finite. A model the graph layer cannot trace is reported as a trace failure,
not a prediction failure (the trace survey is ``coverage.py``). Rows are written as they come,
so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path

import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, command_line, load_ghn, write_results  # noqa: E402
from coverage import TIMM_MODELS, build  # noqa: E402

import graphparam.graph as G  # noqa: E402
from graphparam.errors import first_line  # noqa: E402
from graphparam.model import GHN  # noqa: E402
from graphparam.model.config import NAMED  # noqa: E402


def check_prediction(model: torch.nn.Module, predicted: dict[str, torch.Tensor]) -> dict:
    """Counts of parameters predicted, missing, of the wrong shape and non-finite."""
    params = dict(model.named_parameters())
    missing = [n for n in params if n not in predicted]
    wrong = [n for n, p in params.items() if n in predicted and tuple(predicted[n].shape) != tuple(p.shape)]
    bad = [n for n in params if n in predicted and not bool(torch.isfinite(predicted[n]).all())]
    row = {"tensors": len(params), "numel": sum(p.numel() for p in params.values()),
           "missing": len(missing), "wrong_shape": len(wrong), "non_finite": len(bad)}
    row["ok"] = not (missing or wrong or bad)
    if not row["ok"]:
        row["example"] = (missing or wrong or bad)[0]
    return row


def _failure(row: dict, stage: str, exc: Exception) -> dict:
    """``row`` marked failed at ``stage`` with the exception's first line (exceptions may have no message)."""
    row.update(ok=False, stage=stage, error=first_line(exc, limit=200))
    return row


def sweep_one(ghn: GHN, source: str, name: str) -> dict:
    row: dict = {"source": source, "model": name}
    try:
        if source == "zoo":
            from arch_zoo import split

            split_name, index = name.split(":")
            spec = split(split_name)[int(index)]
            model, size = spec.build(num_classes=10), (3, 32, 32)
            row["hash"] = spec.hash
        else:
            model, size = build(source, name)
        model.eval()
    except Exception as exc:  # recorded: this is a survey
        return _failure(row, "build", exc)
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = G.trace(model, size)
    except Exception as exc:
        return _failure(row, "trace", exc)
    t1 = time.perf_counter()
    try:
        predicted = ghn.predict_tensors(graph)
    except Exception as exc:
        return _failure(row, "predict", exc)
    t2 = time.perf_counter()
    row.update(check_prediction(model, predicted), nodes=len(graph.nodes), stage="checked",
               trace_s=round(t1 - t0, 3), predict_s=round(t2 - t1, 3))
    return row


def write_report(rows: list[dict], command: str, ghn_name: str) -> None:
    lines = ["# Prediction sweep: every parameter, exact shape, finite", "", f"Command: `{command}`", "",
             f"GHN: `{ghn_name}`. A model passes when the prediction holds one tensor per parameter name, of "
             "exactly the parameter's shape, all values finite. Trace failures are listed separately "
             "(they are the trace survey's, `coverage.md`). Times are trace-free prediction times on the 2-core CPU, "
             "taken while other jobs shared the cores: upper bounds (quiet timings: `predict.md`).", "",
             "| group | models | passed | trace failures | prediction failures | tensors checked | values checked | "
             "median predict (s) | max predict (s) |", "|---|---|---|---|---|---|---|---|---|"]
    groups: dict[str, list[dict]] = {}
    for r in rows:
        key = r["source"] if r["source"] != "zoo" else "zoo:" + r["model"].split(":")[0]
        groups.setdefault(key, []).append(r)
    for key, part in groups.items():
        checked = [r for r in part if r.get("stage") == "checked"]
        times = sorted(r["predict_s"] for r in checked)
        med = times[len(times) // 2] if times else math.nan
        lines.append(f"| {key} | {len(part)} | {sum(r['ok'] for r in part)} | "
                     f"{sum(r.get('stage') in ('build', 'trace') for r in part)} | "
                     f"{sum(r.get('stage') in ('predict', 'checked') and not r['ok'] for r in part)} | "
                     f"{sum(r.get('tensors', 0) for r in checked)} | {sum(r.get('numel', 0) for r in checked):,} | "
                     f"{med:.3f} | {max(times, default=math.nan):.3f} |")
    failures = [r for r in rows if not r["ok"]]
    lines += ["", f"## Failures ({len(failures)})", ""]
    if failures:
        lines += ["| source | model | stage | detail |", "|---|---|---|---|"]
        for r in failures:
            detail = r.get("error") or (f"missing {r['missing']}, wrong shape {r['wrong_shape']}, "
                                        f"non-finite {r['non_finite']} (e.g. {r.get('example')})")
            lines.append(f"| {r['source']} | {r['model']} | {r['stage']} | {detail} |")
    else:
        lines.append("none")
    write_results(RESULTS / "predict_sweep", rows, "\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    from arch_zoo import split
    from arch_zoo.splits import EVAL_SPLITS

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ghn", default="cifar10", help="checkpoint name or path, or a config preset for an untrained GHN")
    ap.add_argument("--only", choices=["timm", "torchvision", "zoo"])
    ap.add_argument("--models", nargs="*", help="subset of timm/torchvision names")
    ap.add_argument("--splits", nargs="*", default=list(EVAL_SPLITS), help="zoo evaluation splits")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fresh", action="store_true", help="ignore earlier results")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    import torchvision

    ghn, _ = load_ghn(f"untrained:{args.ghn}" if args.ghn in NAMED else args.ghn)
    todo = [("timm", m) for m in TIMM_MODELS]
    todo += [("torchvision", m) for m in sorted(torchvision.models.list_models(module=torchvision.models))]
    if args.models:
        todo = [t for t in todo if t[1] in args.models]
    todo += [("zoo", f"{s}:{i}") for s in args.splits for i in range(len(split(s)))]
    if args.only:
        todo = [t for t in todo if t[0] == args.only]
    path = RESULTS / "predict_sweep.json"
    rows = [] if args.fresh or not path.exists() else json.loads(path.read_text())
    if args.models:  # named models are re-run
        rows = [r for r in rows if r["model"] not in args.models]
    done = {(r["source"], r["model"]) for r in rows}
    command = command_line(__file__, argv)
    bar = tqdm([t for t in todo if t not in done], desc="predicting", unit="model")
    for i, (source, name) in enumerate(bar):
        bar.set_postfix_str(f"{source}:{name}")
        rows.append(sweep_one(ghn, source, name))
        if not rows[-1]["ok"]:
            tqdm.write(f"{source}:{name}: {rows[-1].get('error') or rows[-1]}")
        if i % 25 == 0 or source != "zoo":
            write_report(rows, command, args.ghn)
    order = {t: i for i, t in enumerate(todo)}
    rows.sort(key=lambda r: order.get((r["source"], r["model"]), 10 ** 6))
    write_report(rows, command, args.ghn)
    passed = sum(r["ok"] for r in rows)
    print(f"{passed}/{len(rows)} models: every parameter predicted, exact shape, finite")


if __name__ == "__main__":
    main()
