"""The AVA demo with precomputed person boxes (DEMO.PREDS_BOXES, optional DEMO.GT_BOXES).

Box files are AVA CSVs (``video_id, second, x1, y1, x2, y2, action_id, score``, boxes in [0, 1]),
read by ``slowfast.datasets.ava_helper.read_box_csv``; the rows of the input video (its file
name without extension) are used, second ``s`` being frame ``(s - DEMO.STARTING_SECOND) * fps``.
Two passes over the video keep memory bounded: the first predicts the actions of every keyframe's
boxes on the clip centred on it, the second writes every frame, drawing the boxes and labels of a
keyframe on the frames within DEMO.CLIP_VIS_SIZE of it (repeated DEMO.SLOWMO times), ground truth
dashed beside the predictions.
"""

import os
from typing import Dict, Optional, Tuple

import numpy as np
import torch
from fvcore.common.config import CfgNode

from slowfast.datasets.ava_helper import AnnotationIssues, Annotations, clip_frame_indices, read_box_csv
from slowfast.datasets.kinetics import DatasetFormatError
from slowfast.utils.logging import get_logger
from slowfast.visualization.demo import Drawer, Predictor, check_demo_cfg
from slowfast.visualization.video_io import VideoSink, VideoSource

logger = get_logger(__name__)

# keyframe index -> (N x 4 pixel boxes, per-box label lists or scores)
Keyframes = Dict[int, Tuple[np.ndarray, list]]


def load_video_boxes(path: str, video: str, *, is_gt: bool, cfg: CfgNode, fps: float, width: int, height: int,
                     num_frames: int) -> Keyframes:
    """Boxes of ``video`` in an AVA CSV, by keyframe index, in pixels; labels shifted to 0-based ids.

    Raises:
        DatasetFormatError: the file has no row of ``video`` (a box file of another video), or none
            of its seconds falls inside the video.
    """
    out = Annotations(boxes={}, first_row={}, issues=AnnotationIssues())
    read_box_csv(path, is_gt=is_gt, num_classes=cfg.MODEL.NUM_CLASSES, score_thresh=cfg.AVA.DETECTION_SCORE_THRESH,
                 keep_sec=lambda sec: True, out=out)
    if video not in out.boxes:
        raise DatasetFormatError(
            f"{path} has no boxes of video '{video}' (the input's file name without extension); it holds "
            f"{sorted(out.boxes)[:5]}. Pass the box file of DEMO.INPUT_VIDEO"
        )
    keyframes: Keyframes = {}
    for sec, by_box in out.boxes[video].items():
        idx = int(round((sec - cfg.DEMO.STARTING_SECOND) * fps))
        if not 0 <= idx < num_frames:
            continue
        boxes = np.array([list(b) for b, _ in by_box.values()], dtype=np.float32).reshape(-1, 4)
        boxes[:, [0, 2]] *= width
        boxes[:, [1, 3]] *= height
        labels = [[c - 1 for c in ls if c != -1] for _, ls in by_box.values()]
        keyframes[idx] = (boxes, labels)
    if not keyframes:
        raise DatasetFormatError(
            f"{path}: no second of video '{video}' lies in its {num_frames} frames at {fps:g} fps "
            f"(second s is frame (s - DEMO.STARTING_SECOND={cfg.DEMO.STARTING_SECOND}) x fps)"
        )
    return keyframes


def _count_frames(cfg: CfgNode) -> int:
    source = VideoSource(cfg.DEMO.INPUT_VIDEO)
    try:
        return sum(1 for _ in source)
    finally:
        source.close()


def predict_keyframes(cfg: CfgNode, predictor, keyframes: Keyframes, num_frames: int) -> Dict[int, torch.Tensor]:
    """Action scores ``[N, K]`` of every keyframe's boxes, on the clip centred on it (one decoding pass)."""
    clips = {k: clip_frame_indices(k, cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, num_frames) for k in keyframes}
    needed = {i for idx in clips.values() for i in idx}
    order = sorted(clips, key=lambda k: max(clips[k]))
    cache: Dict[int, np.ndarray] = {}
    preds: Dict[int, torch.Tensor] = {}
    source = VideoSource(cfg.DEMO.INPUT_VIDEO)
    try:
        for i, frame in enumerate(source):
            if i in needed:
                cache[i] = frame
            while order and max(clips[order[0]]) <= i:
                k = order.pop(0)
                preds[k] = predictor.predict([cache[j] for j in clips[k]], keyframes[k][0])
                low = min(min(clips[o]) for o in order) if order else i + 1
                cache = {j: f for j, f in cache.items() if j >= low}
    finally:
        source.close()
    if order:
        raise DatasetFormatError(f"{cfg.DEMO.INPUT_VIDEO}: ended before the frames of keyframes {order[:5]}")
    return preds


def run_ava_demo(cfg: CfgNode, predictor=None) -> int:
    """Predict the actions of DEMO.PREDS_BOXES and write DEMO.OUTPUT_FILE; returns the number of frames written."""
    check_demo_cfg(cfg)
    if cfg.DEMO.SLOWMO < 1:
        raise ValueError(f"DEMO.SLOWMO must be >= 1, got {cfg.DEMO.SLOWMO}")
    if cfg.DEMO.WEBCAM > -1:
        raise ValueError("DEMO.PREDS_BOXES belong to a video file: set DEMO.INPUT_VIDEO, not DEMO.WEBCAM")
    drawer = Drawer(cfg)
    probe = VideoSource(cfg.DEMO.INPUT_VIDEO, fallback_fps=cfg.DEMO.FPS)
    probe.close()
    num_frames = _count_frames(cfg)
    geometry = dict(cfg=cfg, fps=probe.fps, width=probe.width, height=probe.height, num_frames=num_frames)
    video = os.path.splitext(os.path.basename(cfg.DEMO.INPUT_VIDEO))[0]
    pred_boxes = load_video_boxes(cfg.DEMO.PREDS_BOXES, video, is_gt=False, **geometry)
    gt_boxes: Optional[Keyframes] = (
        load_video_boxes(cfg.DEMO.GT_BOXES, video, is_gt=True, **geometry) if cfg.DEMO.GT_BOXES else None
    )
    predictor = predictor or Predictor(cfg, detect_persons=False)
    scores = predict_keyframes(cfg, predictor, pred_boxes, num_frames)
    logger.info("AVA demo: predicted %d keyframes of %s", len(scores), video)

    span = cfg.DEMO.CLIP_VIS_SIZE
    fps = cfg.DEMO.OUTPUT_FPS if cfg.DEMO.OUTPUT_FPS > 0 else probe.fps
    sink = VideoSink(cfg.DEMO.OUTPUT_FILE, width=probe.width, height=probe.height, fps=fps,
                     sample_aspect_ratio=probe.sample_aspect_ratio)
    source = VideoSource(cfg.DEMO.INPUT_VIDEO)
    try:
        for i, frame in enumerate(source):
            near = [k for k in pred_boxes if abs(i - k) <= span]
            near_gt = [k for k in gt_boxes if abs(i - k) <= span] if gt_boxes else []
            if not near and not near_gt:
                sink.write(frame)
                continue
            frame = frame.copy()
            for k in near:
                drawer.boxes(frame, pred_boxes[k][0], scores[k])
            for k in near_gt:
                drawer.boxes(frame, gt_boxes[k][0], gt_boxes[k][1], ground_truth=True)
            for _ in range(cfg.DEMO.SLOWMO):
                sink.write(frame)
    finally:
        source.close()
        sink.close()
    logger.info("AVA demo: %d frames written to %s", sink.num_written, cfg.DEMO.OUTPUT_FILE or "the window")
    return sink.num_written
