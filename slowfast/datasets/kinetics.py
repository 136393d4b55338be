"""Kinetics-format video classification dataset: ``{train,val,test}.csv`` of ``path label`` lines.

Train and val items are one random clip of one video. A test item is one
whole video: decoded once and cut into every ensemble view (TEST.NUM_ENSEMBLE_VIEWS
clips x TEST.NUM_SPATIAL_CROPS crops), stacked clip-major.
"""

import logging
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from fvcore.common.config import CfgNode
from iopath.common.file_io import g_pathmgr
from torch.utils.data import Dataset

from slowfast.datasets import decoder, sampling, transform
from slowfast.datasets.build import DATASET_REGISTRY
from slowfast.datasets.short_cycle import CropShape, ItemIndex, split_item_index, train_crop_shape, train_sampling_rate
from slowfast.datasets.train_augment import ClipAugmenter, repeated_aug_collate, repeated_labels
from slowfast.datasets.utils import (
    normalize_to_cthw,
    pack_pathway_output,
    retry_with_other_items,
)

logger = logging.getLogger(__name__)

Item = Tuple[List[torch.Tensor], int, int, Dict[str, Any]]


class DatasetFormatError(ValueError):
    """A dataset list file is malformed; the message names the file and the line."""


def load_video_list(
    csv_path: str, path_prefix: str = "", separator: str = " ", num_classes: Optional[int] = None
) -> Tuple[List[str], List[int]]:
    """Read ``path label`` lines (``separator``-separated; comma or whitespace also accepted).

    Blank lines are ignored. Raises DatasetFormatError naming the file and line
    for a line that does not have exactly two columns, whose label is not an
    integer, or (given ``num_classes``, MODEL.NUM_CLASSES) whose label is outside
    ``[0, num_classes)``.
    """
    if not g_pathmgr.exists(csv_path):
        raise FileNotFoundError(f"Dataset list {csv_path} not found")
    paths: List[str] = []
    labels: List[int] = []
    with g_pathmgr.open(csv_path, "r") as f:
        for lineno, raw in enumerate(f, start=1):
            line = raw.strip()
            if not line:
                continue
            fields = _split_columns(line, separator)
            if len(fields) != 2:
                raise DatasetFormatError(
                    f"{csv_path}:{lineno}: expected 2 columns (path label), got {len(fields)}: {line!r}"
                )
            path, label = fields
            try:
                value = int(label)
            except ValueError:
                raise DatasetFormatError(
                    f"{csv_path}:{lineno}: label {label!r} is not an integer: {line!r}"
                ) from None
            if num_classes is not None and not 0 <= value < num_classes:
                raise DatasetFormatError(
                    f"{csv_path}:{lineno}: label {value} is outside [0, MODEL.NUM_CLASSES={num_classes}): {line!r}"
                )
            paths.append(os.path.join(path_prefix, path))
            labels.append(value)
    if not paths:
        raise DatasetFormatError(f"{csv_path}: no videos listed")
    return paths, labels


def _split_columns(line: str, separator: str) -> List[str]:
    candidates = [separator] + [s for s in (",", " ") if s != separator]
    best: List[str] = []
    for sep in candidates:
        fields = line.split() if sep.isspace() else [x.strip() for x in line.split(sep)]
        if len(fields) == 2:
            return fields
        if not best:
            best = fields
    return best


def decode_threads_of(cfg: CfgNode) -> decoder.DecodeThreads:
    """DATA.DECODE_THREADS, with PySlowFast's DATA_LOADER.ENABLE_MULTI_THREAD_DECODE meaning "auto"."""
    threads = decoder.parse_decode_threads(cfg.DATA.get("DECODE_THREADS", "none"))
    if threads is None and cfg.DATA_LOADER.get("ENABLE_MULTI_THREAD_DECODE", False):
        threads = "auto"
    return threads


@DATASET_REGISTRY.register()
class Kinetics(Dataset):
    """Kinetics-style dataset over the csv lists in DATA.PATH_TO_DATA_DIR.

    Items are ``(inputs, label, index, meta)``. ``inputs`` is the list of pathway
    tensors: ``C x T x H x W`` each in train/val mode, ``V x C x T x H x W`` in
    test mode (view ``v`` = clip ``v // NUM_SPATIAL_CROPS``, crop ``v % NUM_SPATIAL_CROPS``,
    crops ordered left/top, centre, right/bottom). ``meta`` holds ``skipped``,
    the number of unreadable videos replaced to produce the item (always 0 in
    test mode, where a failing video is an error), and ``decoded_frames``, the
    frames the decoder produced for it. Both are ints, so the default collate
    turns them into per-batch tensors that the engine can sum per epoch, also
    across worker processes.
    """

    def __init__(self, cfg: CfgNode, mode: str, num_retries: Optional[int] = None) -> None:
        if mode not in ("train", "val", "test"):
            raise ValueError(f"Split '{mode}' not supported for {type(self).__name__}")
        if cfg.DATA.DECODING_BACKEND.lower() != "pyav":
            raise ValueError(f"DATA.DECODING_BACKEND '{cfg.DATA.DECODING_BACKEND}' is not supported; use 'pyav'")
        self.cfg = cfg
        self.mode = mode
        self._num_retries = cfg.DATA_LOADER.NUM_RETRIES if num_retries is None else num_retries
        self._threads = decode_threads_of(cfg)
        self._num_clips = cfg.TEST.NUM_ENSEMBLE_VIEWS
        self._num_crops = cfg.TEST.NUM_SPATIAL_CROPS
        if self._num_crops not in (1, 3):
            raise ValueError(f"TEST.NUM_SPATIAL_CROPS must be 1 or 3, got {self._num_crops}")
        self.num_skipped = 0
        self._augment = ClipAugmenter(cfg, mode) if mode != "test" else None
        if self._augment is not None and self._augment.num_samples > 1:
            self.collate_fn = repeated_aug_collate
        csv_path = os.path.join(self.data_dir(), f"{mode}.csv")
        self._path_to_videos, self._labels = load_video_list(
            csv_path, self.path_prefix(), cfg.DATA.PATH_LABEL_SEPARATOR, cfg.MODEL.NUM_CLASSES
        )
        logger.info("Constructed %s %s dataset with %d videos from %s", type(self).__name__, mode,
                    len(self._path_to_videos), csv_path)

    def data_dir(self) -> str:
        """Folder holding the csv lists."""
        return self.cfg.DATA.PATH_TO_DATA_DIR

    def path_prefix(self) -> str:
        """Prefix joined to each csv path."""
        return self.cfg.DATA.PATH_PREFIX

    @property
    def num_videos(self) -> int:
        return len(self._path_to_videos)

    @property
    def num_views(self) -> int:
        """Views per test item (clips x crops)."""
        return self._num_clips * self._num_crops

    @property
    def spatial_indices(self) -> List[int]:
        """Crop positions of the test views of one clip: [0, 1, 2] with three crops, [1] (centre) with one."""
        return [0, 1, 2] if self._num_crops == 3 else [1]

    @property
    def test_scale(self) -> int:
        """Short side of a test clip before its crops are cut (``sampling.view_short_side``)."""
        data = self.cfg.DATA
        return sampling.view_short_side(self._num_crops, data.TEST_CROP_SIZE, data.TRAIN_JITTER_SCALES)

    def video_path(self, index: int) -> str:
        return self._path_to_videos[index]

    def label(self, index: int) -> int:
        return self._labels[index]

    def __len__(self) -> int:
        return len(self._path_to_videos)

    def __getitem__(self, index: ItemIndex) -> Item:
        index, short_cycle_idx = split_item_index(index)
        if self.mode == "test":
            views, decoded = self.load_test_views(index)
            inputs = pack_pathway_output(self.cfg, views)
            return inputs, self._labels[index], index, {"skipped": 0, "decoded_frames": decoded}
        shape = train_crop_shape(self.cfg, short_cycle_idx)
        (clip, label, decoded), used, skipped = retry_with_other_items(
            lambda i: self.load_train_item(i, shape),
            index,
            len(self),
            self._num_retries,
            describe=self.video_path,
            errors=(decoder.DecodeError,),
        )
        self.num_skipped += skipped
        inputs = pack_pathway_output(self.cfg, clip)
        if self._augment.num_samples > 1:
            # Repeated augmentation: N clips of one video, one label each (repeated_aug_collate flattens them).
            label = repeated_labels(label, self._augment.num_samples)
        return inputs, label, used, {"skipped": skipped, "decoded_frames": decoded}

    def load_train_item(self, index: int, shape: Optional[CropShape] = None) -> Tuple[torch.Tensor, int, int]:
        """``(clip, label, decoded_frames)`` of video ``index`` for train/val; subclasses may adapt the label.

        ``shape`` is the item's multigrid crop (``short_cycle.train_crop_shape``).
        """
        clip, decoded = self.load_train_clip(index, shape=shape)
        return clip, self._labels[index], decoded

    def _decode(self, index: int, clip_indices: Sequence[int], sampling_rate: Optional[int] = None) -> decoder.DecodedClips:
        data = self.cfg.DATA
        return decoder.decode_clips(
            self._path_to_videos[index],
            num_frames=data.NUM_FRAMES,
            sampling_rate=data.SAMPLING_RATE if sampling_rate is None else sampling_rate,
            target_fps=data.TARGET_FPS,
            clip_indices=clip_indices,
            num_clips=self._num_clips,
            threads=self._threads,
            use_offset=data.USE_OFFSET_SAMPLING,
        )

    def load_train_clip(
        self, index: int, random_flip: Optional[bool] = None, shape: Optional[CropShape] = None
    ) -> Tuple[torch.Tensor, int]:
        """One random, augmented ``C x T x H x W`` clip of video ``index`` and the frames decoded for it.

        With AUG.NUM_SAMPLE N > 1 (train split) the clip is decoded once and
        augmented N times: ``N x C x T x H x W``. ``random_flip`` overrides
        DATA.RANDOM_FLIP; ``shape`` the crop (multigrid). The stride is DATA.SAMPLING_RATE
        or, with MULTIGRID.LONG_CYCLE_SAMPLING_RATE, drawn up to it. The recipe is
        slowfast.datasets.train_augment's.
        """
        if random_flip is None:
            random_flip = self.cfg.DATA.RANDOM_FLIP
        decoded = self._decode(index, [-1], train_sampling_rate(self.cfg))
        clips = self._augment(decoded.clip(0), random_flip, shape=shape)
        return (clips[0] if len(clips) == 1 else torch.stack(clips)), decoded.num_decoded

    def load_test_views(self, index: int) -> Tuple[torch.Tensor, int]:
        """All test views of video ``index`` from one decode: ``V x C x T x S x S`` and the frames decoded.

        Normalisation is elementwise, so it runs once over the distinct frames
        of all clips. Resizing runs once per clip (not per view) on a
        ``C x T x H x W`` tensor, the shape it has in PySlowFast's per-view
        pipeline: the CPU bilinear kernel may round differently for another
        number of frames, and the views must equal the per-view ones bit for bit
        (``tests/datasets/per_view_reference.py``). The short side goes to
        ``test_scale`` and the crops are cut from there.
        """
        data = self.cfg.DATA
        decoded = self._decode(index, list(range(self._num_clips)))
        frames = normalize_to_cthw(decoded.frames, data.MEAN, data.STD)
        scale = self.test_scale
        views = []
        for k in range(self._num_clips):
            clip = torch.index_select(frames, 1, decoded.clip_index[k])
            clip, _ = transform.short_side_scale(clip, scale)
            for s in self.spatial_indices:
                views.append(transform.uniform_crop(clip, data.TEST_CROP_SIZE, s)[0])
        return torch.stack(views), decoded.num_decoded
