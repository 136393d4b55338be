"""Mean average precision over classes for multi-label video classification (Charades).

As PySlowFast reports it: per-class average precision (scikit-learn's
definition, ties in score forming one threshold) averaged over the classes that
have at least one positive; classes without positives are left out.
"""

import numpy as np


def average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """AP of one class: ``sum_n (R_n - R_{n-1}) P_n`` over the distinct score thresholds, high to low.

    Without ties this is the mean precision at the rank of each positive. NaN when
    the class has no positive.
    """
    scores = np.asarray(scores, dtype=np.float64)
    hits = np.asarray(targets) > 0
    num_pos = int(hits.sum())
    if num_pos == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    scores, hits = scores[order], hits[order]
    # Last position of each run of equal scores: one threshold per distinct score.
    ends = np.r_[np.flatnonzero(np.diff(scores) != 0), scores.size - 1]
    true_pos = np.cumsum(hits)[ends]
    precision = true_pos / (ends + 1)
    recall_steps = np.diff(np.r_[0, true_pos]) / num_pos
    return float(np.sum(recall_steps * precision))


def mean_average_precision(preds: np.ndarray, labels: np.ndarray) -> float:
    """Mean of per-class AP over the classes that have at least one positive."""
    if preds.shape != labels.shape:
        raise ValueError(f"Predictions {preds.shape} and labels {labels.shape} must have the same shape.")
    if preds.ndim != 2:
        raise ValueError(f"Predictions must be [num_videos, num_classes], got shape {preds.shape}.")
    aps = [average_precision(preds[:, c], labels[:, c]) for c in range(preds.shape[1])]
    valid = [ap for ap in aps if not np.isnan(ap)]
    if not valid:
        raise ValueError("No class has a positive label; mAP is undefined.")
    return float(np.mean(valid))
