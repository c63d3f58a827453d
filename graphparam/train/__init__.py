"""Meta-training of the graph hypernetwork.

- ``TrainConfig`` (:mod:`.config`): every setting, JSON round-trip, ``parse_duration("9m")``;
- ``Trainer`` / ``train(config)`` (:mod:`.loop`): the loop; ``main(argv)`` (:mod:`.run`): its command line;
- :mod:`.objective`: the loss of a step, backpropagated net by net; :mod:`.rng`: per-step seeds, RNG state;
- :mod:`.checkpoint`: atomic, resumable checkpoints; :mod:`.distributed`: torchrun / DDP;
- :mod:`.archs`: the architecture stream and cache, :mod:`.build`: one net built and traced,
  :mod:`.build_pool`: nets built ahead in worker processes;
- :mod:`.data`: the training images and their ``PretrainedCfg``;
- :mod:`.record`: the run's record (config, metrics, events, curves) from :mod:`.metrics` and :mod:`.plot`;
  :mod:`.progress`: the progress bar.
"""

from graphparam.train.config import TrainConfig, parse_duration
from graphparam.train.loop import Trainer, TrainResult, train
from graphparam.train.run import build_parser, main

__all__ = ["TrainConfig", "Trainer", "TrainResult", "train", "main", "build_parser", "parse_duration"]
