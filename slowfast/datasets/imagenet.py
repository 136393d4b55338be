"""ImageNet in the class-folder layout: ``DATA.PATH_TO_DATA_DIR/{train,val}/<nXXXXXXXX>/<image>``.

Split ``train`` reads ``train/``; ``val`` and ``test`` read ``val/``. Classes are
the ``n<digits>`` folder names in sorted order. Items are ``([image], label,
index, meta)`` with ``image`` an RGB ``C x H x W`` float tensor, as PySlowFast's
2D image models take it; a test item holds its one view as ``1 x C x H x W``
(the ``[V, ...]`` test contract of the video datasets). The transforms are the ResNet recipe: train = random
resized crop (DATA.TRAIN_JITTER_SCALES_RELATIVE area, DATA.TRAIN_JITTER_ASPECT_RELATIVE
aspect), horizontal flip, PCA lighting noise; val/test = short side to
TRAIN_CROP_SIZE, one centre TEST_CROP_SIZE crop. The AUG.* recipe (RandAugment,
random erasing, mixup) plugs in at ``Imagenet.train_transform``; until it exists
AUG.ENABLE is refused.
"""

import logging
import math
import os
import random
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from fvcore.common.config import CfgNode
from iopath.common.file_io import g_pathmgr
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from slowfast.datasets import transform
from slowfast.datasets.ava_dataset import lighting_jitter
from slowfast.datasets.build import DATASET_REGISTRY
from slowfast.datasets.frame_list import FrameReadError
from slowfast.datasets.kinetics import DatasetFormatError
from slowfast.datasets.train_augment import centred_crop_box
from slowfast.datasets.utils import retry_with_other_items

logger = logging.getLogger(__name__)

CLASS_FOLDER = re.compile(r"^n[0-9]+$")


def random_resized_crop_box(height: int, width: int, scale: Sequence[float], ratio: Sequence[float],
                            rng: Optional[random.Random] = None, attempts: int = 10) -> Tuple[int, int, int, int]:
    """``(y, x, h, w)`` of an Inception-style crop: area fraction in ``scale``, aspect (w/h) in ``ratio``.

    The aspect is drawn uniformly (not log-uniformly) and the two sides are swapped
    with probability 0.5, as in PySlowFast's image crop; after ``attempts`` misses
    the centre crop closest to the allowed aspect is taken.
    """
    rng = rng or random
    area = height * width
    for _ in range(attempts):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = rng.uniform(ratio[0], ratio[1])
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if rng.random() < 0.5:
            w, h = h, w
        if 0 < w <= width and 0 < h <= height:
            return rng.randint(0, height - h), rng.randint(0, width - w), h, w
    return centred_crop_box(height, width, ratio)


def load_rgb_image(path: str) -> torch.Tensor:
    """An image file as an RGB ``C x H x W`` float tensor in [0, 1]."""
    try:
        with g_pathmgr.open(path, "rb") as f, Image.open(f) as im:
            array = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError) as exc:
        raise FrameReadError(path, f"cannot read image: {exc}") from exc
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


@DATASET_REGISTRY.register()
class Imagenet(Dataset):
    """ImageNet class folders; labels are class indices in sorted folder order."""

    def __init__(self, cfg: CfgNode, mode: str, num_retries: Optional[int] = None) -> None:
        if mode not in ("train", "val", "test"):
            raise ValueError(f"Split '{mode}' not supported for Imagenet")
        if cfg.AUG.ENABLE:
            raise NotImplementedError(
                "AUG.ENABLE (RandAugment / random erasing / mixup ImageNet recipe) is not implemented for "
                "imagenet yet; set AUG.ENABLE False for the ResNet recipe")
        data = cfg.DATA
        if mode == "train" and (len(data.TRAIN_JITTER_SCALES_RELATIVE) != 2
                                or len(data.TRAIN_JITTER_ASPECT_RELATIVE) != 2):
            raise ValueError("imagenet training needs DATA.TRAIN_JITTER_SCALES_RELATIVE (e.g. [0.08, 1.0]) and "
                             "DATA.TRAIN_JITTER_ASPECT_RELATIVE (e.g. [0.75, 1.3333]) as two numbers each")
        if mode == "test" and (cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS) != (1, 1):
            raise ValueError("imagenet tests one centre crop per image; set TEST.NUM_ENSEMBLE_VIEWS 1 and "
                             f"TEST.NUM_SPATIAL_CROPS 1 (got {cfg.TEST.NUM_ENSEMBLE_VIEWS} and "
                             f"{cfg.TEST.NUM_SPATIAL_CROPS})")
        if mode != "train" and data.TEST_CROP_SIZE > data.TRAIN_CROP_SIZE:
            raise ValueError(f"imagenet scales the short side to DATA.TRAIN_CROP_SIZE ({data.TRAIN_CROP_SIZE}) "
                             f"before the DATA.TEST_CROP_SIZE ({data.TEST_CROP_SIZE}) centre crop; "
                             "TEST_CROP_SIZE must not be larger")
        self.cfg = cfg
        self.mode = mode
        self._num_retries = cfg.DATA_LOADER.NUM_RETRIES if num_retries is None else num_retries
        self.num_skipped = 0
        self.split_dir = os.path.join(data.PATH_TO_DATA_DIR, "train" if mode == "train" else "val")
        if not g_pathmgr.isdir(self.split_dir):
            raise FileNotFoundError(f"ImageNet split folder {self.split_dir} not found")
        self.classes = sorted(d for d in g_pathmgr.ls(self.split_dir) if CLASS_FOLDER.match(d))
        if not self.classes:
            raise DatasetFormatError(f"{self.split_dir}: no class folders named n<digits> (e.g. n01440764)")
        self._items: List[Tuple[str, int]] = []
        for label, name in enumerate(self.classes):
            folder = os.path.join(self.split_dir, name)
            self._items.extend((os.path.join(folder, f), label) for f in sorted(g_pathmgr.ls(folder)))
        logger.info("Constructed Imagenet %s with %d images of %d classes from %s", mode, len(self),
                    len(self.classes), self.split_dir)

    @property
    def num_videos(self) -> int:
        return len(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def describe(self, index: int) -> str:
        return self._items[index][0]

    def train_transform(self, image: torch.Tensor) -> torch.Tensor:
        """ResNet recipe: random resized crop (bilinear), flip, PCA lighting, normalisation."""
        data = self.cfg.DATA
        y, x, h, w = random_resized_crop_box(image.shape[1], image.shape[2], data.TRAIN_JITTER_SCALES_RELATIVE,
                                             data.TRAIN_JITTER_ASPECT_RELATIVE)
        image, _ = transform.resize(image[:, y:y + h, x:x + w], data.TRAIN_CROP_SIZE, data.TRAIN_CROP_SIZE)
        image, _ = transform.horizontal_flip(0.5, image)
        image = lighting_jitter(image.unsqueeze(1), 0.1, data.TRAIN_PCA_EIGVAL, data.TRAIN_PCA_EIGVEC).squeeze(1)
        return self._normalize(image)

    def test_transform(self, image: torch.Tensor) -> torch.Tensor:
        """Short side to TRAIN_CROP_SIZE, centre TEST_CROP_SIZE crop, normalisation."""
        data = self.cfg.DATA
        image, _ = transform.short_side_scale(image, data.TRAIN_CROP_SIZE)
        image, _ = transform.uniform_crop(image, data.TEST_CROP_SIZE, 1)
        return self._normalize(image)

    def _normalize(self, image: torch.Tensor) -> torch.Tensor:
        mean = torch.as_tensor(self.cfg.DATA.MEAN, dtype=image.dtype).view(3, 1, 1)
        std = torch.as_tensor(self.cfg.DATA.STD, dtype=image.dtype).view(3, 1, 1)
        return (image - mean) / std

    def _load(self, index: int) -> torch.Tensor:
        image = load_rgb_image(self._items[index][0])
        return self.train_transform(image) if self.mode == "train" else self.test_transform(image)

    def __getitem__(self, index: int) -> Tuple[List[torch.Tensor], int, int, Dict[str, Any]]:
        if self.mode == "test":
            view = self._load(index).unsqueeze(0)  # the single test view: V = 1
            return [view], self._items[index][1], index, {"skipped": 0, "decoded_frames": 1}
        image, used, skipped = retry_with_other_items(
            self._load, index, len(self), self._num_retries, describe=self.describe, errors=(FrameReadError,))
        self.num_skipped += skipped
        return [image], self._items[used][1], used, {"skipped": skipped, "decoded_frames": 1}
