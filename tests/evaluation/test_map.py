"""Charades mAP: brute-force per-class AP, scikit-learn's average_precision_score, val/test meters."""

import numpy as np
import pytest
import torch

from slowfast.config import get_cfg
from slowfast.evaluation.map import average_precision, mean_average_precision
from slowfast.evaluation.meters import TestMeter, ValMeter


def _brute_force_ap(scores, targets):
    """Mean over positives of precision among all items scoring at least as high."""
    precisions = []
    for i in np.flatnonzero(targets > 0):
        above = scores >= scores[i]
        precisions.append((targets[above] > 0).sum() / above.sum())
    return float(np.mean(precisions)) if precisions else float("nan")


def _brute_force_map(preds, labels):
    aps = [_brute_force_ap(preds[:, c], labels[:, c]) for c in range(preds.shape[1])]
    return float(np.nanmean(aps))


@pytest.mark.parametrize("seed", range(20))
def test_map_equals_brute_force_on_random_cases(seed):
    rng = np.random.default_rng(seed)
    n, k = rng.integers(2, 40), rng.integers(1, 12)
    labels = (rng.random((n, k)) < rng.uniform(0.05, 0.6)).astype(np.float64)
    labels[0, 0] = 1.0  # at least one class with a positive
    # Coarse scores give many ties, the case where rank-based AP definitions disagree.
    preds = rng.integers(0, 5, (n, k)).astype(np.float32) if seed % 2 else rng.random((n, k))
    assert mean_average_precision(preds, labels) == pytest.approx(_brute_force_map(preds, labels), abs=1e-12)


@pytest.mark.parametrize("seed", range(10))
def test_map_equals_sklearn_mean_where_no_class_is_empty(seed):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(100 + seed)
    n, k = 30, 8
    labels = (rng.random((n, k)) < 0.3).astype(np.float64)
    labels[rng.integers(0, n, k), np.arange(k)] = 1.0
    preds = rng.integers(0, 6, (n, k)).astype(np.float64) if seed % 2 else rng.random((n, k))
    expected = float(np.mean(metrics.average_precision_score(labels, preds, average=None)))
    assert mean_average_precision(preds, labels) == pytest.approx(expected, abs=1e-12)


def test_classes_without_positives_are_left_out():
    preds = np.array([[0.9, 0.1], [0.2, 0.8]])
    labels = np.array([[1.0, 0.0], [0.0, 0.0]])
    assert mean_average_precision(preds, labels) == 1.0
    assert np.isnan(average_precision(preds[:, 1], labels[:, 1]))
    with pytest.raises(ValueError, match="No class has a positive"):
        mean_average_precision(preds, np.zeros_like(labels))


def test_val_meter_reports_map_of_multi_label_predictions():
    cfg = get_cfg()
    cfg.DATA.MULTI_LABEL = True
    meter = ValMeter(2, cfg)
    preds = torch.rand(6, 4)
    labels = (torch.rand(6, 4) < 0.5).float()
    labels[0] = 1.0
    meter.update_predictions(preds[:3], labels[:3])
    meter.update_predictions(preds[3:], labels[3:])
    stats = meter.log_epoch_stats(0)
    assert stats["map"] == pytest.approx(mean_average_precision(preds.numpy(), labels.numpy()))


def test_val_meter_keeps_single_label_predictions_for_plots_without_map():
    meter = ValMeter(1, get_cfg())
    meter.update_stats(50.0, 0.0, 4)
    meter.update_predictions(torch.rand(4, 3), torch.tensor([0, 1, 2, 0]))
    stats = meter.log_epoch_stats(0)
    assert "map" not in stats and stats["top1_err"] == 50.0


def test_test_meter_max_ensembles_then_reports_map():
    meter = TestMeter(2, 3, ensemble_method="max", multi_label=True)
    views = torch.tensor([[[0.1, 0.9, 0.2], [0.8, 0.1, 0.3]], [[0.7, 0.2, 0.1], [0.2, 0.3, 0.6]]])
    video_preds = meter.ensemble(views)
    assert torch.equal(video_preds, torch.tensor([[0.8, 0.9, 0.3], [0.7, 0.3, 0.6]]))
    labels = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    meter.update_stats(video_preds, labels, torch.tensor([0, 1]))
    stats = meter.final_stats()
    assert stats["map"] == pytest.approx(mean_average_precision(video_preds.numpy(), labels.numpy()))
