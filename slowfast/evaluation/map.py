"""Mean average precision over classes for multi-label video classification (Charades)."""

import numpy as np


def average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """Non-interpolated AP of one class: mean precision at the rank of each positive.

    Ties in score are broken by input order (a stable sort), so the result is deterministic.
    """
    order = np.argsort(-scores, kind="stable")
    hits = targets[order] > 0
    num_pos = hits.sum()
    if num_pos == 0:
        return float("nan")
    precision_at_hit = np.cumsum(hits)[hits] / (np.flatnonzero(hits) + 1)
    return float(precision_at_hit.sum() / num_pos)


def mean_average_precision(preds: np.ndarray, labels: np.ndarray) -> float:
    """Mean of per-class AP over the classes that have at least one positive."""
    if preds.shape != labels.shape:
        raise ValueError(f"Predictions {preds.shape} and labels {labels.shape} must have the same shape.")
    aps = [average_precision(preds[:, c], labels[:, c]) for c in range(preds.shape[1])]
    valid = [ap for ap in aps if not np.isnan(ap)]
    if not valid:
        raise ValueError("No class has a positive label; mAP is undefined.")
    return float(np.mean(valid))
