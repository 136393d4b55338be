"""Top-k classification metrics."""

from typing import List, Sequence

import torch


def topks_correct(preds: torch.Tensor, labels: torch.Tensor, ks: Sequence[int]) -> List[torch.Tensor]:
    """Number of samples whose label is among the top-k predictions, for each k.

    Args:
        preds: [N, num_classes] scores.
        labels: [N] class indices.
        ks: the k values; each is capped at the number of classes.
    """
    if preds.size(0) != labels.size(0):
        raise ValueError(f"Batch dim of predictions ({preds.size(0)}) and labels ({labels.size(0)}) differ.")
    max_k = min(max(ks), preds.size(1))
    _, top_inds = torch.topk(preds, max_k, dim=1, largest=True, sorted=True)
    hits = top_inds == labels.view(-1, 1).to(top_inds.dtype)
    return [hits[:, : min(k, max_k)].any(dim=1).float().sum() for k in ks]


def topk_errors(preds: torch.Tensor, labels: torch.Tensor, ks: Sequence[int]) -> List[torch.Tensor]:
    """Top-k error in percent, for each k."""
    n = preds.size(0)
    return [(1.0 - c / n) * 100.0 for c in topks_correct(preds, labels, ks)]


def topk_accuracies(preds: torch.Tensor, labels: torch.Tensor, ks: Sequence[int]) -> List[torch.Tensor]:
    """Top-k accuracy in percent, for each k."""
    n = preds.size(0)
    return [(c / n) * 100.0 for c in topks_correct(preds, labels, ks)]
