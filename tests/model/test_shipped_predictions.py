"""The shipped GHN's predictions, pinned: refactoring the model code must not change them.

Each net's predicted tensors (names sorted, flattened in that order, float64) are summarised by their sum of
squares over eight equal consecutive chunks and eight values at fixed positions, computed with one torch thread
on CPU. The comparison allows a relative 1e-4: bit patterns differ between CPUs and kernel choices (every pinned
sha256 differed on an AVX-512 AMD EPYC), a change of behaviour moves these numbers by far more. A change of them is a
change of behaviour, not a refactor.
"""

from __future__ import annotations

import pytest
import torch

import graphparam

pytest.importorskip("timm")

CHUNKS = 8
EXPECTED = {
    'timm:resnet18': [1623.876, 813.2205, 269.487, 76.12431, 623.4884, 153.0141, 100.0943, 76.91119,
        0.1, 0.04278253, -0.008121872, -0.00119492, 0.01137712, -0.00132334, -0.007662605, 0.009509669],
    'timm:vit_tiny_patch16_224': [1353.416, 1219.336, 1400.628, 1177.461, 1425.59, 1150.675, 1380.642, 1066.064,
        -0.1, -0.004797434, -0.0484268, -0.02692988, -0.006754032, -0.01634411, -0.07009865, -0.005438101],
    'torchvision:shufflenet_v2_x0_5': [179.1762, 114.7202, 114.6213, 114.3442, 955.3252, 1149.023, 449.909, 485.7804,
        0.08374177, -0.02087775, 0.01021964, 0.03657856, -0.01377973, -0.01519141, 0.515699, 0.5359129],
    'arch_zoo:test[0]': [143.1099, 72.96103, 26.42019, 74.88463, 54.36676, 43.78721, 5.115559, 25.25785,
        -0.5499606, 0.001389329, 0.03562074, -0.3399511, -0.01955925, 0.06697407, -0.0694077, 0.5],
    'arch_zoo:test[1]': [150.1322, 209.0683, 95.34511, 180.2526, 21.46089, 17.40601, 48.53947, 181.1883,
        0.02624628, 0.02589213, -0.006666478, -0.04498013, -0.007967587, -0.0006274838, 0.043081, 0.5],
    'arch_zoo:test[2]': [94.49451, 102.503, 70.2917, 79.90716, 87.91504, 67.32018, 72.16722, 88.89525,
        0.03661426, 0.06773764, -0.04520137, 0.03683215, 0.03740886, -0.0627416, -0.04623314, 0.5],
    'arch_zoo:test[3]': [1006.167, 586.326, 283.2943, 410.9288, 314.2975, 195.1043, 706.891, 425.6769,
        -0.0001851186, -0.01822761, -0.001734124, 0.03724195, -0.0002191254, 0.006624719, 0.02011729, 1.5],
    'arch_zoo:test[4]': [49.44183, 73.84797, 61.30632, 43.32894, 37.5603, 45.69978, 39.05393, 65.08556,
        0.04158519, -0.106136, -0.05690866, -0.01768959, 0.04066645, 0.02832054, -0.002138564, 1.5],
}


def summary(tensors: dict[str, torch.Tensor]) -> list[float]:
    """Sums of squares of ``CHUNKS`` consecutive chunks of all tensors, then ``CHUNKS`` evenly spaced values."""
    flat = torch.cat([tensors[name].detach().to("cpu", torch.float64).flatten() for name in sorted(tensors)])
    squares = [float(c.square().sum()) for c in flat.chunk(CHUNKS)]
    picks = [float(flat[i]) for i in torch.linspace(0, flat.numel() - 1, CHUNKS).round().long()]
    return [float(f"{v:.7g}") for v in squares + picks]


def _nets():
    import arch_zoo

    yield "timm:resnet18", graphparam.create_model("timm:resnet18", num_classes=10, input_size=(3, 32, 32))
    yield "timm:vit_tiny_patch16_224", graphparam.create_model("timm:vit_tiny_patch16_224", num_classes=10,
                                                               input_size=(3, 32, 32))
    # channels reordered by concatenations, slices and shuffles (GHNConfig.channel_order)
    yield "torchvision:shufflenet_v2_x0_5", graphparam.create_model("torchvision:shufflenet_v2_x0_5", num_classes=10,
                                                                    input_size=(3, 32, 32))
    for i, spec in enumerate(arch_zoo.split("test")[:5]):
        yield f"arch_zoo:test[{i}]", spec.build(num_classes=10)


def compute() -> dict[str, list[float]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ghn = graphparam.load_ghn("cifar10")
        ghn.eval()
        out = {}
        for name, model in _nets():
            graph = graphparam.trace(model, (3, 32, 32))
            out[name] = summary(ghn.predict_tensors(graph))
        return out
    finally:
        torch.set_num_threads(threads)


def test_shipped_predictions_unchanged():
    got = compute()
    assert set(got) == set(EXPECTED)
    for name, values in got.items():
        assert values == pytest.approx(EXPECTED[name], rel=1e-4, abs=1e-7), name


if __name__ == "__main__":  # print the current summaries, for EXPECTED
    for k, v in compute().items():
        print(f"    {k!r}: [{', '.join(map(repr, v[:CHUNKS]))},\n        {', '.join(map(repr, v[CHUNKS:]))}],")
