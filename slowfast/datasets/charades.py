"""Charades: multi-label frame-folder dataset (``train.csv`` / ``val.csv`` frame lists in DATA.PATH_TO_DATA_DIR).

Train: one random strided clip anywhere in the video (stride DATA.SAMPLING_RATE, or
drawn up to MULTIGRID.LONG_CYCLE_SAMPLING_RATE when that is set), labelled with the union of
the labels of the frames it covers. Val: the same sampling, video-level labels.
Test: TEST.NUM_ENSEMBLE_VIEWS evenly spaced clips x TEST.NUM_SPATIAL_CROPS crops
of one video per item, stacked ``[V, C, T, H, W]``, video-level labels.
"""

import logging
from typing import List, Optional, Sequence, Tuple

import torch
from fvcore.common.config import CfgNode

from slowfast.datasets import frame_list as fl
from slowfast.datasets.build import DATASET_REGISTRY
from slowfast.datasets.short_cycle import CropShape, train_sampling_rate

logger = logging.getLogger(__name__)


def multi_hot(label_lists: Sequence[Sequence[int]], num_classes: int, source: str = "") -> torch.Tensor:
    """Float vector with 1.0 at every class in any of ``label_lists``."""
    target = torch.zeros(num_classes, dtype=torch.float32)
    for labels in label_lists:
        for c in labels:
            if not 0 <= c < num_classes:
                raise ValueError(f"{source}: class {c} is outside [0, MODEL.NUM_CLASSES={num_classes})")
            target[c] = 1.0
    return target


@DATASET_REGISTRY.register()
class Charades(fl.FrameDataset):
    """Charades frame lists; labels are multi-hot float vectors of MODEL.NUM_CLASSES."""

    def __init__(self, cfg: CfgNode, mode: str, num_retries: Optional[int] = None) -> None:
        super().__init__(cfg, mode, num_retries)
        videos = fl.load_frame_list(self.csv_path, cfg.DATA.PATH_PREFIX)
        self._names, self._paths, self._frame_labels = videos.names, videos.paths, videos.labels
        self._video_labels = [
            multi_hot(labels, cfg.MODEL.NUM_CLASSES, f"{self.csv_path} ({name})")
            for name, labels in zip(self._names, self._frame_labels)
        ]
        logger.info("Constructed Charades %s dataset with %d videos from %s", mode, len(self), self.csv_path)

    def video_label(self, index: int) -> torch.Tensor:
        return self._video_labels[index]

    def test_clips(self, index: int) -> List[List[int]]:
        data = self.cfg.DATA
        n = len(self._paths[index])
        starts = fl.charades_test_starts(n, data.NUM_FRAMES, data.SAMPLING_RATE, self._num_clips)
        return [fl.strided_indices(s, data.NUM_FRAMES, data.SAMPLING_RATE, n) for s in starts]

    def load_train_item(self, index: int, shape: Optional[CropShape] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        data = self.cfg.DATA
        paths = self._paths[index]
        rate = train_sampling_rate(self.cfg)
        start = fl.charades_train_start(len(paths), data.NUM_FRAMES, rate)
        clip = fl.strided_indices(start, data.NUM_FRAMES, rate, len(paths))
        frames = self.train_clip(index, clip, shape)
        if self.mode != "train":
            return frames, self._video_labels[index]
        covered = self._frame_labels[index][clip[0]: clip[-1] + 1]
        return frames, multi_hot(covered, self.cfg.MODEL.NUM_CLASSES, self.describe(index))
