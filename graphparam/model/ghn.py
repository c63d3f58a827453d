"""``GHN``: predict every parameter of a neural network from its computation graph, in one pass.

Usage::

    ghn = GHN(GHNConfig.named("small"))            # or GHN.from_pretrained("path/or/name")
    net = ghn.predict(timm.create_model("resnet50"))  # traced at ghn.pretrained_cfg.input_size

    # training: differentiable, one encoder pass over a batch of graphs
    graphs = [trace(m, ghn.pretrained_cfg.input_size) for m in models]
    for model, params in zip(models, ghn(graphs)):
        loss = F.cross_entropy(torch.func.functional_call(model, params, x), y)

BatchNorm policy: the GHN predicts parameters, never running statistics. Nets with predicted
parameters are meant to run BatchNorm with batch statistics (train mode): the training loop runs
them in train mode, and zero-shot evaluation (:mod:`graphparam.evaluate`) does the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch
import torch.nn as nn

from graphparam.device import device_of
from graphparam.errors import MissingPredictionError
from graphparam.graph.ir import ArchGraph
from graphparam.graph.trace import trace
from graphparam.model.batch import GraphBatch, collate
from graphparam.model.config import GHNConfig
from graphparam.model.decoder import TensorDecoder
from graphparam.model.embed import NodeEmbedding
from graphparam.model.transformer import GraphTransformer
from graphparam.model.vocab import Vocab, index_map
from graphparam.pretrained_cfg import DEFAULT_CFG, PretrainedCfg, resolve_input_size


class GHN(nn.Module):
    """Graph hypernetwork: node embedding → graph transformer → tensor decoders → normalization."""

    def __init__(self, config: GHNConfig | None = None, vocab: Vocab | None = None):
        """``vocab``: the names of the embedding rows (a checkpoint's; this code's when not given)."""
        super().__init__()
        self.config = config = config or GHNConfig()
        self.vocab = vocab = vocab or Vocab.current()
        vocab.check_features()
        now = Vocab.current()
        unknown = vocab.kinds.index("unknown")
        self.node_embed = NodeEmbedding(config.hidden, config.depth_scale, index_map(now.kinds, vocab.kinds, unknown),
                                        len(vocab.kinds))
        self.encoder = GraphTransformer(config.hidden, config.layers, config.heads, config.max_distance,
                                        config.mlp_ratio, config.dropout, config.attn_block, config.dense_attn_limit)
        self.decoder = TensorDecoder(config, index_map(now.roles, vocab.roles, None), len(vocab.roles),
                                     index_map(now.transforms, vocab.transforms, None), len(vocab.transforms))
        self.pretrained_cfg = DEFAULT_CFG  # what a checkpoint says about its inputs and training

    @property
    def pretrained_cfg(self) -> PretrainedCfg:
        """What the GHN was trained on (input size, classes, mean/std, training record): a checkpoint's,
        else :data:`~graphparam.pretrained_cfg.DEFAULT_CFG`. Setting a dict (a checkpoint's JSON) or
        None stores it as a :class:`~graphparam.pretrained_cfg.PretrainedCfg`."""
        return self._pretrained_cfg

    @pretrained_cfg.setter
    def pretrained_cfg(self, cfg: PretrainedCfg | Mapping[str, Any] | None) -> None:
        self._pretrained_cfg = PretrainedCfg.from_dict(cfg)

    # ---- basics -------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return device_of(self)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def collate(self, graphs: Sequence[ArchGraph]) -> GraphBatch:
        """Pad ``graphs`` into a :class:`GraphBatch` on the GHN's device (cached per graph)."""
        c = self.config
        return collate(list(graphs), c.max_distance, c.embed_std, self.device, c.head_scale,
                       repeat_tile=c.tile if c.tile_layout == "repeat" and c.channel_order else None,
                       channel_ties=c.channel_ties)

    def encode(self, batch: GraphBatch) -> torch.Tensor:
        """Node states ``B × N × hidden`` (padding rows are meaningless)."""
        x = self.node_embed(batch.kind, batch.act, batch.feats, batch.depth)
        return self.encoder(x, batch.pair)

    # ---- API ----------------------------------------------------------------------------------
    def forward(self, graphs: Sequence[ArchGraph] | GraphBatch) -> list[dict[str, torch.Tensor]]:
        """Differentiable: for each graph, ``{parameter name: tensor of exactly its shape}``.

        Tensors are float32 on the GHN's device; use them with ``torch.func.functional_call``.
        """
        if isinstance(graphs, ArchGraph):
            raise TypeError("GHN(...) takes a list of ArchGraphs; use predict_tensors(graph) for one")
        batch = graphs if isinstance(graphs, GraphBatch) else self.collate(graphs)
        return self.decoder(self.encode(batch), batch)

    def embed(self, graphs: Sequence[ArchGraph]) -> list[torch.Tensor]:
        """Final node states of each graph, ``N_g × hidden`` (differentiable)."""
        batch = self.collate(graphs)
        states = self.encode(batch)
        return [states[i, :n] for i, n in enumerate(batch.num_nodes)]

    @torch.no_grad()
    def predict_tensors(self, graph: ArchGraph) -> dict[str, torch.Tensor]:
        """Predicted tensors of one graph (no autograd)."""
        return self([graph])[0]

    @torch.no_grad()
    def predict(self, model: nn.Module, input_size: Sequence[int] | None = None,
                graph: ArchGraph | None = None) -> nn.Module:
        """Trace ``model`` (unless its ``graph`` is given) at ``input_size`` (default: the GHN's
        ``pretrained_cfg.input_size``), predict all its parameters and write them in place (float32
        parameters on the GHN's device are written without a copy); returns ``model``."""
        return self.predict_many([model], input_size, None if graph is None else [graph])[0]

    @torch.no_grad()
    def predict_many(self, models: Sequence[nn.Module], input_size: Sequence[int] | None = None,
                     graphs: Sequence[ArchGraph] | None = None) -> list[nn.Module]:
        """Like :meth:`predict` for several models, batched: one encoder pass, or one per size
        bucket when the padded batch would exceed ``config.bucket_pairs`` node pairs (graphs are
        then sorted by size so that little is padded)."""
        if graphs is None:
            size = resolve_input_size(input_size, self)
            graphs = [trace(m, size) for m in models]
        if len(graphs) != len(models):
            raise ValueError(f"{len(models)} models but {len(graphs)} graphs")
        for bucket in size_buckets([len(g) for g in graphs], self.config.bucket_pairs):
            batch = self.collate([graphs[i] for i in bucket])
            dests = [dict(models[i].named_parameters()) for i in bucket]
            predicted = self.decoder(self.encode(batch), batch, out=dests)
            for i, tensors in zip(bucket, predicted):
                check_complete(models[i], tensors)
        return list(models)

    def fingerprint(self) -> str:
        """sha1 (16 hex digits) of the config and weights: which GHN a cached result belongs to."""
        import hashlib
        import json

        h = hashlib.sha1(json.dumps(self.config.identity(), sort_keys=True).encode())
        for k, v in sorted(self.state_dict().items()):
            h.update(k.encode())
            h.update(v.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    # ---- checkpoints --------------------------------------------------------------------------
    def save(self, path: str | Path, pretrained_cfg: PretrainedCfg | Mapping[str, Any] | None = None) -> Path:
        """Write ``path/model.safetensors`` and ``path/config.json`` (config, vocabulary, pretrained_cfg:
        ``pretrained_cfg`` if given, a :class:`PretrainedCfg` or its JSON dict, else the GHN's own)."""
        from graphparam.model.checkpoint import save

        return save(self, path, pretrained_cfg)

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, device: torch.device | str | None = None,
                        config_overrides: Mapping[str, Any] | None = None) -> "GHN":
        """Load a checkpoint directory or a registered name (``PRETRAINED``); never unpickles.
        ``config_overrides``: :class:`GHNConfig` fields to change that keep every tensor's shape (e.g.
        ``tile_layout``); one that changes a shape is refused with the tensor it concerns."""
        from graphparam.model.checkpoint import load

        return load(name_or_path, device, config_overrides)


def size_buckets(sizes: Sequence[int], max_pairs: int) -> list[list[int]]:
    """Indices grouped so that each group's padded size ``len(group) * max(N)**2`` stays within
    ``max_pairs`` (a single graph always forms a group); everything in one group if it fits."""
    if not sizes or len(sizes) * max(sizes) ** 2 <= max_pairs:
        return [list(range(len(sizes)))]
    buckets: list[list[int]] = []
    current: list[int] = []
    for i in sorted(range(len(sizes)), key=lambda k: sizes[k]):
        if current and (len(current) + 1) * sizes[i] ** 2 > max_pairs:
            buckets.append(current)
            current = []
        current.append(i)
    buckets.append(current)
    return buckets


@torch.no_grad()
def fill(model: nn.Module, tensors: dict[str, torch.Tensor]) -> nn.Module:
    """Copy predicted ``tensors`` into ``model``'s parameters (tied parameters are filled once)."""
    check_complete(model, tensors)
    for name, p in model.named_parameters():
        p.copy_(tensors[name])
    return model


def missing_parameters(model: nn.Module | Iterable[str], tensors: Mapping[str, Any]) -> list[str]:
    """Parameter names of ``model`` (or the given names) that ``tensors`` has no entry for, in order
    (sorted when the names come as a set)."""
    names = [n for n, _ in model.named_parameters()] if isinstance(model, nn.Module) else model
    missing = [n for n in names if n not in tensors]
    return sorted(missing) if isinstance(names, (set, frozenset)) else missing


def check_complete(model: nn.Module | Iterable[str], tensors: Mapping[str, Any], where: str = "") -> None:
    """:class:`MissingPredictionError` (a ``KeyError`` and a ``ValueError``) unless ``tensors`` has every
    parameter of ``model``: ``functional_call`` would silently use the model's own tensors instead."""
    missing = missing_parameters(model, tensors)
    if missing:
        raise MissingPredictionError(f"the GHN predicted no tensor for {len(missing)} parameter(s){where}, e.g. "
                                     + ", ".join(repr(n) for n in missing[:5]))
