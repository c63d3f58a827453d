"""Shared by the training tests and their subprocess workers: a tiny config on tiny nets."""

from __future__ import annotations

import itertools
import json
from functools import cache
from pathlib import Path

import torch

from arch_zoo import GeneratorConfig, sample
from graphparam.train import TrainConfig

TINY_NETS = GeneratorConfig(cells=(3, 4), channels=(8, 32))


def tiny_sampler(start: int = 0):
    """Like ``arch_zoo.train_stream`` but drawing nets of 3-4 cells and widths 8..32."""
    return ((s, sample(s, "train", TINY_NETS)) for s in itertools.count(start))


@cache
def tiny_data():
    from graphparam.train.data import training_images

    return training_images("embedded", 100)


def tiny_config(out, **overrides) -> TrainConfig:
    base = dict(ghn="tiny", meta_batch=2, batch_size=8, steps=4, out=str(out), data="embedded", val_images=100,
                eval_every=0, progress=False, warmup_steps=2, checkpoint_minutes=0, threads=1, lr=3e-3)
    base.update(overrides)
    return TrainConfig(**base)


def run_tiny(out, on_step=None, sampler=tiny_sampler, **overrides):
    from graphparam.train import Trainer

    trainer = Trainer(tiny_config(out, **overrides), on_step=on_step, sampler=sampler, data=tiny_data())
    return trainer, trainer.run()


def losses(out) -> dict[int, float]:
    """Step -> loss of the train records in ``out/metrics.jsonl``."""
    recs = [json.loads(line) for line in Path(out, "metrics.jsonl").read_text().splitlines() if line.strip()]
    return {r["step"]: r["loss"] for r in recs if r["kind"] == "train"}


def ghn_state(ghn) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().cpu() for k, v in ghn.state_dict().items()}


def ddp_worker(rank: int, world: int, port: int, out: str, steps: int, result_dir: str) -> None:
    """One rank of a gloo process group (for ``torch.multiprocessing.spawn``): train, save its GHN weights."""
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from graphparam.train import Trainer
    from graphparam.train import distributed as D

    info, device = D.setup("cpu")
    try:
        trainer = Trainer(tiny_config(out, steps=steps, meta_batch=3, device="cpu"), info, device,
                          sampler=tiny_sampler, data=tiny_data())
        result = trainer.run()
        torch.save({"world": trainer.info.world_size, "steps": result.steps, "ghn": ghn_state(trainer.ghn)},
                   os.path.join(result_dir, f"rank{rank}.pt"))
    finally:
        D.teardown()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
