"""Every script in experiments/ imports, does no work on import, answers ``--help``, and imports only
names that exist (also inside functions, where a removed name fails only when the script runs)."""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "experiments").glob("*.py"))

# one process for all scripts: torch is imported once (each script alone takes seconds to start)
_DRIVER = r"""
import contextlib, io, json, runpy, sys, time
results = {}
for path in sys.argv[1:]:
    row = {}
    out = io.StringIO()
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            runpy.run_path(path, run_name="imported_by_test")
        row["import_output"] = out.getvalue()
    except BaseException as exc:
        row["import_error"] = f"{type(exc).__name__}: {exc}"
    row["import_seconds"] = time.perf_counter() - t0
    out = io.StringIO()
    sys.argv = [path, "--help"]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            runpy.run_path(path, run_name="__main__")
        row["help_exit"] = None
    except SystemExit as exc:
        row["help_exit"] = exc.code
    except BaseException as exc:
        row["help_error"] = f"{type(exc).__name__}: {exc}"
    row["help"] = out.getvalue()
    results[path] = row
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def runs() -> dict[str, dict]:
    proc = subprocess.run([sys.executable, "-c", _DRIVER, *map(str, SCRIPTS)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_there_are_experiment_scripts():
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_experiment_imports_without_work_and_answers_help(script: Path, runs: dict[str, dict]):
    row = runs[str(script)]
    assert "import_error" not in row, row["import_error"]
    assert row["import_output"] == "", f"{script.name} prints on import: its work is not under __main__"
    assert "help_error" not in row, row["help_error"]
    assert row["help_exit"] == 0 and row["help"].startswith("usage:"), row


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_experiment_uses_argparse_under_main_guard(script: Path):
    tree = ast.parse(script.read_text())
    guards = [n for n in tree.body if isinstance(n, ast.If) and "__name__" in ast.unparse(n.test)
              and "__main__" in ast.unparse(n.test)]
    assert guards, f"{script.name}: no `if __name__ == \"__main__\":`"
    imports = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert "argparse" in imports, f"{script.name} does not use argparse"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_experiment_imports_names_that_exist(script: Path):
    """``from graphparam.x import name`` anywhere in the script, function bodies included."""
    missing = []
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] in ("graphparam", "arch_zoo"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(module, alias.name):
                    try:
                        importlib.import_module(f"{node.module}.{alias.name}")
                    except ImportError:
                        missing.append(f"{node.module}.{alias.name} (line {node.lineno})")
    assert not missing, f"{script.name} imports names that do not exist: {', '.join(missing)}"


def _flags_nothing_accepts(script_text: str, commands, own: set[str]) -> list[str]:
    """The ``--flags`` a shell script passes that no ``--help`` of ``commands`` (argv after the interpreter)
    names, leaving out ``own`` (flags of other tools the script calls)."""
    helps = [subprocess.run([sys.executable, *cmd, "--help"], cwd=ROOT, capture_output=True, text=True).stdout
             for cmd in commands]
    flags = set(re.findall(r"(--[a-z][a-z0-9-]*)", script_text)) - own
    return [f for f in sorted(flags) if not any(re.search(re.escape(f) + r"\b", h) for h in helps)]


def test_gpu_leg_script_parses_and_uses_names_and_flags_that_exist():
    """``experiments/gpu_leg.sh`` (one GPU session in one device call) cannot run here: its bash parses, the
    library names its Python imports exist, and every flag it passes is one the trainer or
    ``zero_shot_table.py`` accepts (or nvidia-smi's and timeout's own)."""
    script = ROOT / "experiments" / "gpu_leg.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    text = script.read_text()
    for module, names in re.findall(r"^from (graphparam[\w.]*) import (.+)$", text, re.M):
        mod = importlib.import_module(module)
        assert all(hasattr(mod, n.strip()) for n in names.split(",")), f"gpu_leg.sh: from {module} import {names}"
    unknown = _flags_nothing_accepts(text, (["-m", "graphparam.train"], ["experiments/zero_shot_table.py"]),
                                     {"--query-gpu", "--format", "--signal"})
    assert not unknown, f"gpu_leg.sh passes flags nothing accepts: {unknown}"


def test_cpu_leg_script_parses_and_passes_flags_that_exist():
    """``experiments/cpu_leg.sh`` starts a leg of hours: its bash parses and every flag it passes is the
    trainer's or ``finish_run.py``'s."""
    script = ROOT / "experiments" / "cpu_leg.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    text = script.read_text()
    unknown = _flags_nothing_accepts(text, (["-m", "graphparam.train"], ["experiments/finish_run.py"]),
                                     {"--short", "--show-toplevel"})
    assert not unknown, f"cpu_leg.sh passes flags nothing accepts: {unknown}"


def test_channel_positions_compare_says_whether_two_dumps_differ(tmp_path: Path, capsys):
    sys.path.insert(0, str(ROOT / "experiments"))
    module = importlib.import_module("channel_positions")
    same = {"graphs": {"a": [["conv", {"out_channel_order": [1, 0]}]], "b": [["fc", {}]]}}
    other = {"graphs": {"a": [["conv", {"out_channel_order": [0, 1]}]], "b": [["fc", {}]]}}
    paths = []
    for i, data in enumerate((same, same, other)):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(data))
    assert module.main(["--compare", str(paths[0]), str(paths[1])]) == 0
    assert module.main(["--compare", str(paths[0]), str(paths[2])]) == 1
    assert "1 differ: a" in capsys.readouterr().out
