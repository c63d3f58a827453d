"""ONNX front end: export → trace_onnx → write_initializers round trips, and clear errors on bad input."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper

from graphparam.graph import Role, trace
from graphparam.graph.onnx import (PARAMS_METADATA_KEY, OnnxError, export_onnx, trace_onnx,
                                   write_initializers)
from graphparam.graph.registry import UnsupportedOperation

ort = pytest.importorskip("onnxruntime")


class SmallCNN(nn.Module):
    """conv, BN, relu, max pool, depthwise conv, silu, global pool, linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=8)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.silu(self.bn2(self.conv2(x)))  # exports as x * Sigmoid(x)
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class TinyTransformer(nn.Module):
    def __init__(self, dim=32, heads=2, tokens=8):
        super().__init__()
        self.heads = heads
        self.pos = nn.Parameter(0.02 * torch.randn(1, tokens, dim))
        self.ln1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ln2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 2 * dim)
        self.fc2 = nn.Linear(2 * dim, dim)
        self.head = nn.Linear(dim, 5)

    def forward(self, x):  # x: (B, tokens, dim)
        x = x + self.pos
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn = torch.softmax(q @ k.transpose(-2, -1) * (d // self.heads) ** -0.5, dim=-1)
        x = x + self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))
        x = x + self.fc2(F.gelu(self.fc1(self.ln2(x))))
        return self.head(x.mean(1))


def _randomise_bn(model: nn.Module) -> None:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)


CASES = {"cnn": (SmallCNN, (3, 16, 16)), "transformer": (TinyTransformer, (8, 32))}


@pytest.fixture(scope="module", params=list(CASES))
def exported(request, tmp_path_factory):
    cls, size = CASES[request.param]
    torch.manual_seed(0)
    model = cls().eval()
    _randomise_bn(model)
    path = tmp_path_factory.mktemp("onnx") / f"{request.param}.onnx"
    proto = export_onnx(model, size, path)
    return request.param, model, size, path, proto


def _run(proto: onnx.ModelProto, x: torch.Tensor) -> np.ndarray:
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]


def test_slots_equal_named_parameters(exported):
    name, model, size, path, _ = exported
    graph = trace_onnx(path)
    slots = {slot.name: slot.shape for _, slot in graph.slots()}
    assert slots == {n: tuple(p.shape) for n, p in model.named_parameters()}
    assert sum(1 for _ in graph.slots()) == len(slots)
    assert graph.frontend == "onnx" and graph.input_size == size
    assert not any("running" in s for s in slots)  # BN statistics are buffers, not slots
    assert all(node.kind != "unknown" for node in graph.nodes)


def test_onnx_graph_has_the_torch_graphs_kinds_and_roles(exported):
    name, model, size, path, _ = exported
    onnx_graph, torch_graph = trace_onnx(path), trace(model, size)
    assert Counter(n.kind for n in onnx_graph.nodes) == Counter(n.kind for n in torch_graph.nodes)
    roles = {slot.name: slot.role for _, slot in onnx_graph.slots()}
    assert roles == {slot.name: slot.role for _, slot in torch_graph.slots()}
    owner = {slot.name: onnx_graph.nodes[i] for i, slot in onnx_graph.slots()}
    if name == "cnn":
        assert owner["conv2.weight"].kind == "dwconv" and owner["conv2.weight"].attrs["stride"] == (2, 2)
        assert owner["conv2.weight"].attrs["groups"] == 8 and owner["conv1.weight"].attrs["kernel_size"] == (3, 3)
        assert roles["bn1.weight"] is Role.NORM_SCALE and roles["bn1.bias"] is Role.NORM_SHIFT
        assert owner["bn1.weight"].attrs["act_after"] == "relu" and owner["bn2.weight"].attrs["act_after"] == "silu"
    else:  # MatMul(x, Transpose(W)) + Add(b) is one linear owning weight and bias
        assert owner["qkv.weight"] is owner["qkv.bias"] and owner["qkv.weight"].kind == "linear"
        assert owner["qkv.weight"].attrs["out_features"] == 96
        assert roles["pos"] is Role.POS_EMBEDDING and roles["ln1.weight"] is Role.NORM_SCALE


def test_mapping_without_parameter_metadata(exported):
    """Models of other origin: exporter marks only, then neither (heuristic) give the same slots."""
    _, model, _, _, proto = exported
    expected = {n: tuple(p.shape) for n, p in model.named_parameters()}
    stripped = onnx.ModelProto()
    stripped.CopyFrom(proto)
    del stripped.metadata_props[:]
    assert {s.name: s.shape for _, s in trace_onnx(stripped).slots()} == expected
    for vi in (*stripped.graph.value_info, *stripped.graph.input):
        del vi.metadata_props[:]
    assert {s.name: s.shape for _, s in trace_onnx(stripped).slots()} == expected
    only = ["fc.weight"] if "fc.weight" in expected else ["head.weight"]
    assert [s.name for _, s in trace_onnx(proto, param_names=only).slots()] == only


def test_roundtrip_reinitialised_params_match_torch(exported, tmp_path):
    _, model, size, path, proto = exported
    x = torch.randn(1, *size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert np.abs(_run(proto, x) - model(x).numpy()).max() < 1e-4
    torch.manual_seed(123)
    fresh = type(model)().eval()
    new = {n: p.detach().clone() for n, p in fresh.named_parameters()}
    other = type(model)().eval()
    other.load_state_dict(model.state_dict())  # same BN statistics as the exported model
    with torch.no_grad():
        for n, p in other.named_parameters():
            p.copy_(new[n])
        want = other(x).numpy()
    out_path = tmp_path / "reinit.onnx"
    written = write_initializers(path, new, out_path)
    got = _run(onnx.load(str(out_path)), x)
    assert np.abs(got - want).max() < 1e-4
    assert np.abs(want - model(x).detach().numpy()).max() > 1e-3  # the new tensors made a difference
    assert np.abs(_run(written, x) - want).max() < 1e-4
    # the source model is untouched
    with torch.no_grad():
        assert np.abs(_run(proto, x) - model(x).numpy()).max() < 1e-4


def test_write_initializers_rejects_unknown_names_and_shapes(exported):
    _, model, _, _, proto = exported
    name, param = next(iter(model.named_parameters()))
    with pytest.raises(OnnxError, match="no_such_tensor"):
        write_initializers(proto, {"no_such_tensor": param})
    with pytest.raises(OnnxError, match="shape"):
        write_initializers(proto, {name: torch.zeros(param.numel() + 1)})


def test_export_records_parameters_and_restores_mode(tmp_path):
    model = SmallCNN().train()
    proto = export_onnx(model, (3, 16, 16), tmp_path / "m.onnx")
    assert model.training and all(m.training for m in model.modules())
    meta = {p.key: p.value for p in proto.metadata_props}
    assert PARAMS_METADATA_KEY in meta
    inits = {t.name for t in proto.graph.initializer}
    assert {n for n, _ in model.named_parameters()} <= inits
    assert {"bn1.running_mean", "bn1.running_var"} <= inits  # statistics kept, not folded


# ---- bad inputs ------------------------------------------------------------------------------
def _one_line_error(excinfo) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg and msg
    exc = excinfo.value  # no chained protobuf traceback under it
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)
    return msg


def test_truncated_onnx_file_gives_clear_error(exported, tmp_path):
    _, _, _, path, _ = exported
    data = path.read_bytes()
    for frac in (0.1, 0.5, 0.9, 0.999):
        bad = tmp_path / f"truncated_{frac}.onnx"
        bad.write_bytes(data[: int(len(data) * frac)])
        with pytest.raises(OnnxError) as excinfo:
            trace_onnx(bad)
        assert str(bad) in _one_line_error(excinfo)


def test_non_onnx_file_gives_clear_error(tmp_path):
    text = tmp_path / "notes.onnx"
    text.write_text("this is not a model\n" * 20)
    noise = tmp_path / "noise.onnx"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    for bad in (text, noise, empty):
        with pytest.raises(OnnxError) as excinfo:
            trace_onnx(bad)
        assert str(bad) in _one_line_error(excinfo)
    with pytest.raises(OnnxError, match="directory"):
        trace_onnx(tmp_path)
    assert issubclass(OnnxError, ValueError)


def test_missing_onnx_path_gives_clear_error(tmp_path):
    missing = tmp_path / "nowhere" / "model.onnx"
    with pytest.raises(FileNotFoundError, match="model.onnx"):
        trace_onnx(missing)
    with pytest.raises(FileNotFoundError):
        write_initializers(missing, {})


def _custom_op_model() -> onnx.ModelProto:
    w = helper.make_tensor("conv.weight", TensorProto.FLOAT, [4, 3, 3, 3], np.zeros(108, np.float32))
    nodes = [helper.make_node("Conv", ["x", "conv.weight"], ["c"], name="conv_0"),
             helper.make_node("Frobnicate", ["c"], ["y"], name="frob_1")]
    graph = helper.make_graph(nodes, "custom", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_unknown_onnx_op_names_op():
    model = _custom_op_model()
    with pytest.raises(UnsupportedOperation) as excinfo:
        trace_onnx(model)
    assert "Frobnicate" in str(excinfo.value) and "frob_1" in str(excinfo.value)
    graph = trace_onnx(model, strict=False)
    unknown = [n for n in graph.nodes if n.kind == "unknown"]
    assert [(n.name, n.target) for n in unknown] == [("frob_1", "Frobnicate")]
    assert [s.name for _, s in graph.slots()] == ["conv.weight"]
    assert graph.nodes[graph.param_nodes[0]].attrs["out_channels"] == 4


class TinyLM(nn.Module):
    """Token embedding (ONNX Gather, table at input 0) tied to the output projection."""

    def __init__(self, vocab=50, dim=16):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.ln = nn.LayerNorm(dim)

    def forward(self, ids):
        return F.linear(self.ln(self.emb(ids)), self.emb.weight)


def test_embedding_gather_owns_table_and_tied_head_shares_it():
    model = TinyLM().eval()
    ids = torch.randint(0, 50, (1, 6))
    proto = export_onnx(model, (6,), example=ids)
    graph = trace_onnx(proto)
    owner = {slot.name: graph.nodes[i] for i, slot in graph.slots()}
    assert set(owner) == {"emb.weight", "ln.weight", "ln.bias"}
    assert owner["emb.weight"].kind == "embedding" and owner["emb.weight"].params[0].role is Role.EMBEDDING
    assert any("emb.weight" in n.shared for n in graph.nodes if n is not owner["emb.weight"])
    with torch.no_grad():
        new = {"emb.weight": torch.randn(50, 16)}
        model.emb.weight.copy_(new["emb.weight"])
        want = model(ids).numpy()
    sess = ort.InferenceSession(write_initializers(proto, new).SerializeToString(), providers=["CPUExecutionProvider"])
    assert np.abs(sess.run(None, {sess.get_inputs()[0].name: ids.numpy()})[0] - want).max() < 1e-4
