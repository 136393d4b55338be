"""ImageNet in the class-folder layout: ``DATA.PATH_TO_DATA_DIR/{train,val}/<nXXXXXXXX>/<image>``.

Split ``train`` reads ``train/``; ``val`` and ``test`` read ``val/``. Classes are
the ``n<digits>`` folder names in sorted order. Items are ``([image], label,
index, meta)`` with ``image`` an RGB ``C x H x W`` float tensor, as PySlowFast's
2D image models take it; a test item holds its one view as ``1 x C x H x W``
(the ``[V, ...]`` test contract of the video datasets). With AUG.NUM_SAMPLE N > 1
a training item holds N augmentations of one image (``N x C x H x W``, N labels),
flattened into the batch by ``repeated_aug_collate`` (PySlowFast repeats only with
AUG.ENABLE; here the ResNet recipe repeats too, so the key is never ignored).

Two recipes, chosen by AUG.ENABLE as in PySlowFast:

* ResNet (AUG.ENABLE False): train = random resized crop (DATA.TRAIN_JITTER_SCALES_RELATIVE
  area, DATA.TRAIN_JITTER_ASPECT_RELATIVE aspect), horizontal flip (DATA.RANDOM_FLIP), PCA lighting
  noise; val/test = short side to TRAIN_CROP_SIZE, one centre TEST_CROP_SIZE crop.
* timm-style (AUG.ENABLE True), on the 8-bit image: random resized crop with
  AUG.INTERPOLATION, horizontal flip, RandAugment (AUG.AA_TYPE; the geometric ops
  fill with the dataset mean) or, only when AA_TYPE is empty, colour jitter
  (AUG.COLOR_JITTER), then normalisation and random erasing (AUG.RE_PROB,
  RE_MODE, RE_COUNT; one box set per image); val/test = short side to
  ``int(TEST_CROP_SIZE / DATA.IN_VAL_CROP_RATIO)`` (bicubic), centre crop
  (ratio 0: a plain bicubic resize to TEST_CROP_SIZE squared). Resizes are PIL's,
  as in the reference. Where PySlowFast's recipe hard-codes things that keys
  describe, the keys' defaults give its behaviour and other values are honoured:
  the crop uses scale [0.08, 1] and aspect [3/4, 4/3] when
  TRAIN_JITTER_SCALES_RELATIVE / ASPECT_RELATIVE are empty, the flip follows
  DATA.RANDOM_FLIP (PySlowFast always flips), and AUG.RE_SPLIT leaves the first of
  the AUG.NUM_SAMPLE copies unerased as for the video datasets (PySlowFast's
  image recipe ignores it). AUG.INTERPOLATION "nearest" means bilinear, as
  PySlowFast's PIL mapping has it; "random" draws bilinear or bicubic.
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

from slowfast.config.loading import DEFAULT_ORIGIN, key_origin
from slowfast.datasets import rand_augment, train_augment, transform
from slowfast.datasets.ava_dataset import lighting_jitter
from slowfast.datasets.build import DATASET_REGISTRY
from slowfast.datasets.frame_list import FrameReadError
from slowfast.datasets.kinetics import DatasetFormatError
from slowfast.datasets.random_erasing import RandomErasing
from slowfast.datasets.train_augment import centred_crop_box, repeated_aug_collate, repeated_labels
from slowfast.datasets.utils import normalize_to_cthw, retry_with_other_items

logger = logging.getLogger(__name__)

CLASS_FOLDER = re.compile(r"^n[0-9]+$")
# timm's crop ranges, which PySlowFast's AUG recipe always uses.
AUG_CROP_SCALE = (0.08, 1.0)
AUG_CROP_ASPECT = (3.0 / 4.0, 4.0 / 3.0)


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


def open_rgb_image(path: str) -> Image.Image:
    """An image file as a decoded RGB PIL image; FrameReadError naming the file when it cannot be read."""
    try:
        with g_pathmgr.open(path, "rb") as f, Image.open(f) as im:
            return im.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise FrameReadError(path, f"cannot read image: {exc}") from exc


def load_rgb_image(path: str) -> torch.Tensor:
    """An image file as an RGB ``C x H x W`` float tensor in [0, 1]."""
    array = np.asarray(open_rgb_image(path), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def pil_filter(interpolation: str, rng: Optional[random.Random] = None) -> int:
    """The PIL filter of AUG.INTERPOLATION as PySlowFast maps it: bicubic, else bilinear; "random" draws one."""
    if interpolation == "random":
        interpolation = (rng or random).choice(("bilinear", "bicubic"))
    return Image.BICUBIC if interpolation == "bicubic" else Image.BILINEAR


def resize_short_side_pil(image: Image.Image, size: int) -> Image.Image:
    """Bicubic resize so the short side is ``size`` and the long one ``int(size * long / short)`` (torchvision's
    rule for PIL images); an image already that size is returned as it is."""
    w, h = image.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    if (new_w, new_h) == (w, h):
        return image
    return image.resize((new_w, new_h), Image.BICUBIC)


def centre_crop_pil(image: Image.Image, size: int) -> Image.Image:
    """The centred ``size`` square, offsets ``round((side - size) / 2)`` (torchvision's CenterCrop)."""
    w, h = image.size
    if w < size or h < size:
        raise ValueError(f"cannot centre-crop {size}x{size} from a {h}x{w} image")
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def uint8_frames(image: Image.Image) -> torch.Tensor:
    """A PIL RGB image as a one-frame uint8 ``1 x H x W x 3`` clip (the layout of the video augmenters)."""
    return torch.from_numpy(np.array(image, dtype=np.uint8)).unsqueeze(0)


class ImageAugmenter:
    """PySlowFast's AUG.ENABLE ImageNet recipe (the timm train transform) on PIL RGB images."""

    def __init__(self, cfg: CfgNode) -> None:
        data, aug = cfg.DATA, cfg.AUG
        self.size = data.TRAIN_CROP_SIZE
        self.scale = tuple(data.TRAIN_JITTER_SCALES_RELATIVE) or AUG_CROP_SCALE
        self.aspect = tuple(data.TRAIN_JITTER_ASPECT_RELATIVE) or AUG_CROP_ASPECT
        self.interpolation = aug.INTERPOLATION
        self.random_flip = bool(data.RANDOM_FLIP)
        self.mean, self.std = data.MEAN, data.STD
        self.rand_augment = None
        self.color_jitter = 0.0
        if aug.AA_TYPE:
            fill = tuple(min(255, round(255 * m)) for m in data.MEAN)
            self.rand_augment = rand_augment.RandAugment(rand_augment.parse_policy(aug.AA_TYPE), aug.INTERPOLATION,
                                                         fill=fill)
        elif aug.COLOR_JITTER:
            self.color_jitter = float(aug.COLOR_JITTER)
        self.erasing = (RandomErasing(aug.RE_PROB, mode=aug.RE_MODE, max_count=aug.RE_COUNT, attempts=10)
                        if aug.RE_PROB > 0 else None)

    def crop_box(self, image: Image.Image, rng: Optional[random.Random] = None) -> Tuple[int, int, int, int]:
        """``(y, x, h, w)`` of the random resized crop (log-uniform aspect, as timm)."""
        return train_augment.random_resized_crop_box(image.height, image.width, self.scale, self.aspect, rng)

    def __call__(self, image: Image.Image, erase: bool = True, rng: Optional[random.Random] = None) -> torch.Tensor:
        """One augmented, normalised ``C x H x W`` crop of ``image``."""
        rng = rng or random
        y, x, h, w = self.crop_box(image, rng)
        image = image.crop((x, y, x + w, y + h)).resize((self.size, self.size), pil_filter(self.interpolation, rng))
        if self.random_flip and rng.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        frames = uint8_frames(image)
        if self.rand_augment is not None:
            frames = self.rand_augment(frames, rng)
        elif self.color_jitter > 0:
            frames = train_augment.color_jitter(frames, self.color_jitter, rng)
        clip = normalize_to_cthw(frames, self.mean, self.std)
        if erase and self.erasing is not None:
            clip = self.erasing(clip, rng)
        return clip[:, 0]


def aug_test_transform(image: Image.Image, cfg: CfgNode) -> torch.Tensor:
    """PySlowFast's AUG.ENABLE ImageNet val/test transform (DATA.IN_VAL_CROP_RATIO), normalised ``C x H x W``."""
    data = cfg.DATA
    size = data.TEST_CROP_SIZE
    if data.IN_VAL_CROP_RATIO == 0.0:
        image = image.resize((size, size), Image.BICUBIC)
    else:
        image = centre_crop_pil(resize_short_side_pil(image, int((1.0 / data.IN_VAL_CROP_RATIO) * size)), size)
    return normalize_to_cthw(uint8_frames(image), data.MEAN, data.STD)[:, 0]


@DATASET_REGISTRY.register()
class Imagenet(Dataset):
    """ImageNet class folders; labels are class indices in sorted folder order."""

    @staticmethod
    def infer_cfg(cfg: CfgNode) -> List[str]:
        """Test one centre crop per image when TEST.NUM_ENSEMBLE_VIEWS / NUM_SPATIAL_CROPS are left at
        their video defaults (no published ImageNet config sets them; PySlowFast would pool 30
        consecutive images as the views of one "video"). Returns what it changed, for the log."""
        changed = []
        for key, leaf in (("TEST.NUM_ENSEMBLE_VIEWS", "NUM_ENSEMBLE_VIEWS"), ("TEST.NUM_SPATIAL_CROPS", "NUM_SPATIAL_CROPS")):
            if key_origin(cfg, key) == DEFAULT_ORIGIN and cfg.TEST[leaf] != 1:
                cfg.TEST[leaf] = 1
                changed.append(f"{key} 1")
        return changed

    @staticmethod
    def check_cfg(cfg: CfgNode, mode: str) -> List[str]:
        """The problems of ``cfg`` for this dataset's ``mode`` split (empty when it can be built);
        config validation asks this before any job starts."""
        problems: List[str] = []
        data = cfg.DATA
        use_aug = bool(cfg.AUG.ENABLE)
        if mode == "train" and not use_aug and (len(data.TRAIN_JITTER_SCALES_RELATIVE) != 2
                                                or len(data.TRAIN_JITTER_ASPECT_RELATIVE) != 2):
            problems.append("imagenet training with the ResNet recipe (AUG.ENABLE False) needs "
                            "DATA.TRAIN_JITTER_SCALES_RELATIVE (e.g. [0.08, 1.0]) and "
                            "DATA.TRAIN_JITTER_ASPECT_RELATIVE (e.g. [0.75, 1.3333]) as two numbers each")
        if data.TRAIN_JITTER_MOTION_SHIFT:
            problems.append("DATA.TRAIN_JITTER_MOTION_SHIFT moves the crop over the frames of a clip; imagenet "
                            "images have one frame, set it False")
        if mode == "test" and (cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS) != (1, 1):
            problems.append("imagenet tests one centre crop per image; set TEST.NUM_ENSEMBLE_VIEWS 1 and "
                            f"TEST.NUM_SPATIAL_CROPS 1 (got {cfg.TEST.NUM_ENSEMBLE_VIEWS} and "
                            f"{cfg.TEST.NUM_SPATIAL_CROPS})")
        if mode != "train" and not use_aug and data.TEST_CROP_SIZE > data.TRAIN_CROP_SIZE:
            problems.append(f"imagenet's ResNet recipe (AUG.ENABLE False) scales the short side to "
                            f"DATA.TRAIN_CROP_SIZE ({data.TRAIN_CROP_SIZE}) before the DATA.TEST_CROP_SIZE "
                            f"({data.TEST_CROP_SIZE}) centre crop, as PySlowFast does; TEST_CROP_SIZE must not "
                            "be larger (PySlowFast would crop outside the image)")
        ratio = data.IN_VAL_CROP_RATIO
        if not (isinstance(ratio, (int, float)) and (ratio == 0.0 or 0.0 < ratio <= 1.0)):
            problems.append(f"DATA.IN_VAL_CROP_RATIO must be in (0, 1] (or 0.0 for a plain resize), got {ratio!r}")
        return problems

    def __init__(self, cfg: CfgNode, mode: str, num_retries: Optional[int] = None) -> None:
        if mode not in ("train", "val", "test"):
            raise ValueError(f"Split '{mode}' not supported for Imagenet")
        problems = self.check_cfg(cfg, mode)
        if problems:
            raise ValueError("; ".join(problems))
        data = cfg.DATA
        use_aug = bool(cfg.AUG.ENABLE)
        self.cfg = cfg
        self.mode = mode
        self._augment = ImageAugmenter(cfg) if use_aug and mode == "train" else None
        self.num_samples = cfg.AUG.NUM_SAMPLE if mode == "train" else 1
        self._erase_first = not cfg.AUG.RE_SPLIT
        if self.num_samples > 1:
            self.collate_fn = repeated_aug_collate
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
        if data.RANDOM_FLIP:
            image, _ = transform.horizontal_flip(0.5, image)
        image = lighting_jitter(image.unsqueeze(1), 0.1, data.TRAIN_PCA_EIGVAL, data.TRAIN_PCA_EIGVEC).squeeze(1)
        return self._normalize(image)

    def test_transform(self, image: torch.Tensor) -> torch.Tensor:
        """ResNet recipe: short side to TRAIN_CROP_SIZE, centre TEST_CROP_SIZE crop, normalisation."""
        data = self.cfg.DATA
        image, _ = transform.short_side_scale(image, data.TRAIN_CROP_SIZE)
        image, _ = transform.uniform_crop(image, data.TEST_CROP_SIZE, 1)
        return self._normalize(image)

    def _normalize(self, image: torch.Tensor) -> torch.Tensor:
        mean = torch.as_tensor(self.cfg.DATA.MEAN, dtype=image.dtype).view(3, 1, 1)
        std = torch.as_tensor(self.cfg.DATA.STD, dtype=image.dtype).view(3, 1, 1)
        return (image - mean) / std

    def _load(self, index: int) -> torch.Tensor:
        """The item's image: ``C x H x W``, or ``N x C x H x W`` for AUG.NUM_SAMPLE N > 1 (one read)."""
        path = self._items[index][0]
        if self.mode != "train":
            if self.cfg.AUG.ENABLE:
                return aug_test_transform(open_rgb_image(path), self.cfg)
            return self.test_transform(load_rgb_image(path))
        if self._augment is not None:
            image = open_rgb_image(path)
            views = [self._augment(image, erase=i > 0 or self._erase_first) for i in range(self.num_samples)]
        else:
            image = load_rgb_image(path)
            views = [self.train_transform(image) for _ in range(self.num_samples)]
        return views[0] if self.num_samples == 1 else torch.stack(views)

    def __getitem__(self, index: int) -> Tuple[List[torch.Tensor], Any, int, Dict[str, Any]]:
        if self.mode == "test":
            view = self._load(index).unsqueeze(0)  # the single test view: V = 1
            return [view], self._items[index][1], index, {"skipped": 0, "decoded_frames": 1}
        image, used, skipped = retry_with_other_items(
            self._load, index, len(self), self._num_retries, describe=self.describe, errors=(FrameReadError,))
        self.num_skipped += skipped
        label = self._items[used][1]
        if self.num_samples > 1:
            label = repeated_labels(label, self.num_samples)
        return [image], label, used, {"skipped": skipped, "decoded_frames": 1}
