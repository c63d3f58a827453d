"""Neural architecture search helpers: fast ranking of candidate nets.

``GHNInitializer(ghn)`` (from :mod:`graphparam.predict`, also importable here) is a drop-in
replacement for a search loop's own initialization::

    init = GHNInitializer(GHN.from_pretrained("cifar10"))
    model = init(spec.build())            # one net, parameters predicted in place
    models = init.many([s.build() for s in specs])   # batched through ghn.predict_many

``rank(candidates, data, ghn=ghn, score=("zero_shot", "params"))`` predicts the parameters of all
candidates (batched GHN passes) and scores each one; the result is a :class:`Ranking`.

Scores (higher is better for every one):

``zero_shot``       top-1 accuracy of the GHN-predicted net on a small held-out image set, with the
                    zero-shot protocol of :func:`graphparam.evaluate.evaluate` (batch-statistics BN).
``zero_shot_loss``  minus the cross-entropy of the same evaluation (a finer-grained, tie-free variant).
``embedding``       prediction of an :class:`EmbeddingScorer` (ridge regression on mean- and
                    max-pooled GHN node states, fitted on (architecture, trained accuracy) pairs).
``params``          log10 of the parameter count (baseline).
``grad_norm``       zero-cost proxy: L2 norm of the gradient of the cross-entropy on one batch.
``synflow``         zero-cost proxy: log10 of the SynFlow saliency (Tanaka et al., 2020).

The proxies are plain functions (:func:`grad_norm`, :func:`synflow`, :func:`param_count`); in
:func:`rank` they are computed on the candidates as initialized there, i.e. on the GHN prediction
when a GHN is given, else on the default initialization (the usual zero-cost setting).

One concept per module: :mod:`.proxies` (parameter count and zero-cost proxies), :mod:`.metrics`
(Kendall's tau, top-k precision), :mod:`.embedding` (:class:`EmbeddingScorer`), :mod:`.candidates`
(candidates built into named models), :mod:`.scores` (:data:`SCORE_TABLE`) and :mod:`.ranking`
(:func:`rank`, :class:`Ranking`).
"""

from graphparam.nas.embedding import EmbeddingScorer, graph_features
from graphparam.nas.metrics import kendall_tau, top_k_precision
from graphparam.nas.proxies import grad_norm, param_count, synflow
from graphparam.nas.ranking import Ranking, held_out_subset, rank
from graphparam.nas.scores import SCORE_TABLE, SCORES, Score
from graphparam.predict import GHNInitializer

__all__ = ["GHNInitializer", "rank", "Ranking", "EmbeddingScorer", "SCORES", "SCORE_TABLE", "Score", "param_count",
           "grad_norm", "synflow", "graph_features", "kendall_tau", "top_k_precision",
           "held_out_subset"]
