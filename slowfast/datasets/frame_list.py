"""Frame-folder datasets (Charades, SSv2): frame lists, JPEG reading, frame sampling and test views.

A frame list has a header starting with ``original_vido_id`` and one line per
frame: ``original_vido_id video_id frame_id path labels``. A video's frames are
its lines in file order. Sampling follows the reference exactly (see DATASET.md),
including Python/NumPy half-to-even rounding.
"""

import os
import random
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from fvcore.common.config import CfgNode
from iopath.common.file_io import g_pathmgr
from torch.utils.data import Dataset

from slowfast.datasets import transform
from slowfast.datasets.decoder import DecodeError
from slowfast.datasets.kinetics import DatasetFormatError
from slowfast.datasets.short_cycle import CropShape, ItemIndex, split_item_index, train_crop_shape
from slowfast.datasets.train_augment import ClipAugmenter, repeated_aug_collate, repeated_labels
from slowfast.datasets.utils import normalize_to_cthw, pack_pathway_output, retry_with_other_items

FRAME_LIST_HEADER = "original_vido_id"


class FrameReadError(DecodeError):
    """A frame image is missing or cannot be decoded; ``path`` names the file (or the video and file)."""


class FrameList:
    """Videos of a frame list: names in first-occurrence order, frame paths and per-frame labels."""

    def __init__(self, names: List[str], paths: List[List[str]], labels: List[List[List[int]]]) -> None:
        self.names = names
        self.paths = paths
        self.labels = labels

    def index_of(self) -> Dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}


def load_frame_list(csv_path: str, path_prefix: str = "") -> FrameList:
    """Parse a frame list; raises DatasetFormatError naming the file and line on bad input."""
    if not g_pathmgr.exists(csv_path):
        raise FileNotFoundError(f"Frame list {csv_path} not found")
    videos: "OrderedDict[str, Tuple[List[str], List[List[int]]]]" = OrderedDict()
    with g_pathmgr.open(csv_path, "r") as f:
        header = f.readline()
        if not header.startswith(FRAME_LIST_HEADER):
            raise DatasetFormatError(
                f"{csv_path}:1: the header must start with '{FRAME_LIST_HEADER}', got {header.strip()!r}"
            )
        for lineno, raw in enumerate(f, start=2):
            line = raw.strip()
            if not line:
                continue
            fields = line.split()
            if len(fields) != 5:
                raise DatasetFormatError(
                    f"{csv_path}:{lineno}: expected 5 fields "
                    f"(original_vido_id video_id frame_id path labels), got {len(fields)}: {line!r}"
                )
            name, _, _, path, label_field = fields
            try:
                labels = [int(x) for x in label_field.replace('"', "").split(",") if x != ""]
            except ValueError:
                raise DatasetFormatError(
                    f"{csv_path}:{lineno}: labels {label_field!r} are not comma-separated integers"
                ) from None
            frames, frame_labels = videos.setdefault(name, ([], []))
            frames.append(os.path.join(path_prefix, path) if path_prefix else path)
            frame_labels.append(labels)
    if not videos:
        raise DatasetFormatError(f"{csv_path}: no frames listed")
    return FrameList(list(videos), [v[0] for v in videos.values()], [v[1] for v in videos.values()])


def read_frames(paths: Sequence[str]) -> torch.Tensor:
    """Decode JPEGs with OpenCV into a ``T x H x W x 3`` uint8 BGR tensor (stored size, no resize)."""
    images = []
    for path in paths:
        try:
            with g_pathmgr.open(path, "rb") as f:
                data = f.read()
        except (OSError, FileNotFoundError) as exc:
            raise FrameReadError(path, f"cannot read frame: {exc}") from exc
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise FrameReadError(path, "cannot decode frame (corrupted or not an image)")
        if images and image.shape != images[0].shape:
            raise FrameReadError(path, f"frame is {image.shape[:2]}, other frames are {images[0].shape[:2]}")
        images.append(image)
    return torch.from_numpy(np.stack(images))


# ----------------------------------------------------------------- temporal rules


def charades_test_starts(num_video_frames: int, num_frames: int, sampling_rate: int, num_clips: int) -> List[int]:
    """First frame of each of ``num_clips`` test clips (half-to-even rounding; start 0 when K == 1)."""
    span = (num_frames - 1) * sampling_rate + 1
    if num_clips == 1:
        return [0]
    gap = max(num_video_frames - span, 0) / (num_clips - 1)
    return [round(gap * k) for k in range(num_clips)]


def charades_train_start(num_video_frames: int, num_frames: int, sampling_rate: int,
                         rng: Optional[random.Random] = None) -> int:
    """Random first frame, inclusive bounds; negative (padding with frame 0) for short videos."""
    rng = rng or random
    span = (num_frames - 1) * sampling_rate + 1
    if span > num_video_frames:
        return rng.randint(num_video_frames - span, 0)
    return rng.randint(0, num_video_frames - span)


def strided_indices(start: int, num_frames: int, sampling_rate: int, num_video_frames: int) -> List[int]:
    """``clamp(start + j * tau, 0, L - 1)`` for j < T."""
    return [min(max(start + j * sampling_rate, 0), num_video_frames - 1) for j in range(num_frames)]


def ssv2_segment_indices(num_video_frames: int, num_frames: int, rng: Optional[random.Random] = None) -> List[int]:
    """One frame per segment of length ``(L - 1) / T``: the middle (test) or a random one (``rng``)."""
    seg = (num_video_frames - 1) / num_frames
    out = []
    for i in range(num_frames):
        a = int(np.round(seg * i))
        b = int(np.round(seg * (i + 1)))
        out.append(rng.randint(a, b) if rng is not None else (a + b) // 2)
    return out


# ----------------------------------------------------------------- pixels


def test_crop_indices(num_crops: int) -> List[int]:
    """Crop positions of the test views: [0, 1, 2], or [0] (left/top, as the reference) for one crop."""
    if num_crops == 3:
        return [0, 1, 2]
    if num_crops == 1:
        return [0]
    raise ValueError(f"TEST.NUM_SPATIAL_CROPS must be 1 or 3, got {num_crops}")


def test_views(paths: Sequence[str], clips: Sequence[Sequence[int]], cfg: CfgNode) -> torch.Tensor:
    """``V x C x T x S x S`` views (clip-major) of the clips, each frame read and normalised once."""
    data = cfg.DATA
    distinct = sorted({i for clip in clips for i in clip})
    where = {frame: pos for pos, frame in enumerate(distinct)}
    frames = normalize_to_cthw(read_frames([paths[i] for i in distinct]), data.MEAN, data.STD)
    crops = test_crop_indices(cfg.TEST.NUM_SPATIAL_CROPS)
    views: List[torch.Tensor] = []
    cache: Dict[Tuple[int, ...], List[torch.Tensor]] = {}
    for clip in clips:
        key = tuple(clip)
        if key not in cache:
            frames_k = torch.index_select(frames, 1, torch.tensor([where[i] for i in clip]))
            frames_k, _ = transform.short_side_scale(frames_k, data.TEST_CROP_SIZE)
            cache[key] = [transform.uniform_crop(frames_k, data.TEST_CROP_SIZE, s)[0] for s in crops]
        views.extend(cache[key])
    return torch.stack(views)


def train_clip(paths: Sequence[str], clip: Sequence[int], augment: ClipAugmenter, random_flip: bool,
               shape: Optional[CropShape] = None) -> torch.Tensor:
    """The training/val clip of frames ``clip``, by the video datasets' recipe (``ClipAugmenter``):
    ``C x T x crop x crop``, or ``N x C x T x crop x crop`` for AUG.NUM_SAMPLE N > 1 (frames read once).

    The frames are BGR as read (the reference's RandAugment sees them so too). ``shape`` (multigrid,
    ``short_cycle.train_crop_shape``) replaces the crop size and jitter range.
    """
    clips = augment(read_frames([paths[i] for i in clip]), random_flip, shape=shape)
    return clips[0] if len(clips) == 1 else torch.stack(clips)


def check_frame_dataset_cfg(cfg: CfgNode, mode: str, name: str) -> None:
    """Refuse keys these datasets do not implement, naming them."""
    if mode not in ("train", "val", "test"):
        raise ValueError(f"Split '{mode}' not supported for {name}")


class FrameDataset(Dataset):
    """Common item logic of the frame-list datasets; subclasses say which frames and labels.

    Items are ``(inputs, label, index, meta)`` as for Kinetics: train/val inputs
    are ``C x T x H x W`` pathway tensors (``N x C x T x H x W`` and N labels with
    AUG.NUM_SAMPLE N > 1), augmented by Kinetics' ``ClipAugmenter``, test inputs stack every view
    ``V x C x T x H x W`` (view = clip * NUM_SPATIAL_CROPS + crop). Unreadable
    frames are replaced by another video and counted (``meta["skipped"]``) in
    train/val, and raise FrameReadError in test.
    """

    name = "frames"

    def __init__(self, cfg: CfgNode, mode: str, num_retries: Optional[int] = None) -> None:
        check_frame_dataset_cfg(cfg, mode, type(self).__name__)
        self.cfg = cfg
        self.mode = mode
        self._num_retries = cfg.DATA_LOADER.NUM_RETRIES if num_retries is None else num_retries
        self._num_clips = cfg.TEST.NUM_ENSEMBLE_VIEWS
        self._num_crops = cfg.TEST.NUM_SPATIAL_CROPS
        test_crop_indices(self._num_crops)
        self._augment = ClipAugmenter(cfg, mode) if mode != "test" else None
        if self._augment is not None and self._augment.num_samples > 1:
            self.collate_fn = repeated_aug_collate
        self.num_skipped = 0
        self.csv_path = os.path.join(cfg.DATA.PATH_TO_DATA_DIR, "train.csv" if mode == "train" else "val.csv")
        self._names: List[str] = []
        self._paths: List[List[str]] = []

    @property
    def num_videos(self) -> int:
        return len(self._names)

    @property
    def num_views(self) -> int:
        return self._num_clips * self._num_crops

    def __len__(self) -> int:
        return self.num_videos

    def describe(self, index: int) -> str:
        return f"video {self._names[index]} of {self.csv_path}"

    def test_clips(self, index: int) -> List[List[int]]:
        """Frame indices of each of the TEST.NUM_ENSEMBLE_VIEWS clips of video ``index``."""
        raise NotImplementedError

    def video_label(self, index: int) -> Any:
        raise NotImplementedError

    def load_train_item(self, index: int, shape: Optional[CropShape] = None) -> Tuple[torch.Tensor, Any]:
        """``(clip, label)`` of video ``index`` for train/val; the clip comes from ``self.train_clip``
        (cropped to ``shape`` when given)."""
        raise NotImplementedError

    def train_clip(self, index: int, clip: Sequence[int], shape: Optional[CropShape] = None) -> torch.Tensor:
        """Frames ``clip`` of video ``index`` through the training recipe (``train_clip``)."""
        return train_clip(self._paths[index], clip, self._augment, self.cfg.DATA.RANDOM_FLIP, shape)

    def __getitem__(self, index: ItemIndex) -> Tuple[List[torch.Tensor], Any, int, Dict[str, Any]]:
        index, short_cycle_idx = split_item_index(index)
        if self.mode == "test":
            clips = self.test_clips(index)
            try:
                views = test_views(self._paths[index], clips, self.cfg)
            except FrameReadError as exc:
                raise FrameReadError(f"{self.describe(index)}, frame {exc.path}", exc.reason) from exc
            decoded = len({i for clip in clips for i in clip})
            meta = {"skipped": 0, "decoded_frames": decoded}
            return pack_pathway_output(self.cfg, views), self.video_label(index), index, meta
        shape = train_crop_shape(self.cfg, short_cycle_idx)
        (frames, label), used, skipped = retry_with_other_items(
            lambda i: self.load_train_item(i, shape), index, len(self), self._num_retries,
            describe=self.describe, errors=(FrameReadError,),
        )
        self.num_skipped += skipped
        if self._augment.num_samples > 1:
            label = repeated_labels(label, self._augment.num_samples)
        meta = {"skipped": skipped, "decoded_frames": self.cfg.DATA.NUM_FRAMES}
        return pack_pathway_output(self.cfg, frames), label, used, meta
