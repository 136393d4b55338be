"""Something-Something v2: labels JSON, train/validation JSON and ``train.csv`` / ``val.csv`` frame lists.

Every item samples one frame per uniform segment of the video (random within the
segment in train, the middle otherwise). All temporal test views are the same
frames (the reference ignores the clip index); they differ by spatial crop.
"""

import json
import logging
import os
import random
from typing import Any, List, Optional, Tuple

import torch
from fvcore.common.config import CfgNode
from iopath.common.file_io import g_pathmgr

from slowfast.datasets import frame_list as fl
from slowfast.datasets.build import DATASET_REGISTRY
from slowfast.datasets.kinetics import DatasetFormatError
from slowfast.datasets.short_cycle import CropShape

logger = logging.getLogger(__name__)

LABELS_JSON = "something-something-v2-labels.json"
SPLIT_JSON = {"train": "something-something-v2-train.json", "val": "something-something-v2-validation.json",
              "test": "something-something-v2-validation.json"}


def normalize_template(template: str) -> str:
    """SSv2 label text: the template with every ``[`` and ``]`` removed."""
    return template.replace("[", "").replace("]", "")


def _load_json(path: str) -> Any:
    if not g_pathmgr.exists(path):
        raise FileNotFoundError(f"SSv2 annotation {path} not found")
    with g_pathmgr.open(path, "r") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as exc:
            raise DatasetFormatError(f"{path}: invalid JSON: {exc}") from exc


def load_ssv2_labels(data_dir: str, mode: str) -> Tuple[List[str], List[int]]:
    """Video ids and class indices of the split's JSON, in JSON order."""
    labels_path = os.path.join(data_dir, LABELS_JSON)
    classes = {name: int(idx) for name, idx in _load_json(labels_path).items()}
    split_path = os.path.join(data_dir, SPLIT_JSON[mode])
    ids, labels = [], []
    for n, entry in enumerate(_load_json(split_path)):
        template = normalize_template(entry.get("template", ""))
        if template not in classes:
            raise DatasetFormatError(
                f"{split_path}: entry {n} (id {entry.get('id')}) has template {template!r}, not in {labels_path}")
        ids.append(str(entry["id"]))
        labels.append(classes[template])
    return ids, labels


@DATASET_REGISTRY.register()
class Ssv2(fl.FrameDataset):
    """SSv2 frame lists; labels are class indices (int)."""

    def __init__(self, cfg: CfgNode, mode: str, num_retries: Optional[int] = None) -> None:
        super().__init__(cfg, mode, num_retries)
        ids, labels = load_ssv2_labels(cfg.DATA.PATH_TO_DATA_DIR, mode)
        frames = fl.load_frame_list(self.csv_path, cfg.DATA.PATH_PREFIX)
        if len(frames.names) != len(ids):
            raise DatasetFormatError(
                f"{self.csv_path} lists {len(frames.names)} videos but {SPLIT_JSON[mode]} has {len(ids)} entries")
        where = frames.index_of()
        keep = [i for i, vid in enumerate(ids) if vid in where]
        self._names = [ids[i] for i in keep]
        self._labels = [labels[i] for i in keep]
        self._paths = [frames.paths[where[ids[i]]] for i in keep]
        logger.info("Constructed SSv2 %s dataset with %d videos from %s", mode, len(self), self.csv_path)

    def video_label(self, index: int) -> int:
        return self._labels[index]

    def test_clips(self, index: int) -> List[List[int]]:
        return [fl.ssv2_segment_indices(len(self._paths[index]), self.cfg.DATA.NUM_FRAMES)] * self._num_clips

    def load_train_item(self, index: int, shape: Optional[CropShape] = None) -> Tuple[torch.Tensor, int]:
        """Random frame per segment in train; the middle ones (test frames) in val, both with spatial jitter."""
        rng = random if self.mode == "train" else None
        clip = fl.ssv2_segment_indices(len(self._paths[index]), self.cfg.DATA.NUM_FRAMES, rng)
        return self.train_clip(index, clip, shape), self._labels[index]
