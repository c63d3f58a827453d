import copy
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from graphparam.data import ImageSet, normalize
from graphparam.evaluate import (EvalResult, batch_statistics_bn, evaluate, evaluation_order,
                                 summarize)


def _tiny_model(seed=0):
    torch.manual_seed(seed)
    m = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.5),
        nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))
    with torch.no_grad():  # running stats that would wreck the output if they were used
        for bn in (m[1], m[7]):
            bn.running_mean.fill_(5.0)
            bn.running_var.fill_(100.0)
            bn.num_batches_tracked.fill_(7)
    return m


def _class_sorted_set(n=60, size=8):
    g = torch.Generator().manual_seed(1)
    labels = torch.arange(n) * 4 // n  # sorted by class, like the shared test set
    x = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)
    x[:, 0] = (x[:, 0] // 2 + labels.view(n, 1, 1).to(torch.uint8) * 40)  # a learnable-ish signal
    return ImageSet(x, labels, ("a", "b", "c", "d"), "toy")


def test_order_independent_and_buffers_untouched():
    data = _class_sorted_set()
    model = _tiny_model()
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    r1 = evaluate(model, data, batch_size=16, progress=False)
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(42))
    r2 = evaluate(model, data.subset(perm), batch_size=16, progress=False)
    assert isinstance(r1, EvalResult) and r1.n == 60 and 0 <= r1.top1 <= 1 and r1.seconds >= 0
    assert r1.top1 == r2.top1 and r1.loss == pytest.approx(r2.loss, rel=1e-6)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(m.training for m in model.modules())
    assert all(bn.track_running_stats for bn in (model[1], model[7]))
    model.eval()
    evaluate(model, data, batch_size=16, progress=False)
    assert not any(m.training for m in model.modules())


def test_uses_batch_statistics_and_eval_dropout():
    data = _class_sorted_set()
    model = _tiny_model()
    result = evaluate(model, data, batch_size=16, progress=False)
    # reference: eval mode everywhere, BN without running buffers => batch statistics
    ref = copy.deepcopy(model).eval()
    for bn in (ref[1], ref[7]):
        bn.running_mean = bn.running_var = None
    order = evaluation_order(data)
    correct, loss = 0, 0.0
    with torch.no_grad():
        for idx in torch.tensor_split(order, math.ceil(len(data) / 16)):
            assert 14 <= len(idx) <= 16
            logits = ref(normalize(data.images[idx]))
            correct += (logits.argmax(1) == data.labels[idx]).sum().item()
            loss += F.cross_entropy(logits, data.labels[idx], reduction="sum").item()
    assert result.top1 == correct / len(data)
    assert result.loss == pytest.approx(loss / len(data), rel=1e-5)
    # plain eval mode (running stats) would give a different loss
    with torch.no_grad():
        plain = F.cross_entropy(model.eval()(normalize(data.images)), data.labels).item()
    assert plain != pytest.approx(result.loss, rel=1e-3)


def test_normalizes_with_the_mean_and_std_of_the_given_cfg():
    from graphparam.pretrained_cfg import DEFAULT_CFG, PretrainedCfg

    data = _class_sorted_set()
    model = _tiny_model()
    default = evaluate(model, data, batch_size=16, progress=False)
    same = evaluate(model, data, batch_size=16, progress=False, cfg=DEFAULT_CFG)
    assert (default.top1, default.loss) == (same.top1, same.loss)
    cfg = PretrainedCfg(mean=(0.1, 0.2, 0.3), std=(0.5, 0.6, 0.7))
    result = evaluate(model, data, batch_size=16, progress=False, cfg=cfg)
    ref = copy.deepcopy(model).eval()
    for bn in (ref[1], ref[7]):
        bn.running_mean = bn.running_var = None
    loss = 0.0
    with torch.no_grad():
        for idx in torch.tensor_split(evaluation_order(data), math.ceil(len(data) / 16)):
            logits = ref(normalize(data.images[idx], mean=cfg.mean, std=cfg.std))
            loss += F.cross_entropy(logits, data.labels[idx], reduction="sum").item()
    assert result.loss == pytest.approx(loss / len(data), rel=1e-5) and result.loss != default.loss


def test_batches_mix_classes():
    data = _class_sorted_set()
    first = evaluation_order(data)[:16]
    assert len(torch.unique(data.labels[first])) > 1
    assert sorted(evaluation_order(data).tolist()) == list(range(len(data)))


def test_modes_restored_on_error():
    model = _tiny_model().train()
    with pytest.raises(RuntimeError):
        with batch_statistics_bn(model):
            assert not model[5].training and model[1].training
            assert not model[1].track_running_stats
            raise RuntimeError
    assert all(m.training for m in model.modules()) and model[1].track_running_stats


def test_summarize():
    s = summarize({"a": 0.1, "b": 0.3, "c": 0.2})
    assert s["n"] == 3 and s["mean"] == pytest.approx(0.2)
    assert s["std"] == pytest.approx((2 / 3 * 0.01) ** 0.5)
    assert (s["min"], s["max"], s["argmin"], s["argmax"]) == (0.1, 0.3, "a", "b")
    with pytest.raises(ValueError):
        summarize({})


@pytest.mark.parametrize("head", [3, 5])
def test_head_not_matching_the_classes_gives_clear_error(head):
    from graphparam.errors import HeadMismatchError

    data = _class_sorted_set()                          # 4 classes
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, head))
    with pytest.raises(HeadMismatchError) as info:
        evaluate(model, data, progress=False)
    assert (info.value.model_classes, info.value.data_classes) == (head, 4)
    assert f"{head} outputs" in str(info.value) and "4 classes" in str(info.value)


def test_model_built_for_other_images_gives_input_size_error():
    from graphparam.errors import GraphparamError, InputSizeError

    data = _class_sorted_set()                          # 8x8 images
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 4))   # a model for 32x32 inputs
    with pytest.raises(InputSizeError, match=r"3x8x8 images of toy: RuntimeError: mat1 and mat2") as info:
        evaluate(model, data, progress=False)
    assert isinstance(info.value, GraphparamError) and len(str(info.value).splitlines()) == 1
