"""Distillation: a saved teacher round-trips, its soft targets enter the loss, bad teachers are clear errors."""

import math

import pytest
import torch
import torch.nn.functional as F

from graphparam.errors import CheckpointError
from graphparam.sources import create_model
from graphparam.train.teacher import TeacherInfo, distill_loss, load_teacher, save_teacher, teacher_logits

from train_helpers import losses, run_tiny, tiny_data

TEACHER_REF = "zoo:3"


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model(TEACHER_REF, num_classes=10).eval()
    return save_teacher(model, TeacherInfo(model=TEACHER_REF, test_top1=0.1), tmp_path_factory.mktemp("teacher"))


def test_saved_teacher_reloads_with_identical_logits(teacher_dir):
    images = tiny_data()[0].subset(slice(0, 16))
    torch.manual_seed(0)
    original = create_model(TEACHER_REF, num_classes=10).eval()
    loaded, info = load_teacher(teacher_dir)
    assert info.model == TEACHER_REF and info.num_classes == 10
    assert torch.equal(teacher_logits(original, images), teacher_logits(loaded, images))


def test_missing_teacher_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="not a distillation teacher"):
        load_teacher(tmp_path)


def test_distill_loss_is_zero_at_the_target_and_matches_kl():
    logits = torch.randn(5, 10)
    assert distill_loss(logits, logits, 4.0).item() == pytest.approx(0.0, abs=1e-6)
    target = torch.randn(5, 10)
    expected = (F.softmax(target / 2, 1) * (F.log_softmax(target / 2, 1) - F.log_softmax(logits / 2, 1))).sum(1)
    assert distill_loss(logits, target, 2.0).item() == pytest.approx(4 * expected.mean().item(), rel=1e-5)


def test_distillation_changes_the_training_trajectory(tmp_path, teacher_dir):
    _, plain = run_tiny(tmp_path / "plain", steps=3)
    trainer, result = run_tiny(tmp_path / "distill", steps=3, distill=str(teacher_dir), distill_weight=0.9)
    assert result.steps == 3 and result.skipped == 0
    assert trainer.soft_targets.shape == (len(trainer.train_images), 10)
    a, b = losses(tmp_path / "plain"), losses(tmp_path / "distill")
    assert a[1] == pytest.approx(b[1])  # the logged loss is the CE; the first step's weights are the same
    assert all(math.isfinite(v) for v in b.values())
    assert a[3] != pytest.approx(b[3])  # the KL term changed the updates
