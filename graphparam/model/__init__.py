"""The graph hypernetwork (GHN): predicts every parameter of a network from its computation graph.

API::

    from graphparam.model import GHN, GHNConfig
    ghn = GHN(GHNConfig.named("small"))               # tiny | small | base | large
    ghn.predict(model)                                # trace + predict, fills model in place
    ghn.predict_many(models)                          # one batched encoder pass
    # (traced at ghn.pretrained_cfg.input_size unless input_size= says otherwise)
    tensors = ghn.predict_tensors(graph)              # {param name: tensor}, no autograd
    params = ghn(graphs)                              # differentiable, list of dicts, float32
    states = ghn.embed(graphs)                        # node states per graph, N_g × hidden
    ghn.save("dir"); GHN.from_pretrained("dir")       # safetensors + config.json, never pickle

Pipeline (one concept per module): :mod:`.batch` (graphs → padded tensors and a slot table,
cached per graph) → :mod:`.embed` (node embedding) → :mod:`.transformer` (graph transformer
with shortest-path attention biases) → :mod:`.decoder` (per-slot conditioning; :mod:`.tiles`
decodes weights from tiles, :mod:`.vectors` biases and norm parameters, :mod:`.assemble` puts them
together per graph; any shape) → :mod:`.normalize` (operation-dependent scaling) ;
:mod:`.checkpoint`.

BatchNorm policy: predicted parameters come without running statistics; nets are run with batch
statistics (train-mode BatchNorm) both in training and in zero-shot evaluation.
"""

from graphparam.model.batch import GraphBatch, collate
from graphparam.model.checkpoint import PRETRAINED, CheckpointError, list_pretrained
from graphparam.model.config import ConfigError, GHNConfig
from graphparam.model.ghn import GHN, fill

__all__ = ["GHN", "GHNConfig", "GraphBatch", "CheckpointError", "ConfigError", "PRETRAINED", "collate", "fill",
           "list_pretrained"]
