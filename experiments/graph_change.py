"""What a tracer change did to one GHN's held-out zero-shot: its cached rows (``real_zero_shot_nets.jsonl``) on
the models whose graphs changed, measured on the previous graph and on today's committed one, and the held-out
means before and after (the other models' rows are the same in both).

Run ``real_zero_shot.py --ghn DIR --only ghn`` after the change first: it measures the changed models again (their
cached rows no longer match the committed hashes), and this script reads both.

    python experiments/graph_change.py --name free_multipliers --what "..." --ghn leg49=07a06dbf3eb8e5f8
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HELDOUT_FORMS, RESULTS, heldout_rows, provenance, same_graph, write_results  # noqa: E402


def before_after(cache: Path, fingerprint: str) -> dict[str, dict]:
    """Per form: ``{"before": {ref: top1}, "after": {ref: top1}}`` over the models with rows on the committed
    graph and on an earlier one (the earlier one's last row), and the form's means before and after."""
    from arch_zoo import real_heldout

    hashes = real_heldout.load()["hashes"]
    now: dict[str, dict[str, float]] = {f: {} for f in HELDOUT_FORMS}
    old: dict[str, dict[str, float]] = {f: {} for f in HELDOUT_FORMS}
    for form, r in heldout_rows(cache):
        if r["ghn"] == fingerprint and r["name"] in hashes:
            today = same_graph(r["result"], r["name"], form) is not None
            (now if today else old)[form][r["name"]] = 100 * r["result"]["top1"]
    out = {}
    for form in HELDOUT_FORMS:
        changed = sorted(set(old[form]) & set(now[form]))
        before = {**now[form], **{ref: old[form][ref] for ref in changed}}
        out[form] = {"models": len(now[form]), "before": {ref: old[form][ref] for ref in changed},
                     "after": {ref: now[form][ref] for ref in changed},
                     "mean_before": sum(before.values()) / max(len(before), 1),
                     "mean_after": sum(now[form].values()) / max(len(now[form]), 1)}
    return out


def markdown(res: dict, head: list[str]) -> str:
    lines = [f"# {res['name']}", "", res["what"], "", *head,
             f"GHN {res['label']} (fingerprint `{res['fingerprint']}`); held-out real models, 2,000 test images.", "",
             "| form | models | mean before % | mean after % | change |", "|---|---:|---:|---:|---:|"]
    for form, r in res["forms"].items():
        lines.append(f"| {HELDOUT_FORMS[form]} | {r['models']} | {r['mean_before']:.2f} | {r['mean_after']:.2f} | "
                     f"{r['mean_after'] - r['mean_before']:+.2f} |")
    for form, r in res["forms"].items():
        lines += ["", f"## {HELDOUT_FORMS[form]}: the models whose graph changed", "",
                  "| model | before % | after % | change |", "|---|---:|---:|---:|"]
        lines += [f"| {ref} | {r['before'][ref]:.2f} | {r['after'][ref]:.2f} | {r['after'][ref] - r['before'][ref]:+.2f} |"
                  for ref in r["before"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True, help="results stem under experiments/results")
    p.add_argument("--what", required=True, help="the change, one sentence for the report")
    p.add_argument("--ghn", required=True, help="LABEL=FINGERPRINT of the GHN whose rows to compare")
    p.add_argument("--cache", default=str(RESULTS / "real_zero_shot_nets.jsonl"), help="real_zero_shot.py's rows")
    args = p.parse_args(argv)
    label, sep, fingerprint = args.ghn.partition("=")
    if not sep or not fingerprint:
        p.error(f"--ghn takes LABEL=FINGERPRINT, got {args.ghn!r}")
    forms = before_after(Path(args.cache), fingerprint)
    if not any(r["before"] for r in forms.values()):
        p.error(f"no held-out model has rows of {fingerprint} on an earlier graph and on today's")
    res = {"name": args.name, "what": args.what, "label": label, "fingerprint": fingerprint, "forms": forms}
    write_results(RESULTS / args.name, res, markdown(res, provenance(__file__, argv)))
    for form, r in forms.items():
        print(f"{form}: {r['mean_before']:.2f} -> {r['mean_after']:.2f} over {r['models']} models "
              f"({len(r['before'])} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
