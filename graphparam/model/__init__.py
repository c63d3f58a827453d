"""The graph hypernetwork (GHN): encoder, tensor decoders, normalization, checkpoints."""

from graphparam.model.batch import GraphBatch, collate
from graphparam.model.checkpoint import PRETRAINED, CheckpointError
from graphparam.model.config import ConfigError, GHNConfig
from graphparam.model.ghn import GHN, fill

__all__ = ["GHN", "GHNConfig", "GraphBatch", "CheckpointError", "ConfigError", "PRETRAINED", "collate", "fill"]
