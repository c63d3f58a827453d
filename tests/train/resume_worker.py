"""Subprocess of test_resume: train the tiny config, then kill itself after a given step.

usage: python resume_worker.py OUT STEPS CHECKPOINT_EVERY SIGNAL AT_STEP
SIGNAL is KILL (SIGKILL: no handler runs) or TERM (SIGTERM: the loop checkpoints and exits).
"""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from train_helpers import run_tiny  # noqa: E402

out, steps, every, sig, at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])


def on_step(trainer, record):
    if record["step"] == at:
        os.kill(os.getpid(), getattr(signal, f"SIG{sig}"))


trainer, result = run_tiny(out, on_step=on_step, steps=steps, checkpoint_every=every)
print(f"RESULT {result.steps} {result.stopped_by}", flush=True)
