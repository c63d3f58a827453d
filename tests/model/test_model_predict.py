"""Every parameter of a sample of models gets a finite tensor of exactly its shape; batching,
gradients, autocast and the structure of decoded weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from torch.func import functional_call

from graphparam.graph import trace
from graphparam.errors import ConfigError
from graphparam.model import GHN, GHNConfig
from model_nets import OddShapes, TokenNet

timm = pytest.importorskip("timm")
torchvision = pytest.importorskip("torchvision")


@pytest.fixture(scope="module")
def ghn() -> GHN:
    torch.manual_seed(0)
    return GHN(GHNConfig.named("tiny")).eval()


MODELS = {
    "timm_resnet18": (lambda: timm.create_model("resnet18", num_classes=10), (3, 32, 32)),
    "timm_vit_tiny": (lambda: timm.create_model("vit_tiny_patch16_224", img_size=32, patch_size=4, num_classes=10),
                      (3, 32, 32)),
    "timm_convnext_atto": (lambda: timm.create_model("convnext_atto", num_classes=10), (3, 32, 32)),
    "timm_mobilenetv3_small_050": (lambda: timm.create_model("mobilenetv3_small_050"), (3, 32, 32)),
    "tv_squeezenet1_1": (lambda: torchvision.models.squeezenet1_1(), (3, 64, 64)),
    "tv_shufflenet_v2_x0_5": (lambda: torchvision.models.shufflenet_v2_x0_5(num_classes=10), (3, 32, 32)),
    "odd_shapes": (OddShapes, (3, 32, 32)),
    "tokens_attention_embedding": (TokenNet, (16,)),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_every_parameter_predicted_with_its_shape(ghn, name):
    make, size = MODELS[name]
    torch.manual_seed(0)
    model = make()
    graph = trace(model, size)
    tensors = ghn.predict_tensors(graph)
    params = dict(model.named_parameters())
    assert set(tensors) == set(params)
    for pname, p in params.items():
        t = tensors[pname]
        assert t.shape == p.shape, pname
        assert t.dtype == torch.float32
        assert torch.isfinite(t).all(), pname
    # predict() fills the model in place and the model still runs
    before = {k: v.clone() for k, v in params.items()}
    assert ghn.predict(model, size) is model
    for pname, p in model.named_parameters():
        torch.testing.assert_close(p.detach(), tensors[pname], rtol=1e-5, atol=1e-6, msg=pname)
        assert p.numel() <= 1 or not torch.equal(p, before[pname]) or p.std() == 0, pname
    model.train()
    with torch.no_grad():
        out = model(torch.randn(4, *size))
    assert torch.isfinite(out).all()


def test_odd_shapes_values_follow_their_roles(ghn):
    model = OddShapes()
    t = ghn.predict_tensors(trace(model, (3, 32, 32)))
    assert t["stem.weight"].shape == (24, 3, 11, 11)
    assert t["dw.weight"].shape == (24, 1, 5, 5)
    assert t["head.weight"].shape == (1000, 4096)
    # weights: zero mean, std gain/sqrt(fan_in) (learned factor is exactly 1 untrained)
    # (the classifier starts at head_scale times its fan-in std)
    for name, fan_in, gain in (("head.weight", 4096, ghn.config.head_scale), ("wide.weight", 8, 2 ** 0.5), ("dw.weight", 25, 1.0),
                               ("grouped.weight", 6 * 9, 1.0)):
        w = t[name]
        assert abs(float(w.std(correction=0)) - gain / fan_in ** 0.5) < 0.1 * gain / fan_in ** 0.5, name
    # norm scales near 1, shifts and biases near 0, PReLU slopes in [0, 0.5]
    for name in ("gn.weight", "inorm.weight", "ln.weight"):
        assert ((t[name] - 1).abs() <= 0.5).all()
    for name in ("gn.bias", "ln.bias", "stem.bias", "head.bias"):
        assert (t[name].abs() <= 0.1).all()
    assert ((t["act.weight"] >= 0) & (t["act.weight"] <= 0.5)).all()


def test_no_repeated_rows_in_wide_layers(ghn):
    t = ghn.predict_tensors(trace(OddShapes(), (3, 32, 32)))
    for name in ("head.weight", "wide.weight"):
        w = t[name]
        assert torch.unique(w, dim=0).shape[0] == w.shape[0], name
    cols = t["head.weight"].t()
    assert torch.unique(cols, dim=0).shape[0] == cols.shape[0]
    # and no tiling: a row is not a copy of the row one block further down
    w = t["head.weight"]
    for block in (16, 32, 64, 128):
        assert not torch.allclose(w[:block], w[block:2 * block])


def test_token_net_roles(ghn):
    t = ghn.predict_tensors(trace(TokenNet(), (16,)))
    for name in ("embed.weight", "pos", "cls"):
        assert 0.01 < float(t[name].std(correction=0)) < 0.04, name
    assert ((t["gamma"] > 0) & (t["gamma"] <= 1)).all()
    assert t["attn.in_proj_weight"].shape == (192, 64)


def test_predict_many_equals_single_predictions(ghn):
    makers = [lambda: timm.create_model("resnet18", num_classes=10), OddShapes, TokenNet,
              lambda: timm.create_model("vit_tiny_patch16_224", img_size=32, patch_size=4, num_classes=10)]
    sizes = [(3, 32, 32), (3, 32, 32), (16,), (3, 32, 32)]
    graphs = [trace(m(), s) for m, s in zip(makers, sizes)]
    batched = ghn(graphs)
    for graph, out in zip(graphs, batched):
        single = ghn([graph])[0]
        assert set(single) == set(out)
        for name in single:
            torch.testing.assert_close(out[name], single[name], rtol=1e-4, atol=1e-5, msg=name)
    # and predict_many fills the same values as predict
    a = [m() for m in makers[:2]]
    b = [m() for m in makers[:2]]
    ghn.predict_many(a, (3, 32, 32))
    for m in b:
        ghn.predict(m, (3, 32, 32))
    for ma, mb in zip(a, b):
        for (n, pa), (_, pb) in zip(ma.named_parameters(), mb.named_parameters()):
            torch.testing.assert_close(pa, pb, rtol=1e-4, atol=1e-5, msg=n)


def test_gradients_flow_through_functional_call():
    torch.manual_seed(0)
    ghn = GHN(GHNConfig.named("tiny")).train()
    models = [timm.create_model("resnet18", num_classes=10), TokenNet()]
    graphs = [trace(models[0], (3, 32, 32)), trace(models[1], (16,))]
    params = ghn(graphs)
    loss = functional_call(models[0], params[0], (torch.randn(4, 3, 32, 32),)).logsumexp(1).mean()
    loss = loss + functional_call(models[1], params[1], (torch.rand(4, 16),)).logsumexp(1).mean()
    loss.backward()
    missing = [n for n, p in ghn.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()
               or p.grad.abs().sum() == 0]
    assert not missing, missing
    # the models' own parameters are untouched by functional_call
    assert all(p.grad is None for p in models[0].parameters())


def test_bf16_autocast_is_finite(ghn):
    graph = trace(timm.create_model("resnet18", num_classes=10), (3, 32, 32))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = ghn([graph])[0]
    ref = ghn([graph])[0]
    for name, t in out.items():
        assert t.dtype == torch.float32 and torch.isfinite(t).all(), name
        assert t.shape == ref[name].shape


def test_embed_returns_node_states(ghn):
    graphs = [trace(OddShapes(), (3, 32, 32)), trace(TokenNet(), (16,))]
    states = ghn.embed(graphs)
    assert [s.shape for s in states] == [(len(g), ghn.config.hidden) for g in graphs]
    assert all(torch.isfinite(s).all() for s in states)


def test_chunked_attention_matches_dense():
    torch.manual_seed(0)
    dense = GHN(GHNConfig.named("tiny")).eval()
    chunked = GHN(GHNConfig.named("tiny", dense_attn_limit=1, attn_block=16)).eval()
    chunked.load_state_dict(dense.state_dict())
    graph = trace(timm.create_model("resnet18", num_classes=10), (3, 32, 32))
    a, b = dense.embed([graph])[0], chunked.embed([graph])[0]
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_tied_parameters_are_predicted_once(ghn):
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(16, 16)
            self.b = nn.Linear(16, 16)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(torch.relu(self.a(x)))

    model = Tied()
    ghn.predict(model, (16,))
    assert model.a.weight is model.b.weight
    assert torch.isfinite(model.a.weight).all()


def test_scalar_conv3d_and_parameterless_models(ghn):
    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.temperature = nn.Parameter(torch.tensor(1.0))
            self.conv = nn.Conv3d(2, 4, (3, 5, 7), padding=(1, 2, 3))
            self.fc = nn.Linear(4, 1)

        def forward(self, x):
            return self.fc(self.conv(x).mean((2, 3, 4))) * self.temperature

    class Free(nn.Module):
        def forward(self, x):
            return torch.relu(x)

    mixed, free = trace(Mixed(), (2, 6, 6, 6)), trace(Free(), (3, 8, 8))
    out = ghn([free, mixed])
    assert out[0] == {}
    assert out[1]["temperature"].shape == () and torch.isfinite(out[1]["temperature"])
    assert out[1]["conv.weight"].shape == (4, 2, 3, 5, 7)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_predict_matches_cpu(ghn):
    model = timm.create_model("resnet18", num_classes=10)
    graph = trace(model, (3, 32, 32))
    cpu = ghn.predict_tensors(graph)
    gpu_ghn = GHN(ghn.config).cuda().eval()
    gpu_ghn.load_state_dict(ghn.state_dict())
    gpu = gpu_ghn.predict_tensors(graph)
    for name, t in cpu.items():
        assert gpu[name].device.type == "cuda"
        torch.testing.assert_close(gpu[name].cpu(), t, rtol=1e-3, atol=1e-4, msg=name)
    gpu_ghn.predict(model.cuda(), graph=graph)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = gpu_ghn([graph])[0]
    assert all(torch.isfinite(v).all() for v in out.values())


class _StandardizedConv(nn.Module):
    """A conv whose weight is a free parameter standardized in the forward (like NFNet's ScaledStdConv2d)."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(48, 32, 1, 1))
        self.stem = nn.Conv2d(3, 32, 3)

    def forward(self, x):
        w = self.weight
        w = (w - w.mean(dim=(1, 2, 3), keepdim=True)) / (w.std(dim=(1, 2, 3), keepdim=True) + 1e-5)
        return torch.nn.functional.conv2d(self.stem(x), w).mean((2, 3))


def test_free_conv_weight_decodes_with_a_conv_layout(ghn):
    from graphparam.model.batch import prepare

    graph = trace(_StandardizedConv(), (3, 16, 16))
    rule = next(s.rule for s in prepare(graph).slots if s.name == "weight")
    # out × in × kernel like a conv, not 1,536 rows of one column: channel tables stay conv-sized
    assert (rule.rows, rule.cols, rule.kernel) == (48, 32, (1, 1))
    w = ghn.predict_tensors(graph)["weight"]
    assert w.shape == (48, 32, 1, 1) and torch.isfinite(w).all() and w.std() > 0


def test_tile_layout_keeps_the_tile_and_permutes_its_copies():
    from graphparam.model.tiles import tile_layout

    t = 8
    index, sign = tile_layout(40, 20, t, torch.device("cpu"))
    index = index.view(40, 20)
    assert torch.equal(index[:t, :t], torch.arange(t * t).view(t, t)) and (sign[:t, :t] == 1).all()
    assert set(sign.unique().tolist()) <= {-1.0, 1.0}
    for rb in range(1, 5):  # every further block reads each tile entry once (a permutation), shifted
        block = index[rb * t:(rb + 1) * t, :t]
        assert torch.equal(block.flatten().sort().values, torch.arange(t * t))
        assert not torch.equal(block, index[:t, :t])


def test_repeat_tile_layout_gives_channel_c_the_tile_index_c_mod_t_in_every_layer():
    from graphparam.model.tiles import tile_layout

    t = 8
    index, sign = tile_layout(40, 20, t, torch.device("cpu"), "repeat")
    r, c = torch.arange(40)[:, None], torch.arange(20)[None, :]
    assert torch.equal(index.view(40, 20), (r % t) * t + c % t) and (sign == 1).all()
    with pytest.raises(ValueError, match="tile layout"):
        tile_layout(4, 4, t, torch.device("cpu"), "shuffled")


def test_tile_layout_is_a_config_field():
    torch.manual_seed(0)
    permuted = GHN(GHNConfig.named("tiny"))
    repeat = GHN(GHNConfig.named("tiny", tile_layout="repeat"))
    repeat.load_state_dict(permuted.state_dict())
    assert permuted.fingerprint() != repeat.fingerprint()
    assert "tile_layout" not in permuted.config.identity()  # fingerprints of older checkpoints are kept
    graph = trace(timm.create_model("resnet18", num_classes=10), (3, 32, 32))
    with torch.no_grad():
        a, b = permuted.predict_tensors(graph), repeat.predict_tensors(graph)
    t = permuted.config.tile
    w = b["layer4.0.conv2.weight"]  # 512 x 512 x 3 x 3: channels t apart are copies
    assert torch.equal(w[:t], w[t:2 * t]) and torch.equal(w[:, :t], w[:, t:2 * t])
    assert not torch.equal(a["layer4.0.conv2.weight"], w)
    with pytest.raises(ConfigError, match="tile_layout"):
        GHNConfig(tile_layout="shuffled")
    assert GHNConfig.from_dict({k: v for k, v in GHNConfig().to_dict().items() if k != "tile_layout"}).tile_layout \
        == "permuted"  # checkpoints from before the option decode as they did


class _Concat(nn.Module):
    """Producers of 5 and 3 channels concatenated and read by one conv, whose 8 columns read them in order."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Conv2d(3, 5, 1), nn.Conv2d(3, 3, 1), nn.Conv2d(8, 4, 1)

    def forward(self, x):
        return self.c(torch.cat([self.a(x), self.b(x)], dim=1))


def test_repeated_tiles_place_a_concatenated_producer_where_its_reader_reads_it():
    from graphparam.model.batch import prepare
    from graphparam.model.tiles import tile_layout

    graph = trace(_Concat(), (3, 8, 8))
    slots = {s.name: s for s in prepare(graph, repeat_tile=4).slots}
    assert slots["b.weight"].rows == (1, 2, 3) and slots["b.weight"].columns is None  # rows 5, 6, 7 mod 4
    assert all(slots[k].rows is None and slots[k].columns is None for k in ("a.weight", "c.weight"))
    assert all(s.rows is None for s in prepare(graph).slots)  # in order without a repeat tile
    index, _ = tile_layout(3, 2, 4, torch.device("cpu"), "repeat", ((1, 2, 3), (3, 0)))
    assert index.tolist() == [1 * 4 + 3, 1 * 4 + 0, 2 * 4 + 3, 2 * 4 + 0, 3 * 4 + 3, 3 * 4 + 0]
    with pytest.raises(ValueError, match="in order"):
        tile_layout(3, 2, 4, torch.device("cpu"), "permuted", ((1, 2, 3), None))


def _with_and_without(field: str) -> tuple[GHN, GHN]:
    """A GHN with the later boolean config ``field`` on, and the same weights with it off; checks that the field
    is part of the fingerprint only when on and that checkpoints saved before it load with it off."""
    torch.manual_seed(0)
    on = GHN(GHNConfig.named("tiny", tile_layout="repeat"))
    off = GHN(GHNConfig.named("tiny", tile_layout="repeat", **{field: False}))
    off.load_state_dict(on.state_dict())
    assert getattr(on.config, field) and field not in off.config.identity()
    assert on.fingerprint() != off.fingerprint()
    saved = {k: v for k, v in on.config.to_dict().items() if k != field}
    assert getattr(GHNConfig.from_dict(saved), field) is False  # checkpoints from before it decode as they did
    return on, off


def test_channel_order_is_a_config_field_older_checkpoints_decode_without():
    ordered, in_order = _with_and_without("channel_order")
    with torch.no_grad():
        a, b = ordered.predict_tensors(trace(_Concat(), (3, 8, 8))), in_order.predict_tensors(trace(_Concat(), (3, 8, 8)))
    assert torch.equal(a["a.weight"], b["a.weight"]) and torch.equal(a["c.weight"], b["c.weight"])
    assert not torch.equal(a["b.weight"], b["b.weight"])


class _SumAfterConcat(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.d = nn.Conv2d(3, 5, 1), nn.Conv2d(3, 3, 1), nn.Conv2d(3, 3, 1)
        self.c, self.e = nn.Conv2d(8, 4, 1), nn.Conv2d(3, 2, 1)

    def forward(self, x):
        b = self.b(x)
        return self.c(torch.cat([self.a(x), b], dim=1)), self.e(b + self.d(x))


def test_channel_ties_are_a_config_field_older_checkpoints_decode_without():
    tied, untied = _with_and_without("channel_ties")
    graph = trace(_SumAfterConcat(), (3, 8, 8))
    with torch.no_grad():
        a, b = tied.predict_tensors(graph), untied.predict_tensors(graph)
    # the same up to the order of a batched decode's sums
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in ("a.weight", "b.weight", "c.weight", "e.weight"))
    assert not torch.allclose(a["d.weight"], b["d.weight"], atol=1e-3)  # d is summed with b: tied to b's positions


def test_predicted_tensors_are_aligned_for_cuda_kernels():
    """Tensors passed to functional_call on CUDA must start on a 16-byte boundary (cuDNN loads 16 bytes at
    a time; a view at an odd offset of the decoder's batched buffer failed with 'misaligned address')."""
    from graphparam.model.assemble import ALIGNMENT

    torch.manual_seed(0)
    ghn = GHN(GHNConfig.named("tiny"))
    graphs = [trace(OddShapes(), (3, 32, 32)), trace(timm.create_model("resnet18", num_classes=10), (3, 32, 32))]
    for grad in (True, False):
        with torch.set_grad_enabled(grad):
            for params in ghn(graphs):
                misaligned = [k for k, v in params.items() if v.data_ptr() % ALIGNMENT]
                assert not misaligned and all(v.is_contiguous() for v in params.values())


def test_the_classifier_starts_at_head_scale_times_its_fan_in_std():
    from graphparam.model.batch import output_writers

    model = timm.create_model("resnet18", num_classes=10)
    graph = trace(model, (3, 32, 32))
    heads = output_writers(graph)
    assert [graph.nodes[i].params[0].name for i in heads] == ["fc.weight"]
    stds = {}
    for scale in (1.0, 0.1):
        torch.manual_seed(0)
        ghn = GHN(GHNConfig(hidden=32, layers=1, heads=2, head_scale=scale))
        with torch.no_grad():
            stds[scale] = ghn.predict_tensors(graph)["fc.weight"].std().item()
    assert stds[0.1] == pytest.approx(0.1 * stds[1.0], rel=1e-3)
    assert GHNConfig.named("small").head_scale == 0.1 and GHNConfig().head_scale == 1.0  # checkpoints keep 1.0
