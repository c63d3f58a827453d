"""Bad input and faults, tried as a user would: every case's exact command, exit status and message.

    python experiments/faults.py --data DATA        # -> results/faults.{md,json}; DATA: CIFAR-10 (or $GRAPHPARAM_DATA)
    python experiments/faults.py --only train       # one group (cases whose group starts with it)

Every case runs as a subprocess: the installed ``graphparam`` command, or ``python -m graphparam.train``
with a tiny configuration (GHN ``tiny``, 2 nets of at most 100k parameters, 8 images, the embedded
images). Files are made in a scratch directory, written ``$TMP`` in the table. A case is *clean* when
the exit status is the expected one, no traceback was printed, the message contains what the case
requires (e.g. both class counts), and an error is exactly one line on stderr. Training faults also
check what happened to the run (resumed from which step, same losses as an uninterrupted run, nothing
written by a refused run); that check and its measured values are in the row.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA_ENV, RESULTS, ROOT, command_line, write_results  # noqa: E402

SHIPPED_GHN = ROOT / "graphparam" / "checkpoints" / "cifar10"
TRAIN = [sys.executable, "-m", "graphparam.train"]
TINY = ["--ghn", "tiny", "-M", "2", "-b", "8", "--data", "embedded", "--val-images", "100", "--eval-every", "0",
        "--no-progress", "--threads", "1", "--max-params", "100000", "--log-every", "1"]


@dataclass
class Case:
    group: str
    case: str
    command: str
    expect: int
    rc: int | None = None
    line: str = ""               # the one line that reports the outcome
    stderr_lines: int = 0
    traceback: bool = False
    check: str = ""              # what else was verified, with measured values
    check_ok: bool = True
    seconds: float = 0.0
    clean: bool = False


@dataclass
class Proc:
    rc: int
    out: str
    err: str
    seconds: float


@dataclass
class Runner:
    tmp: Path
    only: str | None = None
    cases: list[Case] = field(default_factory=list)

    def show(self, argv: list[str]) -> str:
        """The command as a user types it: ``graphparam ...`` / ``python -m graphparam.train ...``, $TMP paths."""
        words = ["python" if a == sys.executable else a for a in argv]
        return " ".join(w.replace(str(self.tmp), "$TMP").replace(str(ROOT) + "/", "") for w in words)

    def wanted(self, group: str) -> bool:
        return self.only is None or group.startswith(self.only)

    def add(self, case: Case, proc: Proc, contains: tuple[str, ...] = (), line: str | None = None) -> Case:
        err = lines(proc.err)
        case.rc, case.seconds = proc.rc, round(proc.seconds, 1)
        case.stderr_lines = len(err)
        case.traceback = "Traceback (most recent call last)" in proc.err
        if line is None:  # an error: its line on stderr; else the last thing printed (stdout, then stderr)
            line = ((err or [""])[-1] if proc.rc != 0 else (lines(proc.out) or err or [""])[-1])
        case.line = line.replace(str(self.tmp), "$TMP").replace(str(ROOT) + "/", "")
        one_line = case.expect != 2 or case.stderr_lines == 1  # exit 2 is an error: one line, nothing else
        case.clean = (proc.rc == case.expect and not case.traceback and one_line and case.check_ok
                      and all(c in line for c in contains))
        self.cases.append(case)
        mark = "clean" if case.clean else "NOT CLEAN"
        print(f"[{mark}] {case.group} / {case.case}: exit {case.rc} ({case.seconds}s) {case.line[:150]}", flush=True)
        return case


def lines(text: str) -> list[str]:
    """Non-empty lines as a terminal shows them (a progress bar's ``\\r`` rewrites keep the last)."""
    return [s for s in (ln.split("\r")[-1].strip() for ln in text.splitlines()) if s]


def run(argv: list[str], timeout: float = 600) -> Proc:
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=_env(), cwd=ROOT)
    return Proc(p.returncode, p.stdout, p.stderr, time.perf_counter() - t0)


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "PYTHONWARNINGS": "ignore"}


def graphparam_cmd() -> list[str]:
    exe = shutil.which("graphparam")
    return [exe] if exe else [sys.executable, "-m", "graphparam.cli"]


# ---- files a user might hand over ----------------------------------------------------------------
def make_files(tmp: Path) -> dict[str, Path]:
    import numpy as np
    import onnx
    import torch.nn as nn
    from onnx import TensorProto, helper

    from graphparam.graph.onnx_io import export_onnx

    f = {name: tmp / name for name in ("empty.onnx", "text.onnx", "dir.onnx", "missing.onnx", "model.onnx",
                                       "truncated.onnx", "custom_op.onnx", "dangling.onnx", "notdata.npz",
                                       "other.npz")}
    f["empty.onnx"].write_bytes(b"")
    f["text.onnx"].write_text("this is not a model\n")
    f["dir.onnx"].mkdir()
    f["notdata.npz"].write_text("not a numpy archive\n")
    np.savez(f["other.npz"], train_x=np.zeros((2, 32, 32, 3), np.uint8), train_y=np.zeros(2, np.int64),
             test_x=np.zeros((2, 32, 32, 3), np.uint8), test_y=np.zeros(2, np.int64))
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(8, 10))
    export_onnx(net, (3, 32, 32), f["model.onnx"])
    data = f["model.onnx"].read_bytes()
    f["truncated.onnx"].write_bytes(data[:len(data) // 2])
    w = helper.make_tensor("conv.weight", TensorProto.FLOAT, [4, 3, 3, 3], np.zeros(108, np.float32))
    x = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])]
    y = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    custom = [helper.make_node("Conv", ["x", "conv.weight"], ["c"], name="conv_0"),
              helper.make_node("Frobnicate", ["c"], ["y"], name="frob_1")]
    onnx.save(helper.make_model(helper.make_graph(custom, "custom", x, y, [w]),
                                opset_imports=[helper.make_opsetid("", 17)]), f["custom_op.onnx"])
    dangling = [helper.make_node("Conv", ["x", "conv.weight"], ["c"], name="conv_0"),
                helper.make_node("Add", ["c", "ghost"], ["y"], name="add_1")]
    onnx.save(helper.make_model(helper.make_graph(dangling, "dangling", x, y, [w]),
                                opset_imports=[helper.make_opsetid("", 17)]), f["dangling.onnx"])

    # GHN checkpoints: copies of the shipped one, damaged
    weights = (SHIPPED_GHN / "model.safetensors").read_bytes()
    for name, content in {"ghn_truncated": weights[:len(weights) // 2],
                          "ghn_oversized_header": (1 << 40).to_bytes(8, "little") + weights[8:],
                          "ghn_truncated_header": weights[:5],
                          "ghn_pickle": b"\x80\x04\x95garbage-not-safetensors"}.items():
        shutil.copytree(SHIPPED_GHN, tmp / name)
        (tmp / name / "model.safetensors").write_bytes(content)
        f[name] = tmp / name
    shutil.copytree(SHIPPED_GHN, tmp / "ghn_no_config")
    (tmp / "ghn_no_config" / "config.json").unlink()
    f["ghn_no_config"] = tmp / "ghn_no_config"
    return f


# ---- command-line bad input ----------------------------------------------------------------------
def cli_cases(r: Runner, f: dict[str, Path]) -> None:
    g = graphparam_cmd()
    T = str(r.tmp)
    quick_ft = ["--epochs", "1", "--max-steps", "1", "--test-images", "100", "--png", f"{T}/ft.png"]

    def cli(group: str, case: str, args: list[str], expect: int = 2, contains: tuple[str, ...] = (),
            no_file: Path | None = None) -> None:
        if not r.wanted(group):
            return
        argv = [*g, *args]
        c = Case(group, case, r.show(["graphparam", *args]), expect)
        proc = run(argv)
        if no_file is not None:
            c.check = f"{no_file.name} not written: {not no_file.exists()}"
            c.check_ok = not no_file.exists()
        r.add(c, proc, contains)

    pos = ("positive integer",)
    cli("classes", "--num-classes 0 (predict)", ["predict", "timm:resnet18", "--num-classes", "0", "--out",
        f"{T}/w0.safetensors"], contains=pos, no_file=r.tmp / "w0.safetensors")
    cli("classes", "--num-classes -1 (predict)", ["predict", "timm:resnet18", "--num-classes", "-1", "--out",
        f"{T}/w1.safetensors"], contains=pos, no_file=r.tmp / "w1.safetensors")
    cli("classes", "--num-classes 0 (predict, ONNX input)", ["predict", str(f["model.onnx"]), "--num-classes", "0",
        "--out", f"{T}/p0.onnx"], contains=pos, no_file=r.tmp / "p0.onnx")
    cli("classes", "--num-classes -1 (eval, timm)", ["eval", "timm:resnet18", "--num-classes", "-1"], contains=pos)
    cli("classes", "--num-classes -1 (eval, zoo)", ["eval", "zoo:1", "--num-classes", "-1"], contains=pos)
    cli("classes", "--num-classes 0 (graph)", ["graph", "zoo:1", "--num-classes", "0"], contains=pos)
    cli("classes", "--num-classes 0 (finetune)", ["finetune", "zoo:1", "--num-classes", "0", *quick_ft], contains=pos)
    cli("classes", "head 3 vs 10 classes (eval)", ["eval", "timm:resnet18", "--num-classes", "3"],
        contains=("3 outputs", "10 classes"))
    cli("classes", "head 100 vs 10 classes (eval)", ["eval", "zoo:1", "--num-classes", "100"],
        contains=("100 outputs", "10 classes"))
    cli("classes", "head 3 vs 10 classes (finetune)", ["finetune", "timm:resnet18", "--num-classes", "3", *quick_ft],
        contains=("3 outputs", "10 classes"))

    cli("models", "unknown timm model", ["graph", "timm:resnet_does_not_exist"], contains=("resnet_does_not_exist",))
    cli("models", "unknown torchvision model", ["graph", "torchvision:resnet_nope"], contains=("resnet_nope",))
    cli("models", "zoo seed not an integer", ["graph", "zoo:abc"], contains=("abc",))
    cli("models", "unknown real model", ["graph", "real:nope"], contains=("nope",))
    cli("models", "unknown source", ["graph", "foo:bar"], contains=("foo",))
    cli("models", "no source prefix", ["graph", "resnet18"], contains=("resnet18",))
    cli("models", "--cifar-stem on a model that downsamples without a stride", ["graph", "timm:tresnet_m", "--cifar-stem"],
        contains=("cifar-stem", "SpaceToDepth"))

    cli("onnx", "empty .onnx file", ["graph", str(f["empty.onnx"])], contains=("empty.onnx",))
    cli("onnx", "truncated .onnx file", ["graph", str(f["truncated.onnx"])], contains=("truncated.onnx",))
    cli("onnx", "text file named .onnx", ["graph", str(f["text.onnx"])], contains=("text.onnx",))
    cli("onnx", "directory named .onnx", ["graph", str(f["dir.onnx"])], contains=("dir.onnx",))
    cli("onnx", "missing .onnx file", ["graph", str(f["missing.onnx"])], contains=("missing.onnx",))
    cli("onnx", "unknown ONNX op", ["graph", str(f["custom_op.onnx"])], contains=("Frobnicate",))
    cli("onnx", "dangling ONNX input", ["graph", str(f["dangling.onnx"])], contains=("ghost",))
    cli("onnx", "truncated .onnx file (predict)", ["predict", str(f["truncated.onnx"]), "--out", f"{T}/p.onnx"],
        contains=("truncated.onnx",), no_file=r.tmp / "p.onnx")

    for name in ("ghn_truncated", "ghn_oversized_header", "ghn_truncated_header", "ghn_pickle", "ghn_no_config"):
        cli("ghn", name.replace("ghn_", "GHN checkpoint: ").replace("_", " "),
            ["eval", "zoo:1", "--ghn", str(f[name])], contains=(name,))
    cli("ghn", "GHN checkpoint: missing directory", ["eval", "zoo:1", "--ghn", f"{T}/no_such_ghn"],
        contains=("no_such_ghn",))
    cli("ghn", "GHN checkpoint: unknown name", ["eval", "zoo:1", "--ghn", "imagenet"], contains=("imagenet",))

    cli("inputs", "--batch-size 0 (eval)", ["eval", "zoo:1", "--batch-size", "0"], contains=("got 0",))
    cli("inputs", "--max-images -5 (eval)", ["eval", "zoo:1", "--max-images", "-5"], contains=("got -5",))
    cli("inputs", "--epochs 0 (finetune)", ["finetune", "zoo:1", *quick_ft, "--epochs", "0"], contains=("got 0",))
    cli("inputs", "--batch-size 0 (finetune)", ["finetune", "zoo:1", *quick_ft, "--batch-size", "0"],
        contains=("got 0",))
    cli("inputs", "unknown zoo split", ["zoo", "sample", "--split", "nope"], contains=("nope",))
    cli("inputs", "wrong input channels (timm)", ["graph", "timm:resnet18", "--input-size", "1", "32", "32"])
    cli("inputs", "wrong input channels (zoo)", ["eval", "zoo:1", "--input-size", "1", "32", "32"])
    cli("data", "missing dataset path", ["eval", "zoo:1", "--data", "/nowhere/cifar"], contains=("/nowhere/cifar",))
    cli("data", "dataset file that is not one", ["eval", "zoo:1", "--data", str(f["notdata.npz"])],
        contains=("notdata.npz",))
    cli("data", "npz with other arrays than CIFAR-10's", ["eval", "zoo:1", "--data", str(f["other.npz"])],
        contains=("other.npz", "test_jpeg"))
    cli("data", "missing dataset path (finetune)", ["finetune", "zoo:1", "--data", "/nowhere/cifar", "--epochs", "1"],
        contains=("/nowhere/cifar",))
    cli("control", "valid command (for comparison)", ["eval", "zoo:1", "--max-images", "100"], expect=0)


# ---- training faults -----------------------------------------------------------------------------
def _metrics(out: Path) -> list[dict]:
    from graphparam.train.metrics import read_metrics

    return read_metrics(out / "metrics.jsonl")


def _losses(out: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in _metrics(out) if r["kind"] == "train"}


def _wait_for(out: Path, proc: subprocess.Popen, pred, timeout: float = 300) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout and proc.poll() is None:
        try:
            if pred(_metrics(out)):
                return True
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    return False


def _max_diff(got: dict[int, float], ref: dict[int, float], steps) -> float:
    return max(abs(got[s] - ref[s]) for s in steps) if all(s in got for s in steps) else float("inf")


def _popen(argv: list[str]) -> tuple[subprocess.Popen, float]:
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                            cwd=ROOT), time.perf_counter()


def _finish(p: subprocess.Popen, t0: float, timeout: float = 300) -> Proc:
    out, err = p.communicate(timeout=timeout)
    return Proc(p.returncode, out, err, time.perf_counter() - t0)


def _copy(r: Runner, src: Path, name: str) -> Path:
    dst = r.tmp / name
    shutil.copytree(src, dst)
    return dst


def train_cases(r: Runner) -> None:
    if not r.wanted("train"):
        return
    six = [*TINY, "--steps", "6", "--checkpoint-every", "3"]
    ref = r.tmp / "run_ref"
    c = Case("train", "uninterrupted 6-step run (reference)", r.show([*TRAIN, "--out", str(ref), *six]), 0)
    r.add(c, run([*TRAIN, "--out", str(ref), *six]))
    expected = _losses(ref)
    ckpts = sorted(p.name for p in (ref / "checkpoints").glob("step-*"))
    c.check = f"losses of steps {sorted(expected)}; checkpoints {ckpts}"

    # (a) SIGKILL after the step-3 checkpoint, then the same command again
    out = r.tmp / "run_killed"
    cmd = [*TRAIN, "--out", str(out), *six]
    p, t0 = _popen(cmd)
    seen = _wait_for(out, p, lambda recs: any(x["kind"] == "train" and x["step"] >= 4 for x in recs))
    p.send_signal(signal.SIGKILL)
    killed = _finish(p, t0)
    from graphparam.train.checkpoint import load_checkpoint

    at_kill = load_checkpoint(out / "checkpoints")[1]["step"]
    logged = max(_losses(out))
    c = Case("train", "SIGKILL after the step-3 checkpoint", r.show(cmd) + "  (kill -9 once step 4 is logged)",
             -signal.SIGKILL)
    c.check = f"killed after step {logged} was logged, latest checkpoint step {at_kill}, stale .lock left: " \
              f"{(out / '.lock').is_file()}"
    c.check_ok = seen and at_kill == 3 and logged < 6
    r.add(c, killed, line=f"(killed by SIGKILL, exit status {killed.rc})")
    c = Case("train", "... the same command again resumes", r.show(cmd), 0)
    resumed = run(cmd)
    got = _losses(out)
    diff = _max_diff(got, expected, range(1, 7))
    starts = [x for x in _metrics(out) if x["kind"] == "event" and x["event"] == "resume"]
    c.check = (f"resumed from step {starts[-1]['step'] if starts else None}; steps logged {sorted(got)}; "
               f"max |loss - uninterrupted| over steps 1-6 = {diff:.1e}")
    c.check_ok = bool(starts) and starts[-1]["step"] == 3 and sorted(got) == list(range(1, 7)) and diff <= 1e-5
    r.add(c, resumed)

    # (b) SIGTERM: checkpoint and exit 0
    out = r.tmp / "run_term"
    cmd = [*TRAIN, "--out", str(out), *TINY, "--steps", "1000"]
    p, t0 = _popen(cmd)
    seen = _wait_for(out, p, lambda recs: any(x["kind"] == "train" and x["step"] >= 2 for x in recs))
    p.send_signal(signal.SIGTERM)
    term = _finish(p, t0)
    stop = [x for x in _metrics(out) if x["kind"] == "event" and x["event"] == "stop"]
    ck = load_checkpoint(out / "checkpoints")[1]["step"] if (out / "checkpoints").is_dir() else None
    c = Case("train", "SIGTERM during a run", r.show(cmd) + "  (kill -TERM once step 2 is logged)", 0)
    c.check = f"stop event {stop[-1]['reason'] if stop else None} at step {stop[-1]['step'] if stop else None}; " \
              f"latest checkpoint step {ck}"
    c.check_ok = seen and bool(stop) and stop[-1]["reason"] == "SIGTERM" and ck == stop[-1]["step"]
    r.add(c, term, contains=("SIGTERM",))

    # (c) damaged checkpoints
    cmd_for = lambda out: [*TRAIN, "--out", str(out), *six]  # noqa: E731

    def fallback(case: str, name: str, damage) -> None:
        out = _copy(r, ref, name)
        damage(out / "checkpoints")
        proc = run(cmd_for(out))
        warn = [ln for ln in lines(proc.err) if "unreadable" in ln]
        got = _losses(out)
        diff = _max_diff(got, expected, range(4, 7))
        resume = [x for x in _metrics(out) if x["kind"] == "event" and x["event"] == "resume"]
        c = Case("train", case, r.show(cmd_for(out)), 0)
        c.check = (f"warning lines: {len(warn)}; resumed from step {resume[-1]['step'] if resume else None}; "
                   f"max |loss - uninterrupted| over steps 4-6 = {diff:.1e}")
        c.check_ok = len(warn) == 1 and bool(resume) and resume[-1]["step"] == 3 and diff <= 1e-5
        r.add(c, proc, contains=("step-000006", "resuming from step-000003"), line=warn[0] if warn else None)

    from graphparam.train.checkpoint import STATE_NAME

    def truncate(path: Path, keep: float = 0.5) -> None:
        data = path.read_bytes()
        path.write_bytes(data[:int(len(data) * keep)])

    fallback("latest checkpoint's resume state truncated", "run_trunc",
             lambda root: truncate(root / "step-000006" / STATE_NAME))
    fallback("latest checkpoint's GHN weights corrupted", "run_corrupt",
             lambda root: (root / "step-000006" / "ghn" / "model.safetensors").write_bytes(b"\x80\x04garbage"))

    def refused(case: str, name: str, damage, extra: tuple[str, ...] = (), contains: tuple[str, ...] = ()) -> None:
        out = _copy(r, ref, name)
        damage(out / "checkpoints")
        before = (out / "metrics.jsonl").read_text()
        cmd = [*cmd_for(out), *extra]
        proc = run(cmd)
        c = Case("train", case, r.show(cmd), 2)
        c.check = f"metrics.jsonl unchanged: {(out / 'metrics.jsonl').read_text() == before}"
        c.check_ok = (out / "metrics.jsonl").read_text() == before
        r.add(c, proc, contains=contains)

    refused("every checkpoint truncated", "run_all_bad",
            lambda root: [truncate(root / n / STATE_NAME, 0.1) for n in ("step-000003", "step-000006")],
            contains=("step-000003", "step-000006"))
    refused("checkpoint directories deleted, 'latest' left", "run_deleted",
            lambda root: [shutil.rmtree(root / n) for n in ("step-000003", "step-000006")], contains=("latest",))
    refused("--no-resume on a directory with a run", "run_noresume", lambda root: None, ("--no-resume",),
            contains=("--no-resume",))
    refused("resume with other settings (-M 3)", "run_other", lambda root: None, ("-M", "3"),
            contains=("meta_batch",))

    # (d) two trainers on one --out
    out = r.tmp / "run_twice"
    cmd = [*TRAIN, "--out", str(out), *TINY, "--steps", "1000"]
    first, t0 = _popen(cmd)
    seen = _wait_for(out, first, lambda recs: any(x["kind"] == "train" for x in recs))
    second = run(cmd)
    first.send_signal(signal.SIGTERM)
    first_done = _finish(first, t0)
    starts = [x for x in _metrics(out) if x["kind"] == "event" and x["event"] in ("start", "resume")]
    c = Case("train", "second trainer on the same --out", r.show(cmd) + "  (while the same command runs)", 2)
    c.check = (f"first run unaffected: exit {first_done.rc} after SIGTERM, {len(starts)} start event(s) "
               "in metrics.jsonl")
    c.check_ok = seen and first_done.rc == 0 and len(starts) == 1
    r.add(c, second, contains=("in use by another training run", ".lock"))


# ---- report ----------------------------------------------------------------------------------------
def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_report(cases: list[Case], seconds: float, argv: list[str]) -> None:
    import torch

    machine = {"cpu_count": os.cpu_count(), "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
               "python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform()}
    clean = sum(c.clean for c in cases)
    cmd = command_line(__file__, argv)
    md = [f"# Bad input and faults: {clean} of {len(cases)} cases clean", "",
          f"Made by `{cmd}` in {seconds:.0f} s on {machine['cpu_count']} CPU cores"
          f"{', GPU ' + machine['gpu'] if machine['gpu'] else ', no GPU'} (torch {machine['torch']}); "
          "every row is a subprocess that ran the command shown (`$TMP`: the scratch directory with the files "
          "described in `experiments/faults.py`).", "",
          "*Clean*: the expected exit status, no traceback, the message names what the case needs, an error is "
          "exactly one line on stderr, and the check on the run (training rows) held. Training commands use "
          "`TINY` = `" + " ".join(TINY) + "`.", "",
          "| group | case | command | expected | exit | the one line | check | clean |",
          "|---|---|---|---|---|---|---|---|"]
    for c in cases:
        command = _cell(c.command.replace(" ".join(TINY), "TINY"))
        md.append(f"| {c.group} | {_cell(c.case)} | `{command}` | {c.expect} | {c.rc} | {_cell(c.line)} | "
                  f"{_cell(c.check)} | {'yes' if c.clean else '**no**'} |")
    write_results(RESULTS / "faults", {"command": cmd, "machine": machine, "seconds": round(seconds, 1), "clean": clean,
                                       "cases": [asdict(c) for c in cases]}, "\n".join(md))
    print(f"{clean}/{len(cases)} clean; wrote {RESULTS / 'faults.md'} and faults.json ({seconds:.0f} s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.environ.get(DATA_ENV) or None,
                        help=f"CIFAR-10 for the fine-tuning cases, given to them as ${DATA_ENV} (default: ${DATA_ENV}; "
                             "without it they stop at the missing data)")
    parser.add_argument("--only", help="run only the groups whose name starts with this (classes, models, onnx, "
                                       "ghn, inputs, data, control, train); writes no report")
    args = parser.parse_args(argv)
    if args.data:
        os.environ[DATA_ENV] = str(Path(args.data).resolve())   # every case's subprocess inherits it
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="graphparam-faults-") as tmp:
        r = Runner(Path(tmp), args.only)
        cli_cases(r, make_files(Path(tmp)))
        train_cases(r)
        seconds = time.perf_counter() - t0
        if args.only is None:
            write_report(r.cases, seconds, [])
        else:
            print(f"{sum(c.clean for c in r.cases)}/{len(r.cases)} clean (--only: no report written)")
    return 0 if all(c.clean for c in r.cases) else 1


if __name__ == "__main__":
    sys.exit(main())
