"""Collects per-box AVA predictions over an epoch and scores them with the official frame-mAP.

The meter keeps this process's predictions; ``finalize`` gathers them from all
processes, drops keyframes that a distributed sampler repeated, puts the rows
in dataset order (so results do not depend on the process count), checks that
every keyframe of the dataset was predicted, and on the main process computes
the mAP (``slowfast.evaluation.ava_eval``, under ``AVA.EVAL_PROTOCOL``) against
``AVA.GROUNDTRUTH_FILE`` with ``AVA.LABEL_MAP_FILE`` and ``AVA.EXCLUSION_FILE``
(all under ``AVA.ANNOTATION_DIR`` unless absolute), logs the per-class AP table
and writes the detections CSV in the official format.
"""

import logging
import os
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from fvcore.common.config import CfgNode

from slowfast.datasets import ava_helper
from slowfast.evaluation import ava_eval
from slowfast.utils import distributed as du

logger = logging.getLogger(__name__)

def ava_file(cfg: CfgNode, name: str) -> str:
    """``name`` under ``AVA.ANNOTATION_DIR`` (an absolute ``name`` is kept)."""
    return os.path.join(cfg.AVA.ANNOTATION_DIR, name)


def mini_groundtruth(rows: ava_eval.AvaBoxes) -> ava_eval.AvaBoxes:
    """The rows of the validation subset PySlowFast tracks during training (``ava_helper.in_val_subset``)."""
    keep = np.flatnonzero(ava_helper.in_val_subset(rows.timestamps))
    return rows.take(keep, canonical_for=rows.canonical_for)


def _comm_device() -> torch.device:
    if du.get_world_size() > 1 and torch.distributed.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _first_copy_per_keyframe(keyframes: np.ndarray, item_uid: np.ndarray) -> np.ndarray:
    """Row mask keeping, for each keyframe, only the rows of the first item (lowest uid) that predicted it."""
    if keyframes.size == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort((item_uid, keyframes))
    ks = keyframes[order]
    first = np.r_[True, ks[1:] != ks[:-1]]
    group = np.cumsum(first) - 1
    first_uid = item_uid[order][first][group]
    keep = np.empty(keyframes.size, dtype=bool)
    keep[order] = item_uid[order] == first_uid
    return keep


class AVAMeter:
    """AVA detection meter for the val (``mode="val"``) or test split.

    Validation scores against the subset of ``ava_helper.in_val_subset`` unless
    ``AVA.FULL_TEST_ON_VAL``, as PySlowFast does (the dataset samples the same
    seconds).

    Args:
        cfg: the config.
        mode: "val" or "test".
        video_idx_to_name: video names by ``video_idx`` (the dataset's).
        num_keyframes: keyframes in the dataset; ``finalize`` fails if any was not predicted.
    """

    def __init__(self, cfg: CfgNode, mode: str, video_idx_to_name: Sequence[str], num_keyframes: int) -> None:
        self.cfg = cfg
        self.mode = mode
        self.video_idx_to_name = list(video_idx_to_name)
        self.num_keyframes = num_keyframes
        self.full_test = not ava_helper.uses_val_subset(cfg, mode)
        self.categories, class_ids = ava_eval.read_labelmap(ava_file(cfg, cfg.AVA.LABEL_MAP_FILE))
        self.class_ids = sorted(class_ids)
        too_big = [c for c in self.class_ids if c > cfg.MODEL.NUM_CLASSES]
        if too_big:
            raise ValueError(
                f"{cfg.AVA.LABEL_MAP_FILE} lists class ids {too_big} above MODEL.NUM_CLASSES {cfg.MODEL.NUM_CLASSES}"
            )
        self.excluded_keys = (
            ava_eval.read_exclusions(ava_file(cfg, cfg.AVA.EXCLUSION_FILE)) if cfg.AVA.EXCLUSION_FILE else set()
        )
        gt = ava_eval.read_csv(ava_file(cfg, cfg.AVA.GROUNDTRUTH_FILE), class_whitelist=class_ids)
        self.groundtruth = gt if self.full_test else mini_groundtruth(gt)
        self.reset()

    def reset(self) -> None:
        self._preds: List[torch.Tensor] = []
        self._boxes: List[torch.Tensor] = []
        self._metadata: List[torch.Tensor] = []
        self._keyframes: List[torch.Tensor] = []
        self._uids: List[torch.Tensor] = []
        self._items_seen = 0

    def update_stats(
        self, preds: torch.Tensor, ori_boxes: torch.Tensor, metadata: torch.Tensor, keyframe_index: torch.Tensor
    ) -> None:
        """Add one batch: ``[N, K]`` scores, ``[N, 5]`` ori_boxes (batch index first), ``[N, 2]`` metadata, ``[N]`` keyframe indices."""
        ori_boxes = ori_boxes.detach().float().cpu()
        batch_idx = ori_boxes[:, 0].long()
        item = self._items_seen + batch_idx
        self._items_seen += int(batch_idx.max()) + 1 if batch_idx.numel() else 0
        self._preds.append(preds.detach().float().cpu())
        self._boxes.append(ori_boxes[:, 1:5])
        self._metadata.append(metadata.detach().long().cpu())
        self._keyframes.append(keyframe_index.detach().long().cpu())
        self._uids.append(item + (du.get_rank() << 32))

    def _gathered(self) -> Dict[str, np.ndarray]:
        num_classes = self.cfg.MODEL.NUM_CLASSES
        parts = {
            "preds": torch.cat(self._preds) if self._preds else torch.zeros(0, num_classes),
            "boxes": torch.cat(self._boxes) if self._boxes else torch.zeros(0, 4),
            "metadata": torch.cat(self._metadata) if self._metadata else torch.zeros(0, 2, dtype=torch.long),
            "keyframes": torch.cat(self._keyframes) if self._keyframes else torch.zeros(0, dtype=torch.long),
            "uids": torch.cat(self._uids) if self._uids else torch.zeros(0, dtype=torch.long),
        }
        if du.get_world_size() > 1:
            device = _comm_device()
            parts = {k: du.all_gather_variable(v.to(device)).cpu() for k, v in parts.items()}
        out = {k: v.numpy() for k, v in parts.items()}
        keep = np.flatnonzero(_first_copy_per_keyframe(out["keyframes"], out["uids"]))
        # Keyframes in dataset order, boxes in item order: the rows (and so the tie-breaking of
        # equal scores in the evaluation) do not depend on the number of processes or the batching.
        keep = keep[np.argsort(out["keyframes"][keep], kind="stable")]
        return {k: v[keep] for k, v in out.items()}

    def finalize(self, output_dir: Optional[str] = None, csv_name: str = "detections_latest.csv") -> Dict[str, Any]:
        """Gather (on every process), then evaluate and write the CSV on the main process.

        Returns ``{"map", "per_class", "num_keyframes", "num_boxes", "detections_csv"}``
        (per-class AP by action id); the mAP is broadcast to every process, the
        rest is filled on the main process only.

        Raises:
            RuntimeError: if some keyframes of the dataset received no prediction.
        """
        data = self._gathered()
        seen = np.unique(data["keyframes"])
        if seen.size != self.num_keyframes:
            missing = np.setdiff1d(np.arange(self.num_keyframes), seen)
            raise RuntimeError(
                f"{missing.size} of {self.num_keyframes} {self.mode} keyframes received no prediction "
                f"(dataset indices {missing[:10].tolist()}); the mAP would be wrong"
            )
        stats: Dict[str, Any] = {"num_keyframes": int(seen.size), "num_boxes": int(data["preds"].shape[0])}
        mean_ap = torch.zeros(1, dtype=torch.float64)
        if du.is_master_proc():
            stats.update(self._evaluate(data, output_dir, csv_name))
            mean_ap[0] = stats["map"]
        if du.get_world_size() > 1:
            mean_ap = du.all_reduce([mean_ap.to(_comm_device())], average=False)[0].cpu()
        stats["map"] = float(mean_ap[0])
        return stats

    def _evaluate(self, data: Dict[str, np.ndarray], output_dir: Optional[str], csv_name: str) -> Dict[str, Any]:
        scores = data["preds"]
        if self.cfg.MODEL.HEAD_ACT not in ("sigmoid", "softmax"):
            scores = 1.0 / (1.0 + np.exp(-scores))
        columns = np.asarray(self.class_ids, dtype=np.int64) - 1
        videos = [self.video_idx_to_name[v] for v in data["metadata"][:, 0].tolist()]
        seconds = data["metadata"][:, 1]
        detections = ava_eval.detections_from_predictions(
            videos, seconds, np.clip(data["boxes"], 0.0, 1.0), scores[:, columns], class_ids=self.class_ids
        )
        self._warn_unpredicted_groundtruth(videos, seconds)
        result = ava_eval.evaluate_ava(
            self.groundtruth, detections, self.categories, self.excluded_keys, protocol=self.cfg.AVA.EVAL_PROTOCOL
        )
        logger.info(
            "AVA %s frame-mAP@0.5IOU (%s protocol) over %d keyframes, %d boxes (%s ground truth):\n%s",
            self.mode, self.cfg.AVA.EVAL_PROTOCOL, np.unique(data["keyframes"]).size, scores.shape[0],
            "full" if self.full_test else "validation-subset seconds of the", ava_eval.format_results(result),
        )
        out: Dict[str, Any] = {"map": result["mAP"], "per_class": result["per_class"]}
        if output_dir:
            path = os.path.join(output_dir, csv_name)
            rows = ava_eval.write_detections_csv(path, detections)
            logger.info("Wrote %d detections to %s", rows, path)
            out["detections_csv"] = path
        return out

    def _warn_unpredicted_groundtruth(self, videos: Sequence[str], seconds: np.ndarray) -> None:
        predicted = set(zip(videos, seconds.tolist()))
        gt_keys = set(zip(self.groundtruth.video_ids.tolist(), self.groundtruth.timestamps.tolist()))
        excluded = {(k.rpartition(",")[0], int(k.rpartition(",")[2])) for k in self.excluded_keys}
        missed = sorted(gt_keys - predicted - excluded)
        if missed:
            logger.warning(
                "%d of %d ground-truth keyframes have no predicted box (they count as misses), e.g. %s; "
                "check AVA.TEST_PREDICT_BOX_LISTS, AVA.TEST_LISTS and AVA.DETECTION_SCORE_THRESH",
                len(missed), len(gt_keys), ", ".join(f"{v},{t:04d}" for v, t in missed[:5]),
            )
