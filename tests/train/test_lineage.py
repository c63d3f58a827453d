"""Training cost recorded through a GHN's --init-from lineage."""
from graphparam.pretrained_cfg import DEFAULT_CFG, PretrainedCfg
from graphparam.train.lineage import cost_record, lineage_cost, training_of


def test_lineage_cost_sums_through_ancestors_that_trained_elsewhere():
    gpu_leg = {"gpu_hours": 0.05, "parent": {"cpu_core_hours": 1.33, "steps": 1000}}  # no totals recorded
    assert lineage_cost(gpu_leg, "cpu_core_hours") == 1.33 and lineage_cost(gpu_leg, "gpu_hours") == 0.05
    assert lineage_cost({"cpu_core_hours": 2.0, "total_cpu_core_hours": 5.0}, "cpu_core_hours") == 5.0
    assert lineage_cost(None, "gpu_hours") == 0.0


def test_cost_record_counts_core_hours_on_cpu_and_device_hours_elsewhere():
    parent = {"cpu_core_hours": 1.0, "total_cpu_core_hours": 3.0}
    cpu = cost_record(3600.0, "cpu", threads=2, world_size=1, parent=parent)
    assert cpu == {"cpu_core_hours": 2.0, "total_cpu_core_hours": 5.0}
    gpu = cost_record(1800.0, "cuda", threads=16, world_size=2, parent=parent)
    assert gpu == {"gpu_hours": 1.0, "total_cpu_core_hours": 3.0, "total_gpu_hours": 1.0}
    assert cost_record(36.0, "cpu", threads=1, world_size=1, parent=None) == {"cpu_core_hours": 0.01,
                                                                             "total_cpu_core_hours": 0.01}


def test_training_of_reads_a_typed_config_a_checkpoint_dict_or_nothing():
    record = {"steps": 7, "cpu_core_hours": 1.5}
    assert training_of(PretrainedCfg(training=record)) == record
    assert training_of({"input_size": [3, 32, 32], "training": record}) == record
    assert training_of({"input_size": [3, 32, 32]}) is None and training_of(DEFAULT_CFG) is None
    assert training_of(None) is None
