import math

import pytest
import torch
import torch.nn as nn

from graphparam.data import ImageSet
from graphparam.model import GHN, GHNConfig
from graphparam.nas import (EmbeddingScorer, GHNInitializer, Ranking, grad_norm, graph_features, kendall_tau,
                            param_count, rank, synflow, top_k_precision)


@pytest.fixture(scope="module")
def ghn():
    torch.manual_seed(0)
    return GHN(GHNConfig.named("tiny")).eval()


def _cnn(width=8, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, 10))


def _mlp_mixerish(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 16, 4, stride=4), nn.Flatten(2), nn.LayerNorm(64), nn.GELU(),
                         nn.Flatten(1), nn.Linear(16 * 64, 10))


def _images(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return ImageSet(x, y, tuple("abcdefghij"), "toy")


def _mark_params(model, value=123.0):
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(value)
    return model


def test_initializer_fills_every_parameter(ghn):
    model = _mark_params(_cnn())
    out = GHNInitializer(ghn)(model)
    assert out is model
    for name, p in model.named_parameters():
        assert torch.isfinite(p).all(), name
        assert not torch.all(p == 123.0), f"{name} was not predicted"


def test_initializer_many_equals_one_by_one(ghn):
    makers = [lambda: _cnn(8), lambda: _cnn(12), _mlp_mixerish]
    init = GHNInitializer(ghn)
    single = [init(_mark_params(make())) for make in makers]
    batched = init.many([_mark_params(make()) for make in makers])
    for a, b in zip(single, batched):
        for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5, msg=name)


def test_initializer_many_chunks_like_one_pass(ghn):
    models = [_mark_params(_cnn(w)) for w in (4, 6, 8)]
    ref = [_mark_params(_cnn(w)) for w in (4, 6, 8)]
    GHNInitializer(ghn, batch_size=2).many(models)
    GHNInitializer(ghn, batch_size=None).many(ref)
    for a, b in zip(models, ref):
        for p, q in zip(a.parameters(), b.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


def test_rank_returns_permutation_with_every_score(ghn):
    cands = {"cnn4": _cnn(4), "cnn8": _cnn(8), "mixer": _mlp_mixerish(), "cnn6": _cnn(6)}
    scores = ("zero_shot", "zero_shot_loss", "params", "grad_norm", "synflow")
    r = rank(cands, _images(), ghn=ghn, score=scores, eval_images=32, eval_batch_size=16, proxy_batch=8)
    assert isinstance(r, Ranking)
    assert r.names == list(cands)
    assert sorted(r.order) == list(range(4))
    assert set(r.scores) == set(scores)
    for s in scores:
        assert len(r.scores[s]) == 4
    assert all(0 <= v <= 1 for v in r.scores["zero_shot"])
    assert all(math.isfinite(v) for v in r.scores["zero_shot_loss"] + r.scores["grad_norm"])
    zs = r.scores["zero_shot"]
    assert all(zs[a] >= zs[b] for a, b in zip(r.order, r.order[1:]))
    assert sorted(r.ranks) == list(range(4)) and r.top(2) == [r.names[i] for i in r.order[:2]]
    assert all(m is not None for m in r.models)


def test_rank_params_only_needs_no_ghn_and_k_keeps_best_models():
    r = rank([_cnn(4), _cnn(16), _cnn(8)], _images(8), score="params", k=1)
    assert r.order == [1, 2, 0]
    assert r.models[1] is not None and r.models[0] is None and r.models[2] is None
    assert r.details["param_count"][1] == param_count(r.models[1])


def test_rank_ghn_scores_need_ghn_and_scorer(ghn):
    with pytest.raises(ValueError, match="need a GHN"):
        rank([_cnn()], _images(8), score="zero_shot")
    with pytest.raises(ValueError, match="EmbeddingScorer"):
        rank([_cnn()], _images(8), ghn=ghn, score="embedding")
    with pytest.raises(ValueError, match="unknown score"):
        rank([_cnn()], _images(8), ghn=ghn, score="accuracy")


def test_embedding_scorer_fit_rank_and_round_trip(ghn, tmp_path):
    from graphparam.graph import trace

    models = [_cnn(w) for w in (4, 6, 8, 10, 12)] + [_mlp_mixerish()]
    X = graph_features(ghn, [trace(m, (3, 32, 32)) for m in models])
    assert X.shape == (6, 2 * ghn.config.hidden) and torch.isfinite(X).all()
    y = [0.1, 0.2, 0.3, 0.35, 0.4, 0.15]
    scorer = EmbeddingScorer().fit(X, y, ghn=ghn)
    assert scorer.alpha in scorer.alphas and math.isfinite(scorer.loo_rmse)
    pred = scorer.predict(X)
    scorer.save(tmp_path / "scorer")
    loaded = EmbeddingScorer.load(tmp_path / "scorer")
    torch.testing.assert_close(loaded.predict(X), pred)
    assert loaded.ghn_fingerprint == scorer.ghn_fingerprint and loaded.alpha == scorer.alpha
    r = rank({f"m{i}": m for i, m in enumerate(models)}, _images(16), ghn=ghn, score="embedding",
             scorer=loaded, eval_images=16)
    torch.testing.assert_close(torch.tensor(r.scores["embedding"], dtype=torch.float64), pred)


def test_embedding_scorer_load_refuses_non_safetensors(tmp_path):
    X = torch.randn(5, 4, dtype=torch.float64)
    EmbeddingScorer().fit(X, [0.1, 0.2, 0.3, 0.4, 0.5]).save(tmp_path)
    (tmp_path / "scorer.safetensors").write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(ValueError, match="safetensors"):
        EmbeddingScorer.load(tmp_path)


def test_zero_cost_proxies_finite_and_leave_model_unchanged():
    model = _cnn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = _images(8)
    g = grad_norm(model, data.images, data.labels)
    s = synflow(model)
    assert math.isfinite(g) and g > 0
    assert math.isfinite(s)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert synflow(_cnn(16)) > synflow(_cnn(4))  # more parameters on the path, larger flow


def test_ranking_metrics():
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert kendall_tau([4, 3, 2, 1], [10, 20, 30, 40]) == pytest.approx(-1.0)
    assert top_k_precision([5, 4, 3, 2, 1], [1, 2, 3, 4, 5], k=2) == 0.0
    assert top_k_precision([5, 4, 3, 2, 1], [5, 4, 1, 2, 3], k=2) == 1.0
    assert top_k_precision([float("nan"), 1, 0], [3, 2, 1], k=1) == 0.0
