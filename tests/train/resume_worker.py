"""Subprocess of test_resume: train the tiny config, then kill itself after a given step.

usage: python resume_worker.py OUT STEPS CHECKPOINT_EVERY SIGNAL AT_STEP
SIGNAL is KILL (SIGKILL: no handler runs), TERM (SIGTERM: the loop checkpoints and exits) or INT.
AT_STEP 0: the signal comes while ``train()`` builds its trainer, in a process that starts with SIGINT
ignored, as ``nohup CMD &`` starts one.
"""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from train_helpers import run_tiny, tiny_config, tiny_data, tiny_sampler  # noqa: E402

out, steps, every, sig, at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])


def on_step(trainer, record):
    if record["step"] == at:
        os.kill(os.getpid(), getattr(signal, f"SIG{sig}"))


if at == 0:
    from graphparam.train import Trainer, train

    build = Trainer.__init__

    def build_then_signal(self, *args, **kwargs):
        build(self, *args, **kwargs)
        os.kill(os.getpid(), getattr(signal, f"SIG{sig}"))

    Trainer.__init__ = build_then_signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    result = train(tiny_config(out, steps=steps, checkpoint_every=every), sampler=tiny_sampler, data=tiny_data())
else:
    trainer, result = run_tiny(out, on_step=on_step, steps=steps, checkpoint_every=every)
print(f"RESULT {result.steps} {result.stopped_by}", flush=True)
