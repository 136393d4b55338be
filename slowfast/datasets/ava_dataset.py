"""AVA spatio-temporal action detection: one item per annotated keyframe, with all of its boxes.

An item is ``(inputs, labels, index, meta)`` as in PySlowFast: ``inputs`` the
pathway list of the clip centred on the keyframe; ``labels`` a float
``[num_boxes, MODEL.NUM_CLASSES]`` multi-hot array (action id ``k`` sets column
``k - 1``); ``meta["boxes"]`` the boxes in pixels of the transformed clip,
``meta["ori_boxes"]`` the boxes as annotated (normalised), ``meta["metadata"]``
``[video_idx, second]`` per box and ``meta["skipped"]`` the number of keyframes
replaced because their frames failed to load (training only).

``ava_collate`` batches a variable number of boxes per clip; it is the
dataset's ``collate_fn``.
"""

import logging
import os
import random
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from fvcore.common.config import CfgNode
from torch.utils.data import Dataset

from slowfast.datasets import ava_helper, transform
from slowfast.datasets.build import DATASET_REGISTRY
from slowfast.datasets.kinetics import DatasetFormatError
from slowfast.datasets.utils import pack_pathway_output, retry_with_other_items, tensor_normalize

logger = logging.getLogger(__name__)

Item = Tuple[List[torch.Tensor], np.ndarray, int, Dict[str, Any]]
Batch = Tuple[List[torch.Tensor], torch.Tensor, torch.Tensor, Dict[str, torch.Tensor]]

IMG_PROC_BACKENDS = ("cv2", "pytorch")


class FrameLoadError(OSError):
    """A frame of a clip is missing or cannot be decoded; the message names the file."""


def load_frames(paths: Sequence[str]) -> np.ndarray:
    """Read JPEG frames with OpenCV into one ``T x H x W x 3`` uint8 array (BGR, as stored).

    Each distinct path is decoded once (clamped clips repeat edge frames).

    Raises:
        FrameLoadError: naming the first missing or undecodable file, or frames
            of different sizes.
    """
    decoded: Dict[str, np.ndarray] = {}
    for path in dict.fromkeys(paths):
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            reason = "cannot be decoded" if os.path.exists(path) else "does not exist"
            raise FrameLoadError(f"Frame {path} {reason}")
        decoded[path] = img
    shapes = {img.shape for img in decoded.values()}
    if len(shapes) > 1:
        raise FrameLoadError(f"Frames of one clip differ in size {sorted(shapes)}: {paths[0]} ... {paths[-1]}")
    return np.stack([decoded[p] for p in paths])


def color_jitter(
    frames: torch.Tensor,
    brightness: float,
    contrast: float,
    saturation: float,
    rng: Optional[random.Random] = None,
) -> torch.Tensor:
    """PySlowFast's colour jitter on an RGB ``C x T x H x W`` clip in ``[0, 1]``, in random order.

    Brightness blends with black, contrast with each frame's mean grey level,
    saturation with the grey image; each factor is ``1 + uniform(-v, v)``.
    """
    rng = rng or random
    ops = [op for op, v in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)) if v]
    rng.shuffle(ops)
    for op in ops:
        var = {"brightness": brightness, "contrast": contrast, "saturation": saturation}[op]
        alpha = 1.0 + rng.uniform(-var, var)
        if op == "brightness":
            frames = frames * alpha
            continue
        gray = 0.299 * frames[0] + 0.587 * frames[1] + 0.114 * frames[2]
        if op == "contrast":
            gray = gray.mean(dim=(-2, -1), keepdim=True)
        frames = frames * alpha + gray.unsqueeze(0) * (1.0 - alpha)
    return frames


def lighting_jitter(
    frames: torch.Tensor,
    alphastd: float,
    eigval: Sequence[float],
    eigvec: Sequence[Sequence[float]],
    rng: Optional[random.Random] = None,
) -> torch.Tensor:
    """AlexNet-style PCA lighting noise on an RGB ``C x T x H x W`` clip (``eigvec`` rows are R, G, B)."""
    if alphastd == 0:
        return frames
    rng = rng or random
    alpha = torch.tensor([rng.gauss(0.0, alphastd) for _ in range(3)], dtype=torch.float64)
    offset = torch.as_tensor(eigvec, dtype=torch.float64) @ (alpha * torch.as_tensor(eigval, dtype=torch.float64))
    return frames + offset.to(frames.dtype).view(3, 1, 1, 1)


def _pad_stack(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Stack ``C x T x H x W`` clips, zero-padding right and bottom to the largest ``H`` and ``W``."""
    height = max(t.shape[-2] for t in tensors)
    width = max(t.shape[-1] for t in tensors)
    if all(t.shape[-2:] == (height, width) for t in tensors):
        return torch.stack(list(tensors))
    out = tensors[0].new_zeros((len(tensors),) + tuple(tensors[0].shape[:-2]) + (height, width))
    for i, t in enumerate(tensors):
        out[i, ..., : t.shape[-2], : t.shape[-1]] = t
    return out


def ava_collate(batch: Sequence[Item]) -> Batch:
    """Batch AVA items whose clips carry different numbers of boxes.

    Returns ``(inputs, labels, index, meta)``: ``inputs`` a list of ``[B, C, T,
    H, W]`` pathway tensors (clips of different sizes, as at test time, are
    zero-padded right and bottom, which leaves box coordinates unchanged);
    ``labels`` float ``[N, num_classes]`` over the ``N`` boxes of the batch;
    ``index`` long ``[B]``; ``meta["boxes"]`` and ``meta["ori_boxes"]`` float
    ``[N, 5]`` (batch index, x1, y1, x2, y2); ``meta["metadata"]`` long
    ``[N, 2]`` (video_idx, second); ``meta["keyframe_index"]`` long ``[N]``
    (the dataset index of each box's keyframe); ``meta["skipped"]`` long ``[B]``.
    """
    inputs, labels, indices, metas = zip(*batch)
    counts = [len(m["boxes"]) for m in metas]
    batch_idx = np.repeat(np.arange(len(batch), dtype=np.float32), counts)[:, None]

    def with_batch_idx(key: str) -> torch.Tensor:
        boxes = np.concatenate([np.asarray(m[key], dtype=np.float32).reshape(-1, 4) for m in metas])
        return torch.from_numpy(np.concatenate([batch_idx, boxes], axis=1))

    meta = {
        "boxes": with_batch_idx("boxes"),
        "ori_boxes": with_batch_idx("ori_boxes"),
        "metadata": torch.from_numpy(
            np.concatenate([np.asarray(m["metadata"], dtype=np.int64).reshape(-1, 2) for m in metas])
        ),
        "keyframe_index": torch.from_numpy(np.repeat(np.asarray(indices, dtype=np.int64), counts)),
        "skipped": torch.tensor([int(m.get("skipped", 0)) for m in metas], dtype=torch.long),
    }
    pathways = [_pad_stack([x[p] for x in inputs]) for p in range(len(inputs[0]))]
    labels_t = torch.from_numpy(np.concatenate([np.asarray(y, dtype=np.float32) for y in labels]))
    return pathways, labels_t, torch.as_tensor(indices, dtype=torch.long), meta


@DATASET_REGISTRY.register()
class Ava(Dataset):
    """The AVA dataset (``AVA.*`` keys), one item per keyframe with at least one box.

    Train uses ground-truth and detected boxes (``AVA.TRAIN_GT_BOX_LISTS``,
    ``AVA.TRAIN_PREDICT_BOX_LISTS``) with scale jitter, random crop, flip
    (``DATA.RANDOM_FLIP``) and optional colour/PCA jitter; val scales the short
    side to ``DATA.TEST_CROP_SIZE`` and takes the centre crop; test scales the
    whole frame. Both evaluate ``AVA.TEST_PREDICT_BOX_LISTS`` boxes scoring at
    least ``AVA.DETECTION_SCORE_THRESH``.
    """

    collate_fn = staticmethod(ava_collate)

    def __init__(self, cfg: CfgNode, split: str) -> None:
        if split not in ("train", "val", "test"):
            raise ValueError(f"Unknown AVA split '{split}'; expected train, val or test")
        backend = cfg.AVA.IMG_PROC_BACKEND
        if backend not in IMG_PROC_BACKENDS:
            raise ValueError(f"AVA.IMG_PROC_BACKEND '{backend}' is not supported; choose one of {IMG_PROC_BACKENDS}")
        self.cfg = cfg
        self._split = split
        self._num_frames = cfg.DATA.NUM_FRAMES
        self._sample_rate = cfg.DATA.SAMPLING_RATE
        self._num_classes = cfg.MODEL.NUM_CLASSES
        self._num_retries = cfg.DATA_LOADER.NUM_RETRIES
        self._crop_size = cfg.DATA.TRAIN_CROP_SIZE if split == "train" else cfg.DATA.TEST_CROP_SIZE
        self.num_skipped = 0
        self._load_data()

    @property
    def video_idx_to_name(self) -> List[str]:
        """Video names by the ``video_idx`` of ``meta["metadata"]``."""
        return self._video_idx_to_name

    def _load_data(self) -> None:
        self._image_paths, self._video_idx_to_name = ava_helper.load_image_lists(
            self.cfg, is_train=self._split == "train"
        )
        ann = ava_helper.load_boxes_and_labels(self.cfg, self._split)
        known = set(self._video_idx_to_name)
        missing = [v for v in ann.boxes if v not in known]
        if missing:
            where = "; ".join(f"{v} (first at {ann.first_row[v]})" for v in missing[:5])
            lists = self.cfg.AVA.TRAIN_LISTS if self._split == "train" else self.cfg.AVA.TEST_LISTS
            message = (
                f"{len(missing)} videos of the {self._split} annotations are not in the frame lists {list(lists)}: "
                f"{where}"
            )
            if self._split != "train":
                raise DatasetFormatError(message + "; their keyframes could not be evaluated")
            logger.warning("%s; their %d keyframes are skipped", message,
                           sum(len(ann.boxes[v]) for v in missing))
        per_video = [ann.boxes.get(name, {}) for name in self._video_idx_to_name]
        keyframes, boxes = ava_helper.get_keyframe_data(per_video)
        keyframes = self._check_keyframes_in_videos(keyframes)
        self._keyframe_indices = keyframes
        self._keyframe_boxes_and_labels = boxes
        self._num_boxes_used = ava_helper.get_num_boxes_used(keyframes, boxes)
        logger.info(
            "AVA %s: %d videos, %d frames, %d keyframes, %d boxes",
            self._split, len(self._image_paths), sum(map(len, self._image_paths)), len(self), self._num_boxes_used,
        )
        if not keyframes:
            raise DatasetFormatError(f"The AVA {self._split} split has no keyframe with a box")

    def _check_keyframes_in_videos(self, keyframes: List[Tuple[int, int, int, int]]) -> List[Tuple[int, int, int, int]]:
        """Drop (train) or refuse (val/test) keyframes past the end of their video's frame list."""
        beyond = [k for k in keyframes if k[3] >= len(self._image_paths[k[0]])]
        if not beyond:
            return keyframes
        examples = "; ".join(
            f"{self._video_idx_to_name[v]} second {sec} (frame {frame}, video has {len(self._image_paths[v])})"
            for v, _, sec, frame in beyond[:5]
        )
        message = f"{len(beyond)} annotated keyframes lie past the end of their frame list: {examples}"
        if self._split != "train":
            raise DatasetFormatError(message)
        logger.warning("%s; they are skipped", message)
        return [k for k in keyframes if k[3] < len(self._image_paths[k[0]])]

    def __len__(self) -> int:
        return len(self._keyframe_indices)

    def describe(self, idx: int) -> str:
        """``video second S`` of keyframe ``idx``, for messages."""
        video_idx, _, sec, _ = self._keyframe_indices[idx]
        return f"keyframe {self._video_idx_to_name[video_idx]} second {sec}"

    def __getitem__(self, idx: int) -> Item:
        if self._split != "train":
            try:
                inputs, labels, meta = self.load_keyframe(idx)
            except FrameLoadError as exc:
                raise FrameLoadError(f"{exc} ({self.describe(idx)}, {self._split} split)") from exc
            meta["skipped"] = 0
            return inputs, labels, idx, meta
        (inputs, labels, meta), used, skipped = retry_with_other_items(
            self.load_keyframe, idx, len(self), self._num_retries, describe=self.describe, errors=(FrameLoadError,)
        )
        self.num_skipped += skipped
        meta["skipped"] = skipped
        return inputs, labels, used, meta

    def clip_paths(self, idx: int) -> List[str]:
        """Paths of the frames of keyframe ``idx``'s clip."""
        video_idx, _, _, center = self._keyframe_indices[idx]
        frames = self._image_paths[video_idx]
        seq = ava_helper.clip_frame_indices(center, self._num_frames, self._sample_rate, len(frames))
        frame_dir = self.cfg.AVA.FRAME_DIR
        return [os.path.join(frame_dir, frames[i].decode("utf-8")) for i in seq]

    def load_keyframe(self, idx: int) -> Tuple[List[torch.Tensor], np.ndarray, Dict[str, Any]]:
        """Pathway inputs, multi-hot labels and box metadata of keyframe ``idx``."""
        video_idx, sec_idx, sec, _ = self._keyframe_indices[idx]
        box_labels = self._keyframe_boxes_and_labels[video_idx][sec_idx]
        boxes = np.array([b for b, _ in box_labels], dtype=np.float32).reshape(-1, 4)
        labels = np.zeros((len(box_labels), self._num_classes), dtype=np.float32)
        for i, (_, ids) in enumerate(box_labels):
            ids = [k - 1 for k in ids if k != -1]
            labels[i, ids] = 1.0
        frames = load_frames(self.clip_paths(idx))
        clip, pixel_boxes = self.preprocess(frames, boxes.copy())
        meta = {
            "boxes": pixel_boxes.astype(np.float32),
            "ori_boxes": boxes,
            "metadata": np.array([[video_idx, sec]] * len(boxes), dtype=np.int64).reshape(-1, 2),
        }
        return pack_pathway_output(self.cfg, clip), labels, meta

    def preprocess(self, frames: np.ndarray, boxes: np.ndarray) -> Tuple[torch.Tensor, np.ndarray]:
        """``T x H x W x 3`` BGR uint8 frames and normalised boxes -> ``C x T x H x W`` clip and pixel boxes.

        Geometry as PySlowFast: boxes to pixels and clipped; train: scale jitter
        in ``DATA.TRAIN_JITTER_SCALES``, random crop, random flip; val: short
        side to the crop size and centre crop; test: short side to the crop
        size. ``AVA.TEST_FORCE_FLIP`` flips val/test clips. Colour: RGB unless
        ``AVA.BGR``; train colour/PCA jitter (``AVA.TRAIN_USE_COLOR_AUGMENTATION``,
        ``AVA.TRAIN_PCA_JITTER_ONLY``) on the RGB clip in ``[0, 1]``; then
        normalised by ``DATA.MEAN``/``DATA.STD`` given in the output channel order.
        Boxes are finally clipped to the clip. ``IMG_PROC_BACKEND`` cv2 and
        pytorch both run this one tensor pipeline.
        """
        cfg = self.cfg
        rgb = np.ascontiguousarray(frames[..., ::-1])
        clip = torch.from_numpy(rgb).permute(3, 0, 1, 2).float().div_(255.0)
        height, width = clip.shape[-2:]
        boxes[:, [0, 2]] *= width
        boxes[:, [1, 3]] *= height
        boxes = transform.clip_boxes_to_image(boxes, height, width)
        size = self._crop_size
        if self._split == "train":
            clip, boxes = transform.random_short_side_scale_jitter(
                clip, cfg.DATA.TRAIN_JITTER_SCALES[0], cfg.DATA.TRAIN_JITTER_SCALES[1], boxes
            )
            clip, boxes = transform.random_crop(clip, size, boxes)
            if cfg.DATA.RANDOM_FLIP:
                clip, boxes = transform.horizontal_flip(0.5, clip, boxes)
        else:
            clip, boxes = transform.short_side_scale(clip, size, boxes)
            if self._split == "val":
                clip, boxes = transform.uniform_crop(clip, size, 1, boxes)
            if cfg.AVA.TEST_FORCE_FLIP:
                clip, boxes = transform.horizontal_flip(1.0, clip, boxes)
        if self._split == "train" and cfg.AVA.TRAIN_USE_COLOR_AUGMENTATION:
            if not cfg.AVA.TRAIN_PCA_JITTER_ONLY:
                clip = color_jitter(clip, 0.4, 0.4, 0.4)
            clip = lighting_jitter(clip, 0.1, cfg.DATA.TRAIN_PCA_EIGVAL, cfg.DATA.TRAIN_PCA_EIGVEC)
        if cfg.AVA.BGR:
            clip = clip.flip(0)
        clip = tensor_normalize(clip.permute(1, 2, 3, 0), cfg.DATA.MEAN, cfg.DATA.STD).permute(3, 0, 1, 2)
        boxes = transform.clip_boxes_to_image(boxes, clip.shape[-2], clip.shape[-1])
        return clip.contiguous(), boxes
