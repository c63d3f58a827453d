"""Fine-tuning a network from a GHN prediction versus from its default initialization.

``finetune(model, train, test, epochs=..., lr=...)`` trains ``model`` in place with one fixed
recipe and reports the test accuracy after every epoch (and, with ``evals_per_epoch=k``, at every
``1/k`` of an epoch, to see how fast a start pays off); ``compare_inits`` runs that recipe on
fresh copies of one architecture started from different initializations (by default the GHN
prediction and the model's own default initialization) with identical data order, so the only
difference between the runs is the starting point.

Recipe
    Cross-entropy on augmented batches (random crop with 4-pixel padding and horizontal flip,
    :class:`graphparam.data.BatchStream`), SGD with Nesterov momentum or AdamW, weight decay on
    weights of dimension >= 2 only (not on biases and norm scales/shifts), learning rate with an
    optional linear warmup and then a per-step cosine decay to zero over all steps, optional
    gradient-norm clipping. An "epoch" is ``ceil(len(train) / batch_size)`` steps, or
    ``max_steps_per_epoch`` steps when that is smaller (then an "epoch" is not a full pass over the
    training set: report it that way).

Determinism and fairness
    The batch order and the augmentation draws come from seeded CPU generators
    (``BatchStream(seed=seed)``) and dropout/drop-path from ``torch.manual_seed(seed)``: two runs
    with the same seed see exactly the same images in the same order, whatever the initialization.

BatchNorm policy (one choice, used everywhere)
    Parameters predicted by the GHN come without BatchNorm running statistics. Training runs in
    train mode (batch statistics; running buffers are updated but never read). Test accuracy,
    before training ("epoch 0") and after every epoch, is measured with the standard zero-shot
    protocol :func:`graphparam.evaluate.evaluate`: every BatchNorm layer normalizes with the
    statistics of its evaluation batch (``eval_batch_size`` images, 250 by default), everything
    else in eval mode. The numbers are therefore directly comparable to zero-shot numbers, for
    both initializations. Running statistics are never used for evaluation here.

Evaluation points
    Test accuracy is measured before training (step 0) and after step ``ceil(j * S / k)`` of every
    epoch for ``j = 1..k`` (``S`` steps per epoch, ``k = evals_per_epoch``; repeated steps, when
    ``k > S``, count once), so the last point of an epoch is its end. An evaluation reads no random
    generator and restores every module's mode, so extra points leave the training run unchanged:
    with ``k = 1`` the run and its numbers are those of per-epoch evaluation.
    :func:`steps_to_reach` reads such a curve: the steps a run needs to reach a given accuracy.

Divergence
    If a training loss is not finite, training stops; the remaining evaluation points repeat the
    test accuracy measured after divergence (the model is broken) and ``FinetuneResult.diverged`` is set.

Layout: :mod:`.recipe` (``finetune``), :mod:`.compare` (``compare_inits``), :mod:`.result`
(``FinetuneResult`` and reading its curve), :mod:`.report` (table and plot).
"""

from graphparam.finetune.compare import InitFn, compare_inits
from graphparam.finetune.recipe import OPTIMIZERS, check_recipe, default_device, finetune, lr_at, make_optimizer
from graphparam.finetune.report import format_results, plot_curves
from graphparam.finetune.result import FinetuneResult, eval_marks, steps_to_reach

__all__ = ["FinetuneResult", "finetune", "check_recipe", "compare_inits", "plot_curves", "format_results",
           "make_optimizer", "lr_at", "default_device", "eval_marks", "steps_to_reach", "InitFn", "OPTIMIZERS"]
