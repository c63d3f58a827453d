import logging

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import graphparam.graph as G
from graphparam.graph import Role


def owned_names(graph):
    return sorted(slot.name for _, slot in graph.slots())


def test_timm_resnet18_every_parameter_owned_once():
    timm = pytest.importorskip("timm")
    model = timm.create_model("resnet18", num_classes=10)
    graph = G.trace(model, (3, 32, 32))
    assert owned_names(graph) == sorted(n for n, _ in model.named_parameters())
    assert graph.num_params == sum(p.numel() for p in model.parameters())
    kinds = {n.kind for n in graph.nodes}
    assert {"input", "output", "conv", "batch_norm", "relu", "add", "linear"} <= kinds
    conv1 = next(n for n in graph.nodes if any(s.name == "conv1.weight" for s in n.params))
    assert conv1.kind == "conv" and conv1.attrs["stride"] == (2, 2) and conv1.attrs["act_after"] is None
    bn = next(n for n in graph.nodes if any(s.name == "bn1.weight" for s in n.params))
    assert {s.role for s in bn.params} == {Role.NORM_SCALE, Role.NORM_SHIFT}
    assert bn.attrs["act_after"] == "relu"


def test_torchvision_vit_attention_owns_its_projections():
    pytest.importorskip("torchvision")
    from torchvision.models.vision_transformer import VisionTransformer

    model = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64)
    graph = G.trace(model, (3, 32, 32))
    assert owned_names(graph) == sorted(n for n, _ in model.named_parameters())
    attention = [n for n in graph.nodes if n.kind == "attention"]
    assert len(attention) == 2 and len(attention[0].params) == 4
    roles = {n.params[0].role for n in graph.nodes if n.kind == "parameter"}
    assert roles == {Role.CLS_TOKEN, Role.POS_EMBEDDING}


def test_timm_vit_parameters_get_structural_roles():
    timm = pytest.importorskip("timm")
    model = timm.create_model("vit_tiny_patch16_224", img_size=32, patch_size=8, depth=2, init_values=1e-5)
    graph = G.trace(model, (3, 32, 32))
    roles = {slot.name: slot.role for _, slot in graph.slots()}
    assert roles["cls_token"] is Role.CLS_TOKEN
    assert roles["pos_embed"] is Role.POS_EMBEDDING
    assert roles["blocks.0.ls1.gamma"] is Role.LAYER_SCALE
    assert not any(n.kind in ("identity", "dropout") for n in graph.nodes)


def test_depthwise_conv_is_its_own_kind():
    model = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.Conv2d(8, 16, 1), nn.Conv2d(16, 16, 3, groups=4))
    kinds = [n.kind for n in G.trace(model, (8, 16, 16)).nodes if n.params]
    assert kinds == ["dwconv", "conv", "conv"]


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:
            return self.fc(x)
        return x


def test_data_dependent_control_flow_gives_clear_error():
    with pytest.raises(G.TraceError, match="could not trace DataDependent"):
        G.trace(DataDependent(), (4,))


class ShapeDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        if x.shape[-1] == 4:  # fx cannot follow this branch; torch.export specialises it
            return self.fc(x)
        return x


def test_shape_dependent_branch_falls_back_to_export_and_logs_why(caplog):
    with caplog.at_level(logging.INFO, logger="graphparam.graph.trace"):
        graph = G.trace(ShapeDependent(), (4,))
    assert graph.frontend == "export"
    assert "ShapeDependent: torch.fx failed" in caplog.text
    assert owned_names(graph) == ["fc.bias", "fc.weight"]


def test_export_leaves_out_the_running_statistics_that_fx_keeps_inside_the_norm():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4))
    fx_graph, exported = G.trace(net, (3, 8, 8), frontend="fx"), G.trace(net, (3, 8, 8), frontend="export")
    assert exported.frontend == "export" and "constant" not in {n.kind for n in exported.nodes}
    assert sorted(n.kind for n in exported.nodes) == sorted(n.kind for n in fx_graph.nodes)


class SquaredReLU(nn.Module):  # timm's StarReLU: s * relu(x) ** 2 + b
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return self.scale * F.relu(self.fc(x)) ** 2


def test_a_python_power_traces_with_fx():
    graph = G.trace(SquaredReLU(), (4,))
    assert getattr(graph, "frontend", "fx") == "fx" and "activation" in {n.kind for n in graph.nodes}
    assert owned_names(graph) == ["fc.bias", "fc.weight", "scale"]


def test_timm_drop_path_is_a_dropout_leaf_that_leaves_no_node():
    timm = pytest.importorskip("timm")

    def block(drop: nn.Module) -> nn.Module:
        return nn.Sequential(nn.Linear(4, 4), drop, nn.GELU())

    dropped = G.trace(block(timm.layers.DropPath(0.1)).train(), (4,))  # train mode: a random mask when traced through
    assert getattr(dropped, "frontend", "fx") == "fx"
    assert dropped.structure_hash() == G.trace(block(nn.Identity()), (4,)).structure_hash()


def test_torchvision_convnext_with_stochastic_depth_traces_with_fx():
    pytest.importorskip("torchvision")
    import subprocess
    import sys

    # a fresh process: the library's rows are registered by the first trace, before fx patches what it wraps;
    # traced in train mode, stochastic depth once scaled the channel tags into other producers' ids (IndexError)
    code = """
import torchvision
from graphparam.graph import trace
model = torchvision.models.convnext_tiny(num_classes=10, stochastic_depth_prob=0.5).train()
graph = trace(model, (3, 32, 32), frontend="fx")
print(graph.num_params == sum(p.numel() for p in model.parameters()))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().splitlines()[-1] == "True", out.stderr[-2000:]


def my_custom_op(x):
    return x * 2


torch.fx.wrap("my_custom_op")


class CustomOp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return my_custom_op(self.fc(x))


def test_custom_op_not_in_registry_names_op_and_place():
    with pytest.raises(G.UnsupportedOperation, match="my_custom_op"):
        G.trace(CustomOp(), (4,), frontend="fx")


def test_custom_op_kept_as_unknown_when_not_strict():
    graph = G.trace(CustomOp(), (4,), frontend="fx", strict=False)
    assert [n.kind for n in graph.nodes].count("unknown") == 1
    assert graph.num_params == 20


def test_custom_op_registered_with_one_row():
    G.register("mul", functions=[my_custom_op])
    try:
        graph = G.trace(CustomOp(), (4,), frontend="fx")
        assert "mul" in [n.kind for n in graph.nodes]
    finally:
        from graphparam.graph import registry

        registry._FUNCTIONS.pop(my_custom_op)


def test_model_without_parameters_gives_graph_with_no_owned_tensors():
    graph = G.trace(nn.Sequential(nn.ReLU(), nn.MaxPool2d(2)), (3, 8, 8))
    assert graph.num_params == 0 and not graph.param_nodes
    assert [n.kind for n in graph.nodes] == ["input", "relu", "max_pool", "output"]


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 8)
        self.head = nn.Linear(8, 10, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, x):
        return self.head(self.embed(x.long().clamp(0, 9)))


def test_tied_weights_have_one_owner_and_one_reference():
    model = Tied()
    graph = G.trace(model, (5,))
    owners = [n for n in graph.nodes if n.params]
    assert [n.kind for n in owners] == ["embedding"]
    assert owners[0].params[0].role is Role.EMBEDDING
    head = next(n for n in graph.nodes if n.kind == "linear")
    assert head.shared == ["embed.weight"] and not head.params
    assert graph.num_params == 80


def test_wrong_input_size_gives_clear_error():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    with pytest.raises(G.InputSizeError, match=r"does not accept an input of size \(3, 16, 16\)"):
        G.trace(model, (3, 16, 16))


@pytest.mark.parametrize("bad", [(3, -1, 8), "3x32x32", (3.0, 32, 32)])
def test_malformed_input_size_gives_clear_error(bad):
    with pytest.raises(G.InputSizeError, match="input_size"):
        G.trace(nn.Linear(2, 2), bad)


def test_not_a_module_gives_clear_error():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        G.trace("resnet18", (3, 32, 32))


def test_unused_parameter_is_kept_and_warned():
    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.spare = nn.Parameter(torch.zeros(3))

        def forward(self, x):
            return self.fc(x)

    with pytest.warns(UserWarning, match="never used"):
        graph = G.trace(Unused(), (4,))
    assert graph.num_params == 23


def test_functional_weights_are_owned_by_the_call():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(8, 3, 3, 3))
            self.b = nn.Parameter(torch.zeros(8))

        def forward(self, x):
            return F.relu(F.conv2d(x, self.w, self.b, stride=2, padding=1))

    graph = G.trace(Functional(), (3, 8, 8))
    conv = next(n for n in graph.nodes if n.kind == "conv")
    assert [(s.name, s.role) for s in conv.params] == [("w", Role.WEIGHT), ("b", Role.BIAS)]
    assert conv.attrs["stride"] == 2 and conv.attrs["act_after"] == "relu"


def test_shortest_paths_are_capped_directed_and_cached():
    model = nn.Sequential(*[nn.Linear(4, 4) for _ in range(12)])
    graph = G.trace(model, (4,))
    fwd, bwd = graph.shortest_paths(max_distance=8)
    n = len(graph.nodes)
    assert fwd.shape == (n, n) and fwd[0, 1] == 1 and fwd[0, n - 1] == 8
    assert fwd[1, 0] == -1 and bwd[1, 0] == 1
    assert np.array_equal(fwd, bwd.T)
    assert graph.shortest_paths(max_distance=8)[0] is fwd


def test_conversions_keep_nodes_edges_and_features():
    graph = G.trace(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), (3, 8, 8))
    g = graph.to_networkx()
    assert g.number_of_nodes() == len(graph.nodes) and g.number_of_edges() == len(graph.edges)
    assert g.nodes[1]["kind"] == "conv" and g.nodes[1]["params"][0][0] == "0.weight"
    data = graph.to_pyg()
    assert data.num_nodes == len(graph.nodes) and data.edge_index.shape == (2, len(graph.edges))
    from graphparam.graph.convert import to_pyg_batch

    batch = to_pyg_batch([graph, graph])
    assert batch.num_graphs == 2 and batch.num_nodes == 2 * len(graph.nodes)


def test_graph_rejects_double_ownership_and_backward_edges():
    slot = G.ParamSlot("w", (2,), Role.WEIGHT)
    with pytest.raises(G.GraphError, match="owned by both"):
        G.ArchGraph([G.Node("a", "linear", params=[slot]), G.Node("b", "linear", params=[slot])], [(0, 1)])
    with pytest.raises(G.GraphError, match="topological"):
        G.ArchGraph([G.Node("a", "input"), G.Node("b", "output")], [(1, 0)])


def test_unknown_kind_cannot_be_registered():
    with pytest.raises(ValueError, match="unknown kind"):
        G.register("convolution9000", functions=[len])


def test_draw_writes_png(tmp_path):
    graph = G.trace(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), (3, 8, 8))
    path = tmp_path / "g.png"
    graph.draw(str(path))
    assert path.read_bytes()[:4] == b"\x89PNG"


class ScaledBlock(nn.Module):
    """A residual scale that starts at one, a layer scale read through a view, an addcmul affine through views."""

    def __init__(self, c: int = 8):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.res_scale = nn.Parameter(torch.ones(c))
        self.gamma = nn.Parameter(torch.full((c,), 1e-5))
        self.alpha = nn.Parameter(torch.zeros(c))
        self.beta = nn.Parameter(torch.zeros(c))

    def forward(self, x):
        y = self.conv(x) * self.gamma.view(1, -1, 1, 1)
        y = torch.addcmul(self.beta.view(1, -1, 1, 1), self.alpha.view(1, -1, 1, 1), y)
        return x * self.res_scale.reshape(1, -1, 1, 1) + y


@pytest.mark.parametrize("frontend", ["fx", "export"])
def test_free_multipliers_take_their_role_from_use_and_initial_value(frontend):
    roles = {slot.name: slot.role for _, slot in G.trace(ScaledBlock(), (8, 8, 8), frontend=frontend).slots()}
    assert roles["res_scale"] is Role.NORM_SCALE  # starts at one: decoded about one
    assert roles["gamma"] is Role.LAYER_SCALE  # starts near zero, used through a view
    assert roles["alpha"] is Role.LAYER_SCALE and roles["beta"] is Role.BIAS  # addcmul's positions
    trained = ScaledBlock()
    with torch.no_grad():
        trained.res_scale.uniform_(0.5, 1.5)
    trained_roles = {slot.name: slot.role for _, slot in G.trace(trained, (8, 8, 8)).slots()}
    assert trained_roles["res_scale"] is Role.LAYER_SCALE  # not one constant: the structural rule


def test_timm_poolformerv2_residual_scales_start_at_one():
    pytest.importorskip("timm")
    from timm.models.metaformer import MetaFormer, Pooling

    model = MetaFormer(num_classes=10, depths=(1, 1, 1, 1), dims=(8, 8, 16, 16), token_mixers=Pooling,
                       use_mlp_head=False)  # PoolFormer v2: residual scales in the last two stages
    roles = {slot.name: slot.role for _, slot in G.trace(model, (3, 32, 32)).slots()}
    assert roles["stages.2.blocks.0.res_scale1.scale"] is Role.NORM_SCALE
    assert roles["stages.0.blocks.0.mlp.act.scale"] is Role.NORM_SCALE  # StarReLU's scale starts at one
    assert roles["stages.0.blocks.0.mlp.act.bias"] is Role.BIAS


def test_onnx_export_gives_free_multipliers_the_torch_roles():
    pytest.importorskip("onnx")
    from graphparam.graph.onnx import export_onnx, trace_onnx

    model = ScaledBlock().eval()
    roles = {slot.name: slot.role for _, slot in trace_onnx(export_onnx(model, (8, 8, 8))).slots()}
    assert roles == {slot.name: slot.role for _, slot in G.trace(model, (8, 8, 8)).slots()}
    assert roles["res_scale"] is Role.NORM_SCALE and roles["gamma"] is Role.LAYER_SCALE


def test_a_prediction_written_into_a_model_leaves_its_roles_as_first_traced():
    model = ScaledBlock()
    first = {slot.name: slot.role for _, slot in G.trace(model, (8, 8, 8)).slots()}
    with torch.no_grad():  # what a prediction at the norm-scale bound writes: constant, but not the initial one
        model.res_scale.fill_(0.5)
        model.gamma.fill_(1.0)
    assert {slot.name: slot.role for _, slot in G.trace(model, (8, 8, 8)).slots()} == first
