"""Nets built in worker processes (``arch_workers``) are the nets built in the training process."""

import ast
import inspect

import torch

from graphparam.train.archs import ArchSource
from train_helpers import losses, run_tiny, tiny_sampler


def _signature(arch) -> tuple:
    """Seed, hash, the graph's parameter slots, the parameters' shapes and the buffers' values."""
    slots = [(s.name, tuple(s.shape), s.role) for node in arch.graph.nodes for s in node.params]
    shapes = [(k, tuple(v.shape), v.requires_grad) for k, v in arch.net.named_parameters()]
    buffers = {k: v.detach().clone() for k, v in arch.net.named_buffers()}
    return arch.seed, arch.hash, slots, shapes, arch.num_params, buffers


def _same(a, b) -> bool:
    return a[:5] == b[:5] and a[5].keys() == b[5].keys() and all(torch.equal(a[5][k], b[5][k]) for k in a[5])


def test_workers_give_the_same_nets_in_the_same_order_and_resume_at_the_same_position():
    serial = ArchSource(start=5, sampler=tiny_sampler)
    pooled = ArchSource(start=5, sampler=tiny_sampler, workers=2, max_output_std=1e9)
    try:
        first = [_signature(a) for a in serial.take(4)]
        got = [_signature(a) for a in pooled.take(4)]
        assert all(_same(a, b) for a, b in zip(first, got))
        assert pooled.state_dict() == serial.state_dict() == {"position": 9, "skipped": 0}
        arch = pooled.next()
        assert arch.output_std is not None  # the probe ran in the worker, on the default initialization
        assert all(not p.is_meta and not p.any() and p.is_leaf for p in arch.net.parameters())  # zeros arrive

        resumed = ArchSource(sampler=tiny_sampler, workers=1)
        resumed.load_state_dict(serial.state_dict())
        assert _same(_signature(resumed.next()), _signature(serial.next()))
        resumed.close()
    finally:
        pooled.close()


def test_workers_skip_cached_nets_and_wrap_an_arch_pool():
    source = ArchSource(pool=3, sampler=tiny_sampler, workers=1)
    try:
        seeds = [a.seed for a in source.take(7)]
        assert seeds == [0, 1, 2, 0, 1, 2, 0]
        assert source.cache.misses == 3 and source.cache.hits == 4
    finally:
        source.close()


def test_a_run_with_arch_workers_computes_the_losses_of_one_without(tmp_path):
    run_tiny(tmp_path / "serial", steps=3)
    trainer, result = run_tiny(tmp_path / "pooled", steps=3, arch_workers=2)
    assert result.steps == 3 and trainer.archs.builder._pool is None  # the run closed its workers
    assert losses(tmp_path / "pooled") == losses(tmp_path / "serial")


def test_a_net_equal_in_structure_to_a_held_out_model_is_skipped():
    first = ArchSource(sampler=tiny_sampler).next()
    source = ArchSource(sampler=tiny_sampler)
    source.excluded = frozenset({first.graph.structure_hash()})
    assert source.next().seed != first.seed and source.skipped == 1


def test_building_a_net_does_not_import_the_arch_stream():
    """archs -> build_pool -> build and archs -> build, no edge back to archs (not even a lazy one)."""
    import graphparam.train.archs as archs
    import graphparam.train.build as build
    import graphparam.train.build_pool as build_pool

    for module in (build, build_pool):
        tree = ast.parse(inspect.getsource(module))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert "graphparam.train.archs" not in imported, module.__name__
    from graphparam.train.archs import Arch, ArchCache, ArchSource, build_arch, output_std  # re-exported

    assert (Arch, build_arch, output_std) == (build.Arch, build.build_arch, build.output_std)
    assert (ArchCache, ArchSource) == (archs.ArchCache, archs.ArchSource)
