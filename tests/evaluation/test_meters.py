"""Top-k metrics, test-time ensembling and per-video bookkeeping."""

import numpy as np
import pytest
import torch

from slowfast.evaluation.map import average_precision, mean_average_precision
from slowfast.evaluation.meters import TestMeter
from slowfast.evaluation.metrics import topk_accuracies, topk_errors, topks_correct


def test_topks_correct_by_hand():
    preds = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])
    labels = torch.tensor([1, 1, 0])
    top1, top2 = topks_correct(preds, labels, (1, 2))
    assert top1.item() == 1 and top2.item() == 2
    err1, err5 = topk_errors(preds, labels, (1, 5))
    assert err1.item() == pytest.approx(200 / 3) and err5.item() == pytest.approx(0.0)


def test_ensemble_sum_and_max():
    views = torch.tensor([[[0.6, 0.4], [0.1, 0.9], [0.3, 0.7]]])
    assert torch.allclose(TestMeter(1, 2, "sum").ensemble(views), torch.tensor([[1.0, 2.0]]))
    assert torch.allclose(TestMeter(1, 2, "max").ensemble(views), torch.tensor([[0.6, 0.9]]))


def test_each_video_counted_once_even_when_repeated():
    meter = TestMeter(3, 2)
    meter.update_stats(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1]), torch.tensor([0, 1]))
    # A padding sampler repeats video 0 in the last batch.
    meter.update_stats(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]), torch.tensor([0, 2]))
    stats = meter.final_stats(ks=(1,))
    assert stats["num_videos"] == 3
    assert stats["top1_acc"] == pytest.approx(200 / 3)


def test_missing_videos_are_an_error():
    meter = TestMeter(3, 2)
    meter.update_stats(torch.tensor([[1.0, 0.0]]), torch.tensor([0]), torch.tensor([0]))
    with pytest.raises(RuntimeError, match="2 of 3 test videos"):
        meter.final_stats()


def test_average_precision_by_hand():
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    targets = np.array([0, 1, 1, 0])
    assert average_precision(scores, targets) == pytest.approx((1 / 2 + 2 / 3) / 2)
    preds = np.stack([scores, scores], axis=1)
    labels = np.stack([targets, np.zeros(4)], axis=1)
    assert mean_average_precision(preds, labels) == pytest.approx((1 / 2 + 2 / 3) / 2)


def test_accuracies_complement_errors():
    preds = torch.randn(20, 7)
    labels = torch.randint(0, 7, (20,))
    for acc, err in zip(topk_accuracies(preds, labels, (1, 5)), topk_errors(preds, labels, (1, 5))):
        assert (acc + err).item() == pytest.approx(100.0)


def test_train_epoch_times_are_epoch_means(monkeypatch):
    import time

    from slowfast.config import get_cfg
    from slowfast.evaluation import meters

    logged = []
    monkeypatch.setattr(meters, "log_json_stats", logged.append)
    cfg = get_cfg()
    cfg.SOLVER.MAX_EPOCH, cfg.LOG_PERIOD = 5, 100
    meter = meters.TrainMeter(4, cfg)
    meter.iter_tic()
    for _ in range(4):
        time.sleep(0.02)  # waiting for data
        meter.data_toc()
        time.sleep(0.03)  # compute
        meter.iter_toc()
        meter.update_stats(10.0, 5.0, 1.0, 0.1, 2)
        meter.iter_tic()  # as the trainer does, also after the last iteration
    stats = meter.log_epoch_stats(1)
    assert 0.045 <= stats["dt"] < 0.2 and 0.018 <= stats["dt_data"] < stats["dt"]
    assert stats["dt_data"] + stats["dt_net"] == pytest.approx(stats["dt"], abs=0.005)
    # 3 of 5 epochs of 4 iterations left: 12 iterations at dt each.
    h, m, s = map(int, stats["eta"].split(":"))
    assert h * 3600 + m * 60 + s == int(12 * stats["dt"])
    meter.reset()
    assert meter.epoch_mean_times()["dt"] == 0.0
