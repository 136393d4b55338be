"""The multi-view test loop: every view of every video, ensembled per video, gathered over ranks."""

import os
from typing import Dict, Optional

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode
from tqdm import tqdm

import slowfast.checkpoint as cu
from slowfast.datasets.loader import construct_loader
from slowfast.engine.placement import batch_to_device, prepare_model
from slowfast.engine.setup import setup_job
from slowfast.engine.step import autocast_context
from slowfast.evaluation.meters import TestMeter
from slowfast.models import build_model
from slowfast.utils import distributed as du
from slowfast.utils.logging import get_logger
from slowfast.utils.modules import unwrap_model
from slowfast.visualization.tensorboard_vis import build_tensorboard_writer, plot_eval

logger = get_logger(__name__)


def _views_per_forward(cfg: CfgNode) -> int:
    """Clips per forward pass on one process: TEST.BATCH_SIZE counts clips over the whole job."""
    return max(1, cfg.TEST.BATCH_SIZE // du.get_world_size())


@torch.no_grad()
def predict_videos(cfg: CfgNode, model: nn.Module, inputs, meter: TestMeter) -> torch.Tensor:
    """Scores of each video of a batch: [B, V, ...] pathway tensors -> views in chunks -> ensembled [B, K]."""
    batch, views = inputs[0].shape[:2]
    flat = [x.reshape((batch * views,) + tuple(x.shape[2:])) for x in inputs]
    step = _views_per_forward(cfg)
    preds = []
    for start in range(0, batch * views, step):
        chunk = [x[start : start + step] for x in flat]
        with autocast_context(cfg):
            preds.append(model(chunk).float())
    preds = torch.cat(preds, dim=0)
    return meter.ensemble(preds.view(batch, views, -1))


def perform_test(test_loader, model: nn.Module, test_meter: TestMeter, cfg: CfgNode, writer=None) -> Dict:
    """Run every test video through the model and return the final video-level stats."""
    model.eval()
    test_meter.iter_timer.reset()
    progress = tqdm(
        test_loader, desc="test", disable=not du.is_master_proc() or len(test_loader) < 2, dynamic_ncols=True
    )
    for cur_iter, (inputs, labels, video_idx, meta) in enumerate(progress):
        inputs, labels, meta = batch_to_device(cfg, inputs, labels, meta)
        video_preds = predict_videos(cfg, model, inputs, test_meter)
        test_meter.update_stats(video_preds, labels, video_idx)
        if (cur_iter + 1) % cfg.LOG_PERIOD == 0:
            test_meter.log_iter_stats(cur_iter, len(test_loader))
        test_meter.iter_timer.reset()
    test_meter.finalize()
    stats = test_meter.final_stats()
    if writer is not None:
        plot_eval(cfg, writer, test_meter.video_preds, test_meter.video_labels)
        for key, value in stats.items():
            if isinstance(value, float):
                writer.add_scalar(f"Test/{key}", value)
    if cfg.TEST.SAVE_RESULTS_PATH and du.is_master_proc():
        path = cfg.TEST.SAVE_RESULTS_PATH
        if not os.path.isabs(path):
            path = os.path.join(cfg.OUTPUT_DIR, path)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        torch.save({"preds": test_meter.video_preds, "labels": test_meter.video_labels}, path)
        logger.info("Saved predictions and labels of %d videos to %s", test_meter.num_videos, path)
    return stats


def test(cfg: CfgNode) -> Optional[Dict]:
    """Test `cfg`'s model on TEST.DATASET with TEST.NUM_ENSEMBLE_VIEWS x TEST.NUM_SPATIAL_CROPS views per video."""
    setup_job(cfg, "test")
    model = prepare_model(cfg, build_model(cfg))
    if cfg.LOG_MODEL_INFO and du.is_master_proc():
        from slowfast.models.stats import log_model_info

        log_model_info(unwrap_model(model), cfg, use_train_input=False)
    cu.load_test_checkpoint(cfg, model)
    if cfg.TEST.FOLD_BN:
        from slowfast.models.fold_bn import fold_batchnorm

        logger.info("TEST.FOLD_BN: folded %d BatchNorm layers into their convs", fold_batchnorm(model.eval()))
    test_loader = construct_loader(cfg, "test")
    logger.info("Testing model for %d iterations", len(test_loader))
    writer = build_tensorboard_writer(cfg, "test")
    if cfg.DETECTION.ENABLE:
        from slowfast.engine.detection import test_detection

        stats = test_detection(test_loader, model, cfg, writer)
    else:
        meter = TestMeter(
            len(test_loader.dataset), cfg.MODEL.NUM_CLASSES, cfg.DATA.ENSEMBLE_METHOD, cfg.DATA.MULTI_LABEL
        )
        stats = perform_test(test_loader, model, meter, cfg, writer)
        if du.is_master_proc() and "top1_acc" in stats:
            print(
                f"Final test top-1 accuracy: {stats['top1_acc']:.2f}% "
                f"(top-5 {stats['top5_acc']:.2f}%) over {stats['num_videos']} videos",
                flush=True,
            )
        if du.is_master_proc() and "map" in stats:
            print(f"Final test mAP: {stats['map']:.4f} over {stats['num_videos']} videos", flush=True)
    if writer is not None:
        writer.close()
    return stats
