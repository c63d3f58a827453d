"""Every code block of README.md runs as written.

``python`` blocks run in a fresh interpreter each, in an empty working directory; ``bash`` blocks run with
``bash -e`` unless the line before the fence is ``<!-- readme-test: skip (reason) -->``. Skipped today: the
install + quickstart line (pip, about a minute; tests/cli runs ``eval``), the full test suite (which
includes this file) and the training commands (minutes to hours, torchrun on 8 GPUs). Blocks without a
language (the pipeline diagram) are not code.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
SKIP = re.compile(r"<!-- readme-test: skip \((.+?)\) -->\s*$")


def readme_blocks() -> list[tuple[str, str, int, str | None]]:
    """(language, code, line, skip reason or None) of every fenced block with a language."""
    text = README.read_text()
    blocks = []
    for m in FENCE.finditer(text):
        if not m.group(1):
            continue
        line = text.count("\n", 0, m.start()) + 1
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = SKIP.match(before)
        blocks.append((m.group(1), m.group(2), line, skip.group(1) if skip else None))
    return blocks


BLOCKS = readme_blocks()


def test_readme_has_python_blocks_and_only_python_or_bash():
    assert sum(lang == "python" for lang, *_ in BLOCKS) >= 2
    assert {lang for lang, *_ in BLOCKS} <= {"python", "bash"}
    assert all(reason is None for lang, _, _, reason in BLOCKS if lang == "python")   # python never skipped


@pytest.mark.parametrize("lang, code, line, skip", BLOCKS, ids=[f"{b[0]}-line{b[2]}" for b in BLOCKS])
def test_readme_block_runs_as_written(lang, code, line, skip, tmp_path):
    if skip:
        pytest.skip(f"README.md line {line}: {skip}")
    cmd = [sys.executable, "-c", code] if lang == "python" else ["bash", "-e", "-c", code]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"README.md line {line}:\n{proc.stderr[-3000:]}"
