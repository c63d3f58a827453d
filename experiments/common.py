"""What the experiment scripts share: GHN loading, atomic writes, the provenance header and the data default.

Scripts import it after putting their own folder on ``sys.path``::

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import RESULTS, add_data_arg, atomic_write, command_line, load_ghn  # noqa: E402

``python experiments/common.py`` prints the provenance header and the CIFAR-10 source a script would use.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
DATA_ENV = "GRAPHPARAM_DATA"


def load_ghn(name: str):
    """``(ghn, trained)``: a checkpoint path/registered name, or ``untrained:PRESET`` (seed 0) for smoke tests."""
    import torch

    from graphparam.model import GHN, GHNConfig

    if name.startswith("untrained:"):
        torch.manual_seed(0)
        return GHN(GHNConfig.named(name.split(":", 1)[1])).eval(), False
    return GHN.from_pretrained(name).eval(), True


def atomic_write(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so that an interrupted run never leaves half a file."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def command_line(script: str, argv: list[str] | None = None) -> str:
    """``python experiments/SCRIPT.py ARGS`` as run (``argv``: the arguments, default ``sys.argv[1:]``)."""
    args = sys.argv[1:] if argv is None else argv
    return " ".join(["python", f"experiments/{Path(script).name}", *map(str, args)])


def machine() -> dict:
    """Where a result was measured: processor, cores, Python and torch versions."""
    import torch

    return {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "torch": torch.__version__}


def provenance(script: str, argv: list[str] | None = None) -> list[str]:
    """The Markdown header lines every result starts with: the command line and the machine."""
    m = machine()
    return [f"Command: `{command_line(script, argv)}`", "",
            f"Machine: {m['machine']}, {m['cpus']} cores, Python {m['python']}, torch {m['torch']}.", ""]


def add_data_arg(p: argparse.ArgumentParser) -> None:
    """``--data``: the CIFAR-10 npz, by default ``$GRAPHPARAM_DATA`` (checked by :func:`require_data`)."""
    p.add_argument("--data", default=os.environ.get(DATA_ENV) or None,
                   help=f"CIFAR-10 npz (default: ${DATA_ENV})")


def require_data(p: argparse.ArgumentParser, data: str | None) -> str:
    """``data``, or a clear usage error when neither ``--data`` nor ``$GRAPHPARAM_DATA`` names a source."""
    if not data:
        p.error(f"no CIFAR-10 data: pass --data PATH or set ${DATA_ENV}")
    return str(data)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arg(parser)
    args = parser.parse_args()
    print("\n".join(provenance(__file__, [])))
    print(f"CIFAR-10 data: {args.data or f'none (pass --data or set ${DATA_ENV})'}")


def run_shards(cmds: list[list[str]], label: str = "") -> None:
    """Run the shard commands side by side (one process each) and wait; any failure ends the script with a
    message that says the cache keeps what was measured."""
    import subprocess

    procs = [subprocess.Popen(cmd) for cmd in cmds]
    try:
        codes = [proc.wait() for proc in procs]
    except KeyboardInterrupt:
        for proc in procs:
            proc.terminate()
        raise
    if any(codes):
        raise SystemExit(f"{label}{': ' if label else ''}a shard process failed (exit {max(codes)}); what it "
                         "measured is in the cache, run the same command again to resume")
