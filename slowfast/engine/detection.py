"""Validation and test passes of a detection model (AVA): per-box scores -> official frame-mAP.

Each batch comes from ``ava_collate``: the model scores every box of every
keyframe (``model(inputs, meta["boxes"])``), the ``AVAMeter`` collects the
scores with the boxes as annotated and their ``(video, second)``, and after
the pass the predictions of all processes are evaluated on the main process,
which logs the per-class AP table, a ``json_stats`` line with ``map`` and
writes ``OUTPUT_DIR/detections_latest.csv``.
"""

from typing import Any, Dict

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

from slowfast.engine.placement import batch_to_device
from slowfast.engine.step import autocast_context, forward
from slowfast.evaluation.ava_meter import AVAMeter
from slowfast.utils import distributed as du
from slowfast.utils.logging import get_logger, log_json_stats

logger = get_logger(__name__)


def _dataset_of(loader) -> Any:
    dataset = loader.dataset
    while not hasattr(dataset, "video_idx_to_name") and hasattr(dataset, "dataset"):
        dataset = dataset.dataset
    return dataset


def build_meter(loader, cfg: CfgNode, mode: str) -> AVAMeter:
    """An ``AVAMeter`` for ``loader``'s dataset (which must provide ``video_idx_to_name``)."""
    dataset = _dataset_of(loader)
    if not hasattr(dataset, "video_idx_to_name"):
        raise TypeError(f"{type(dataset).__name__} is not a detection dataset (no video_idx_to_name)")
    return AVAMeter(cfg, mode, dataset.video_idx_to_name, len(dataset))


@torch.no_grad()
def predict_boxes(loader, model: nn.Module, cfg: CfgNode, meter: AVAMeter, desc: str) -> None:
    """Run ``model`` in eval mode on every batch of ``loader`` and feed the per-box scores to ``meter``."""
    model.eval()
    meter.reset()
    total = len(loader)
    for cur_iter, (inputs, labels, _, meta) in enumerate(loader):
        inputs, labels, meta = batch_to_device(cfg, inputs, labels, meta)
        with autocast_context(cfg):
            preds = forward(cfg, model, inputs, meta)
        meter.update_stats(preds, meta["ori_boxes"], meta["metadata"], meta["keyframe_index"])
        if (cur_iter + 1) % cfg.LOG_PERIOD == 0 or cur_iter + 1 == total:
            logger.info("%s: %d/%d batches", desc, cur_iter + 1, total)


def eval_detection_epoch(val_loader, model: nn.Module, cur_epoch: int, cfg: CfgNode, writer=None) -> Dict[str, Any]:
    """Score the validation keyframes after epoch ``cur_epoch`` (0-based); returns ``{"map": ..., ...}``."""
    meter = build_meter(val_loader, cfg, "val")
    predict_boxes(val_loader, model, cfg, meter, f"val epoch {cur_epoch + 1}")
    result = meter.finalize(cfg.OUTPUT_DIR if du.is_master_proc() else None)
    stats = {
        "_type": "val_epoch",
        "epoch": f"{cur_epoch + 1}/{cfg.SOLVER.MAX_EPOCH}",
        "map": result["map"],
        "num_keyframes": result["num_keyframes"],
        "num_boxes": result["num_boxes"],
    }
    log_json_stats(stats)
    if writer is not None:
        writer.add_scalar("Val/mAP", result["map"], cur_epoch)
    return {**stats, **{k: v for k, v in result.items() if k not in stats}}


def test_detection(test_loader, model: nn.Module, cfg: CfgNode, writer=None) -> Dict[str, Any]:
    """Score every test keyframe's boxes; returns ``{"map": ..., ...}`` and prints the final mAP."""
    meter = build_meter(test_loader, cfg, "test")
    predict_boxes(test_loader, model, cfg, meter, "test")
    result = meter.finalize(cfg.OUTPUT_DIR if du.is_master_proc() else None)
    stats = {
        "_type": "test_final",
        "split": "test_final",
        "map": result["map"],
        "num_keyframes": result["num_keyframes"],
        "num_boxes": result["num_boxes"],
    }
    log_json_stats(stats)
    if writer is not None:
        writer.add_scalar("Test/mAP", result["map"])
    if du.is_master_proc():
        print(
            f"Final test frame-mAP@0.5IOU: {result['map'] * 100:.2f}% over {result['num_keyframes']} keyframes "
            f"({result['num_boxes']} boxes)",
            flush=True,
        )
    return {**stats, **{k: v for k, v in result.items() if k not in stats}}
