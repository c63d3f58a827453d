"""Prediction runs on one intra-op CPU thread (graphparam.device.prediction_threads), so that a busy core
does not make every small op wait for a descheduled OpenMP thread."""

import torch
import torch.nn as nn

import graphparam
from graphparam.device import PREDICT_THREADS_ENV, prediction_threads


def test_prediction_threads_run_the_block_on_one_thread_then_restore():
    torch.set_num_threads(2)
    with prediction_threads() as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2


def test_prediction_threads_env_override(monkeypatch):
    monkeypatch.setenv(PREDICT_THREADS_ENV, "2")
    torch.set_num_threads(2)
    with prediction_threads() as n:
        assert n == 2 and torch.get_num_threads() == 2


def test_predict_api_predicts_on_one_thread():
    seen = []

    class Recorder(graphparam.GHN):
        def predict(self, model, input_size=(3, 32, 32), graph=None):
            seen.append(torch.get_num_threads())
            return model

    ghn = Recorder(graphparam.GHNConfig.named("tiny"))
    torch.set_num_threads(2)
    graphparam.predict(nn.Linear(2, 2), (2,), ghn=ghn)
    assert seen == [1] and torch.get_num_threads() == 2
