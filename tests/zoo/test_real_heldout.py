"""arch_zoo.real_heldout: the committed held-out list of real models and its structure hashes."""

from arch_zoo import heldout_hashes, real_heldout


def test_committed_list_covers_the_families_in_both_forms():
    data = real_heldout.load()
    models = real_heldout.models()
    refs = [m["ref"] for m in models]
    assert len(models) >= 40 and len(set(refs)) == len(refs)
    families = {m["family"] for m in models}
    assert {"resnet", "se_eca", "mobilenet", "efficientnet", "regnet", "densenet", "convnext", "ghostnet", "repvgg",
            "dla", "hrnet", "mlp_mixer", "poolformer", "vit", "swin"} <= families
    assert {"timm:resnet50", "timm:resnet50d", "timm:resnext50_32x4d", "timm:wide_resnet50_2"} <= set(refs)
    assert set(data["hashes"]) == set(refs) and not set(data["dropped"]) & set(refs)
    for forms in data["hashes"].values():
        assert set(forms) == set(real_heldout.FORMS)
        assert all(len(v) == 40 and int(v, 16) >= 0 for v in forms.values())
    assert [m["ref"] for m in models] == [r for r, _ in real_heldout.CANDIDATES if r in data["hashes"]]


def test_heldout_hashes_are_every_committed_hash():
    hashes = heldout_hashes()
    assert isinstance(hashes, frozenset)
    assert hashes == {h for forms in real_heldout.load()["hashes"].values() for h in forms.values()}
    assert len(hashes) > 80


def test_committed_hashes_match_the_traced_graphs():
    """Every model in both forms (about 40 CPU-seconds): a new timm, torch or tracer that changes a graph makes
    its committed hash stale, and a training stream would no longer skip a net of that structure (the tracer
    changes of the thirteenth session did so for Swin-T, PoolFormerV2-S12 and MobileViT-XXS until they were
    regenerated with ``python -m arch_zoo.real_heldout --write``)."""
    assert real_heldout.check(progress=False) == []
