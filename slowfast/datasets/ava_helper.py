"""Readers of the AVA files: frame lists, box/label annotation CSVs, and the keyframe index.

Layout (PySlowFast's): frames extracted at ``FPS`` under ``AVA.FRAME_DIR``; frame
lists under ``AVA.FRAME_LIST_DIR`` (``original_video_id video_idx frame_idx path
labels``, space separated, one header line); annotation CSVs under
``AVA.ANNOTATION_DIR`` with rows ``video_id, timestamp, x1, y1, x2, y2,
action_id[, person_id]`` for ground truth and ``video_id, timestamp, x1, y1, x2,
y2, action_id, score`` for detected boxes (``action_id`` may be empty). Boxes are
normalised to ``[0, 1]``. Frame 0 of a frame list is at second ``AVA_START_SEC``,
so the keyframe of second ``s`` is frame ``(s - AVA_START_SEC) * FPS``.

Bad input gives a ``DatasetFormatError`` naming the file and line, or a counted
warning naming the first offending rows (see ``AnnotationIssues``).
"""

import logging
import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from fvcore.common.config import CfgNode
from iopath.common.file_io import g_pathmgr

from slowfast.datasets.kinetics import DatasetFormatError
from slowfast.evaluation.ava_io import iter_csv_rows, parse_row

logger = logging.getLogger(__name__)

#: Frame rate of the extracted frames.
FPS = 30
#: Second of the first frame of every frame list (AVA clips are minutes 15 to 30 of a movie).
AVA_START_SEC = 900
#: Seconds that carry annotated keyframes.
AVA_VALID_FRAMES = range(902, 1799)
#: Boxes may exceed [0, 1] by this much (rounding in detector outputs); they are clipped and counted.
BOX_TOLERANCE = 0.01
#: Offending rows named in a warning before the rest are only counted.
_MAX_NAMED = 5
#: PySlowFast's validation subset (val without ``AVA.FULL_TEST_ON_VAL``): the seconds divisible by this.
VAL_SUBSET_EVERY_SEC = 4

# (x1, y1, x2, y2) in [0, 1], and the 1-based action ids of the box (-1: no action, a negative).
BoxLabels = Tuple[List[float], List[int]]
# video name -> second -> boxes of that keyframe.
BoxesByVideo = Dict[str, Dict[int, List[BoxLabels]]]


def sec_to_frame(sec: int) -> int:
    """Index in the frame list of the keyframe of second ``sec`` (902 -> 60)."""
    return (sec - AVA_START_SEC) * FPS


def clip_frame_indices(center_idx: int, num_frames: int, sampling_rate: int, video_frames: int) -> List[int]:
    """The ``num_frames`` frame indices of the clip centred on ``center_idx``, clamped into the video.

    The clip spans ``num_frames * sampling_rate`` frames starting at
    ``center_idx - num_frames * sampling_rate // 2``, as in PySlowFast (which
    gives one frame less when that span is odd and ``sampling_rate`` is 1; here
    the clip always has ``num_frames`` frames).
    """
    start = center_idx - (num_frames * sampling_rate) // 2
    return [min(max(start + k * sampling_rate, 0), video_frames - 1) for k in range(num_frames)]


def uses_val_subset(cfg: CfgNode, mode: str) -> bool:
    """Whether split ``mode`` samples and scores only the validation subset (see ``in_val_subset``)."""
    return mode == "val" and not cfg.AVA.FULL_TEST_ON_VAL


def in_val_subset(seconds: Any) -> Any:
    """Whether keyframe second(s) belong to the validation subset PySlowFast tracks during training.

    Takes an int or an integer array (elementwise).
    """
    return seconds % VAL_SUBSET_EVERY_SEC == 0


def _open_text(path: str):
    if not g_pathmgr.exists(path):
        raise FileNotFoundError(f"AVA file not found: {path}")
    return g_pathmgr.open(path, "r")


def read_frame_lists(list_paths: Sequence[str]) -> Tuple[List[np.ndarray], List[str]]:
    """Read frame list files into per-video arrays of frame paths (relative to ``AVA.FRAME_DIR``).

    Videos are numbered in order of first appearance. Each video's rows must
    give ``frame_idx`` 0, 1, 2, ... in order (the keyframe arithmetic relies on
    it); paths are stored as byte strings (one numpy array per video), which
    DataLoader workers can share without copying.

    Returns:
        ``(image_paths, video_idx_to_name)``.
    Raises:
        DatasetFormatError: naming file and line, for a row without 5 columns,
            a non-integer frame index, or frames out of order or missing.
    """
    paths: Dict[str, List[str]] = defaultdict(list)
    order: List[str] = []
    for list_path in list_paths:
        with _open_text(list_path) as f:
            f.readline()
            for lineno, line in enumerate(f, start=2):
                row = line.split()
                if not row:
                    continue
                if len(row) != 5:
                    raise DatasetFormatError(
                        f"{list_path}:{lineno}: expected 5 space-separated columns "
                        f"(original_video_id video_idx frame_idx path labels), got {len(row)}: {line.strip()!r}"
                    )
                video = row[0]
                try:
                    frame_idx = int(row[2])
                except ValueError:
                    raise DatasetFormatError(f"{list_path}:{lineno}: frame_idx {row[2]!r} is not an integer") from None
                frames = paths[video]
                if not frames:
                    order.append(video)
                if frame_idx != len(frames):
                    raise DatasetFormatError(
                        f"{list_path}:{lineno}: video {video} lists frame_idx {frame_idx} where {len(frames)} "
                        "was expected; frames must be listed in order from 0 without gaps"
                    )
                frames.append(row[3])
    if not order:
        raise DatasetFormatError(f"No frames listed in {', '.join(list_paths)}")
    image_paths = [np.char.encode(np.asarray(paths[v], dtype=str), "utf-8") for v in order]
    logger.info("Read %d videos, %d frames from %s", len(order), sum(map(len, image_paths)), ", ".join(list_paths))
    return image_paths, order


def load_image_lists(cfg: CfgNode, is_train: bool) -> Tuple[List[np.ndarray], List[str]]:
    """The frame lists of the train (``AVA.TRAIN_LISTS``) or val/test (``AVA.TEST_LISTS``) split."""
    names = cfg.AVA.TRAIN_LISTS if is_train else cfg.AVA.TEST_LISTS
    return read_frame_lists([os.path.join(cfg.AVA.FRAME_LIST_DIR, name) for name in names])


@dataclass
class AnnotationIssues:
    """Counts of rows skipped or changed while reading annotations, with the first few named."""

    below_threshold: int = 0
    outside_valid_seconds: int = 0
    not_sampled: int = 0
    clipped_boxes: int = 0
    degenerate_boxes: int = 0
    clipped_examples: List[str] = field(default_factory=list)
    degenerate_examples: List[str] = field(default_factory=list)

    def note(self, kind: str, where: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        examples = self.clipped_examples if kind == "clipped_boxes" else self.degenerate_examples
        if len(examples) < _MAX_NAMED:
            examples.append(where)

    def log(self) -> None:
        if self.clipped_boxes:
            logger.warning(
                "%d boxes lay slightly outside [0, 1] (by at most %g) and were clipped, e.g. %s",
                self.clipped_boxes, BOX_TOLERANCE, "; ".join(self.clipped_examples),
            )
        if self.degenerate_boxes:
            logger.warning(
                "%d boxes with zero width or height were skipped, e.g. %s",
                self.degenerate_boxes, "; ".join(self.degenerate_examples),
            )
        if self.outside_valid_seconds:
            logger.info(
                "%d rows outside the annotated seconds %d..%d were ignored",
                self.outside_valid_seconds, AVA_VALID_FRAMES[0], AVA_VALID_FRAMES[-1],
            )


@dataclass
class Annotations:
    """Boxes and labels by video and second, and where each video first appears (``file:line``)."""

    boxes: BoxesByVideo
    first_row: Dict[str, str]
    issues: AnnotationIssues
    num_boxes: int = 0
    num_labels: int = 0


def _check_box(box: List[float], row: List[str], where: str, issues: AnnotationIssues) -> Optional[List[float]]:
    """The dataset's box rules: finite, inside [0, 1] up to ``BOX_TOLERANCE`` (clipped), non-degenerate."""
    if not all(math.isfinite(v) for v in box):
        raise DatasetFormatError(f"{where}: box coordinates must be finite, got {row[2:6]!r}")
    if min(box) < -BOX_TOLERANCE or max(box) > 1.0 + BOX_TOLERANCE:
        raise DatasetFormatError(
            f"{where}: box {row[2:6]} lies outside [0, 1]; AVA boxes are normalised by the frame size "
            "(pixel coordinates?)"
        )
    if min(box) < 0.0 or max(box) > 1.0:
        box = [min(max(v, 0.0), 1.0) for v in box]
        issues.note("clipped_boxes", where)
    if box[2] <= box[0] or box[3] <= box[1]:
        issues.note("degenerate_boxes", where)
        return None
    return box


def read_box_csv(
    path: str,
    *,
    is_gt: bool,
    num_classes: int,
    score_thresh: float,
    keep_sec: Callable[[int], bool],
    out: Annotations,
) -> None:
    """Add the rows of one annotation CSV to ``out`` (PySlowFast's rules).

    Detected-box files (``is_gt=False``) need 8 columns and keep rows whose
    score (8th column) is at least ``score_thresh``; ground-truth files take 7
    or 8. Rows of the same video, second and box text are merged into one box
    with several labels (an empty action id adds none). Seconds outside
    ``AVA_VALID_FRAMES`` or rejected by ``keep_sec`` are skipped.

    Raises:
        DatasetFormatError: naming file and line, for a wrong column count, a
            non-numeric field, an action id outside ``1..num_classes`` or a box
            outside ``[0, 1]`` (beyond ``BOX_TOLERANCE``).
    """
    issues = out.issues
    scores_above_one = 0
    with _open_text(path) as f:
        for line_num, row in iter_csv_rows(f):
            where = f"{path}:{line_num}"
            video, sec, box, label, score = parse_row(
                row, where, columns=(7, 8) if is_gt else (8,), allow_empty_action=True, parse_score=not is_gt,
                error=DatasetFormatError,
            )
            if not is_gt:
                scores_above_one += score > 1.0
                if score < score_thresh:
                    issues.below_threshold += 1
                    continue
            if sec not in AVA_VALID_FRAMES:
                issues.outside_valid_seconds += 1
                continue
            if not keep_sec(sec):
                issues.not_sampled += 1
                continue
            if label != -1 and not 1 <= label <= num_classes:
                raise DatasetFormatError(
                    f"{where}: action id {label} is outside 1..{num_classes} (MODEL.NUM_CLASSES)"
                )
            box = _check_box(box, row, where, issues)
            if box is None:
                continue
            out.first_row.setdefault(video, where)
            by_box = out.boxes.setdefault(video, {}).setdefault(sec, {})
            key = ",".join(row[2:6])
            if key not in by_box:
                by_box[key] = (box, [])
                out.num_boxes += 1
            by_box[key][1].append(label)
            out.num_labels += label != -1
    if scores_above_one:
        logger.warning(
            "%s is a detected-box list but %d rows have a score above 1 (person ids of a ground-truth file?); "
            "rows are kept when that column is >= AVA.DETECTION_SCORE_THRESH, as in PySlowFast",
            path, scores_above_one,
        )


def load_boxes_and_labels(cfg: CfgNode, mode: str) -> Annotations:
    """Boxes and labels of split ``mode`` from the CSVs named in the config.

    Train reads ``AVA.TRAIN_GT_BOX_LISTS`` (ground truth) and
    ``AVA.TRAIN_PREDICT_BOX_LISTS``; val and test read
    ``AVA.TEST_PREDICT_BOX_LISTS``. Detected boxes below
    ``AVA.DETECTION_SCORE_THRESH`` are dropped. Validation keeps only the
    seconds of ``in_val_subset`` unless ``AVA.FULL_TEST_ON_VAL``.
    """
    gt_lists = list(cfg.AVA.TRAIN_GT_BOX_LISTS) if mode == "train" else []
    pred_lists = list(cfg.AVA.TRAIN_PREDICT_BOX_LISTS if mode == "train" else cfg.AVA.TEST_PREDICT_BOX_LISTS)
    if not gt_lists and not pred_lists:
        raise ValueError(f"No AVA box lists configured for the {mode} split")
    if uses_val_subset(cfg, mode):
        keep_sec: Callable[[int], bool] = in_val_subset
    else:
        def keep_sec(sec: int) -> bool:
            return True

    out = Annotations(boxes={}, first_row={}, issues=AnnotationIssues())
    files = [(name, True) for name in gt_lists] + [(name, False) for name in pred_lists]
    for name, is_gt in files:
        read_box_csv(
            os.path.join(cfg.AVA.ANNOTATION_DIR, name),
            is_gt=is_gt,
            num_classes=cfg.MODEL.NUM_CLASSES,
            score_thresh=cfg.AVA.DETECTION_SCORE_THRESH,
            keep_sec=keep_sec,
            out=out,
        )
    for video, secs in out.boxes.items():
        out.boxes[video] = {sec: list(by_box.values()) for sec, by_box in sorted(secs.items())}
    out.issues.log()
    logger.info(
        "Loaded %d boxes with %d labels in %d videos from %s (detection score threshold %g, %d detections below it)",
        out.num_boxes, out.num_labels, len(out.boxes), ", ".join(n for n, _ in files),
        cfg.AVA.DETECTION_SCORE_THRESH, out.issues.below_threshold,
    )
    return out


def get_keyframe_data(
    boxes_and_labels: Sequence[Dict[int, List[BoxLabels]]],
) -> Tuple[List[Tuple[int, int, int, int]], List[List[List[BoxLabels]]]]:
    """Keyframes with at least one box: ``(video_idx, sec_idx, sec, frame_idx)`` and their boxes.

    ``boxes_and_labels[video_idx]`` maps seconds to boxes; the second list is
    indexed ``[video_idx][sec_idx]``.
    """
    keyframe_indices: List[Tuple[int, int, int, int]] = []
    keyframe_boxes: List[List[List[BoxLabels]]] = []
    for video_idx, secs in enumerate(boxes_and_labels):
        keyframe_boxes.append([])
        for sec in sorted(secs):
            if sec not in AVA_VALID_FRAMES or not secs[sec]:
                continue
            keyframe_indices.append((video_idx, len(keyframe_boxes[video_idx]), sec, sec_to_frame(sec)))
            keyframe_boxes[video_idx].append(secs[sec])
    return keyframe_indices, keyframe_boxes


def get_num_boxes_used(
    keyframe_indices: Sequence[Tuple[int, int, int, int]], keyframe_boxes: Sequence[Sequence[Sequence]]
) -> int:
    """Total number of boxes over the keyframes."""
    return sum(len(keyframe_boxes[v][s]) for v, s, _, _ in keyframe_indices)
