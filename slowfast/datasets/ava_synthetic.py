"""A synthetic mini-AVA in the real AVA layout, for tests and for trying detection on a laptop.

Each video shows a few "actors" (a textured body and a head) over a textured
background. Every second each actor picks an action, held for the second
centred on the keyframe: 1 stand, 2 walk left, 3 walk right, 4 jump; with
action 5 (carry) the actor also holds a bright object, so boxes are
multi-label. Telling walk left from walk right needs the order of the frames.

Files, exactly as the real dataset (see ``DATASET.md``)::

    frames/<video>/<video>_000001.jpg ...            30 fps, frame 0 at second 900
    frame_lists/train.csv, val.csv                   original_video_id video_idx frame_idx path labels
    annotations/ava_train_v2.2.csv, ava_val_v2.2.csv ground truth (person id in column 8)
    annotations/person_box_67091280_iou90/ava_detection_{train,val}_boxes_and_labels*.csv
                                                     jittered boxes with scores, misses and false positives
    annotations/ava_action_list_v2.2_for_activitynet_2019.pbtxt
    annotations/ava_val_excluded_timestamps_v2.2.csv

Keyframes are at seconds 902, 903, ... (frame ``(sec - 900) * 30``), so the
real keyframe arithmetic is exercised.
"""

import logging
import os
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
from fvcore.common.config import CfgNode

from slowfast.datasets.ava_dataset import Ava
from slowfast.datasets.ava_helper import AVA_START_SEC, FPS
from slowfast.datasets.build import DATASET_REGISTRY
from slowfast.datasets.generated import LOCK_NAME, TMP_PREFIX, ensure_generated, read_marker

logger = logging.getLogger(__name__)

ACTIONS = {1: "stand", 2: "walk left", 3: "walk right", 4: "jump", 5: "carry"}
MARKER = "ava_synthetic.json"
FRAME_LIST_DIR = "frame_lists"
FRAME_DIR = "frames"
ANNOTATION_DIR = "annotations"
DETECTION_DIR = "person_box_67091280_iou90"
TRAIN_GT = "ava_train_v2.2.csv"
VAL_GT = "ava_val_v2.2.csv"
TRAIN_DETECTIONS = f"{DETECTION_DIR}/ava_detection_train_boxes_and_labels_include_negative_v2.2.csv"
VAL_DETECTIONS = f"{DETECTION_DIR}/ava_detection_val_boxes_and_labels.csv"
LABEL_MAP = "ava_action_list_v2.2_for_activitynet_2019.pbtxt"
EXCLUSIONS = "ava_val_excluded_timestamps_v2.2.csv"
FIRST_KEYFRAME_SEC = 902

_STAND, _LEFT, _RIGHT, _JUMP, _CARRY = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class AvaSyntheticSpec:
    """What to generate; the defaults train a small detector on two CPU cores in minutes."""

    num_train_videos: int = 6
    num_val_videos: int = 3
    keyframes_per_video: int = 14
    width: int = 128
    height: int = 96
    min_actors: int = 2
    max_actors: int = 3
    detection_score_thresh: float = 0.8
    seed: int = 0

    def validate(self) -> None:
        if self.num_train_videos < 1 or self.num_val_videos < 1:
            raise ValueError("need at least one train and one val video")
        if self.keyframes_per_video < 1:
            raise ValueError("keyframes_per_video must be >= 1")
        if min(self.width, self.height) < 64:
            raise ValueError(f"frames must be at least 64x64, got {self.width}x{self.height}")
        if not 1 <= self.min_actors <= self.max_actors:
            raise ValueError("need 1 <= min_actors <= max_actors")

    @property
    def num_frames(self) -> int:
        """Frames per video: from second 900 to one second past the last keyframe."""
        return (FIRST_KEYFRAME_SEC - AVA_START_SEC + self.keyframes_per_video) * FPS

    @property
    def keyframe_secs(self) -> range:
        return range(FIRST_KEYFRAME_SEC, FIRST_KEYFRAME_SEC + self.keyframes_per_video)


@dataclass
class _Actor:
    texture: np.ndarray
    head_color: Tuple[int, int, int]
    width: int
    height: int
    speed: float
    x: float
    bottom: float


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    c1, c2 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    period = rng.uniform(3, 7)
    if rng.random() < 0.5:
        pattern = (np.floor(yy / period) % 2).astype(np.float32)
    else:
        pattern = ((np.floor(xx / period) + np.floor(yy / period)) % 2).astype(np.float32)
    img = c1[None, None] * pattern[..., None] + c2[None, None] * (1 - pattern[..., None])
    return (img + rng.normal(0, 10, img.shape)).clip(0, 255).astype(np.uint8)


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    coarse = rng.integers(40, 220, (int(rng.integers(3, 6)), int(rng.integers(3, 6)), 3)).astype(np.float32)
    img = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return (img + rng.normal(0, 10, img.shape)).clip(0, 255).astype(np.uint8)


def _segment(frame: int) -> int:
    """The one-second action segment of a frame: segment k is centred on frame k * FPS."""
    return (frame + FPS // 2) // FPS


def _plan(spec: AvaSyntheticSpec, actor: _Actor, rng: np.random.Generator, num_segments: int) -> List[Tuple[int, bool]]:
    """(action, carry) of every segment, walking only where the actor stays inside the frame."""
    plan = []
    x = actor.x
    step = actor.speed * FPS
    margin = actor.width / 2 + 2
    for _ in range(num_segments):
        choices = [_STAND, _JUMP]
        if x - step > margin:
            choices.append(_LEFT)
        if x + step < spec.width - margin:
            choices.append(_RIGHT)
        action = int(rng.choice(choices))
        x += {_LEFT: -step, _RIGHT: step}.get(action, 0.0)
        plan.append((action, bool(rng.random() < 0.35)))
    return plan


def _actor_track(actor: _Actor, plan: List[Tuple[int, bool]], num_frames: int) -> np.ndarray:
    """Per-frame (x1, y1, x2, y2, carry) of an actor following ``plan``."""
    track = np.zeros((num_frames, 5), dtype=np.float64)
    x = actor.x
    for f in range(num_frames):
        seg = _segment(f)
        action, carry = plan[seg]
        if action == _LEFT:
            x -= actor.speed
        elif action == _RIGHT:
            x += actor.speed
        lift = 0.0
        if action == _JUMP:
            phase = (f - (seg * FPS - FPS // 2)) / 10.0
            lift = 0.35 * actor.height * abs(np.sin(np.pi * phase))
        bottom = actor.bottom - lift
        track[f] = (x - actor.width / 2, bottom - actor.height, x + actor.width / 2, bottom, carry)
    return track


def _draw(frame: np.ndarray, actor: _Actor, box: np.ndarray) -> None:
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in box[:4])
    head = max(3, (x2 - x1) // 2)
    body_top = y1 + head
    bx1, bx2, by1, by2 = max(x1, 0), min(x2, w), max(body_top, 0), min(y2, h)
    if bx2 > bx1 and by2 > by1:
        tex = actor.texture[by1 - body_top : by2 - body_top, bx1 - x1 : bx2 - x1]
        frame[by1:by2, bx1:bx2] = tex
    cv2.circle(frame, ((x1 + x2) // 2, y1 + head // 2), head // 2 + 1, actor.head_color, -1)
    if box[4]:
        half = max(3, (x2 - x1) // 3)
        cx, cy = (x1 + x2) // 2, (body_top + y2) // 2
        cv2.rectangle(frame, (cx - half, cy - half), (cx + half, cy + half), (255, 255, 255), -1)
        cv2.rectangle(frame, (cx - half + 2, cy - half + 2), (cx + half - 2, cy + half - 2), (0, 0, 255), -1)


def _render_video(spec: AvaSyntheticSpec, rng: np.random.Generator) -> Tuple[List[np.ndarray], List[np.ndarray], List[list]]:
    """Frames (BGR), per-actor tracks and per-actor plans of one video."""
    background = _background(rng, spec.height, spec.width)
    num_segments = _segment(spec.num_frames - 1) + 1
    actors, tracks, plans = [], [], []
    for _ in range(int(rng.integers(spec.min_actors, spec.max_actors + 1))):
        aw = int(rng.integers(18, 25))
        ah = int(rng.integers(36, 49))
        actor = _Actor(
            texture=_texture(rng, ah, aw),
            head_color=tuple(int(c) for c in rng.integers(60, 256, 3)),
            width=aw,
            height=ah,
            speed=float(rng.uniform(0.8, 1.2)),
            x=float(rng.uniform(aw, spec.width - aw)),
            bottom=float(rng.uniform(ah + 0.45 * ah + 4, spec.height - 2)),
        )
        plan = _plan(spec, actor, rng, num_segments)
        actors.append(actor)
        plans.append(plan)
        tracks.append(_actor_track(actor, plan, spec.num_frames))
    frames = []
    for f in range(spec.num_frames):
        frame = background.copy()
        for actor, track in zip(actors, tracks):
            _draw(frame, actor, track[f])
        frames.append(frame)
    return frames, tracks, plans


def _normalised(box: np.ndarray, spec: AvaSyntheticSpec) -> np.ndarray:
    out = np.asarray(box[:4], dtype=np.float64) / [spec.width, spec.height, spec.width, spec.height]
    return out.clip(0.0, 1.0)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _fmt(box: np.ndarray) -> str:
    return ",".join(f"{v:.3f}" for v in box)


def _detections(
    spec: AvaSyntheticSpec, rng: np.random.Generator, video: str, sec: int, gt: List[Tuple[np.ndarray, List[int]]],
    with_labels: bool,
) -> List[str]:
    """Detector-like rows: jittered true boxes (some missed), plus false positives."""
    rows = []
    for box, labels in gt:
        size = np.array([box[2] - box[0], box[3] - box[1]] * 2)
        det = np.clip(box + rng.normal(0, 0.06, 4) * size, 0.0, 1.0)
        if det[2] - det[0] < 0.02 or det[3] - det[1] < 0.02:
            det = box.copy()
        missed = rng.random() < 0.08
        score = rng.uniform(0.3, spec.detection_score_thresh - 0.01) if missed else rng.uniform(0.82, 0.999)
        matched = _iou(det, box) >= 0.5
        actions = [str(a) for a in labels] if with_labels and matched else [""]
        rows.extend(f"{video},{sec:04d},{_fmt(det)},{a},{score:.6f}" for a in actions)
    for _ in range(int(rng.poisson(0.4))):
        w, h = rng.uniform(0.1, 0.2), rng.uniform(0.3, 0.45)
        x1, y1 = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
        fp = np.array([x1, y1, x1 + w, y1 + h])
        if max((_iou(fp, b) for b, _ in gt), default=0.0) >= 0.3:
            continue
        rows.append(f"{video},{sec:04d},{_fmt(fp)},,{rng.uniform(0.4, 0.97):.6f}")
    return rows


def _label_map_text() -> str:
    items = []
    for action_id, name in ACTIONS.items():
        kind = "OBJECT_MANIPULATION" if action_id == _CARRY else "PERSON_MOVEMENT"
        items.append(f'label {{\n  name: "{name}"\n  label_id: {action_id}\n  label_type: {kind}\n}}\n')
    return "".join(items)


def _write_split(spec: AvaSyntheticSpec, root: str, split: str, count: int) -> Dict[str, List[str]]:
    """Frames of one split; returns the lines of its frame list, ground truth and detections."""
    out: Dict[str, List[str]] = {"frame_list": [], "gt": [], "det": []}
    split_index = 0 if split == "train" else 1
    for v in range(count):
        video = f"synth_{split}_{v:03d}"
        rng = np.random.default_rng([spec.seed, split_index, v])
        frames, tracks, plans = _render_video(spec, rng)
        video_dir = os.path.join(root, FRAME_DIR, video)
        os.makedirs(video_dir, exist_ok=True)
        for f, frame in enumerate(frames):
            rel = f"{video}/{video}_{f + 1:06d}.jpg"
            if not cv2.imwrite(os.path.join(root, FRAME_DIR, rel), frame, [cv2.IMWRITE_JPEG_QUALITY, 90]):
                raise OSError(f"could not write {rel}")
            out["frame_list"].append(f'{video} {v} {f} {rel} ""')
        det_rng = np.random.default_rng([spec.seed, split_index, v, 1])
        for sec in spec.keyframe_secs:
            frame = (sec - AVA_START_SEC) * FPS
            seg = _segment(frame)
            gt = []
            for person, (track, plan) in enumerate(zip(tracks, plans)):
                box = _normalised(track[frame], spec)
                action, carry = plan[seg]
                labels = [action] + ([_CARRY] if carry else [])
                gt.append((box, labels))
                out["gt"].extend(f"{video},{sec:04d},{_fmt(box)},{a},{person}" for a in labels)
            out["det"].extend(_detections(spec, det_rng, video, sec, gt, with_labels=split == "train"))
    return out


def _write_text(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def _generate(spec: AvaSyntheticSpec, root: str) -> None:
    train = _write_split(spec, root, "train", spec.num_train_videos)
    val = _write_split(spec, root, "val", spec.num_val_videos)
    header = "original_vido_id video_id frame_id path labels\n"
    lists = os.path.join(root, FRAME_LIST_DIR)
    ann = os.path.join(root, ANNOTATION_DIR)
    _write_text(os.path.join(lists, "train.csv"), header + "\n".join(train["frame_list"]) + "\n")
    _write_text(os.path.join(lists, "val.csv"), header + "\n".join(val["frame_list"]) + "\n")
    _write_text(os.path.join(ann, TRAIN_GT), "\n".join(train["gt"]) + "\n")
    _write_text(os.path.join(ann, VAL_GT), "\n".join(val["gt"]) + "\n")
    _write_text(os.path.join(ann, TRAIN_DETECTIONS), "\n".join(train["det"]) + "\n")
    _write_text(os.path.join(ann, VAL_DETECTIONS), "\n".join(val["det"]) + "\n")
    _write_text(os.path.join(ann, LABEL_MAP), _label_map_text())
    excluded = f"synth_val_000,{spec.keyframe_secs[len(spec.keyframe_secs) // 2]:04d}\n"
    _write_text(os.path.join(ann, EXCLUSIONS), excluded)


def ensure_synthetic_ava(out_dir: str, spec: Optional[AvaSyntheticSpec] = None, force: bool = False) -> str:
    """Generate the synthetic AVA set in ``out_dir`` unless it is already there; returns the absolute folder.

    Follows ``generated.ensure_generated``: generation in a temporary folder
    moved into place under a file lock, the marker recording ``spec`` written
    last, so a crashed or concurrent run never leaves a half-written dataset
    that looks complete. A non-empty folder without the marker is refused.
    """
    spec = spec or AvaSyntheticSpec()
    spec.validate()
    root = os.path.abspath(os.path.expanduser(out_dir))
    entries = (FRAME_DIR, FRAME_LIST_DIR, ANNOTATION_DIR)

    def holds_data(folder: str) -> bool:
        ours = {*entries, MARKER, LOCK_NAME}
        foreign = [n for n in os.listdir(folder) if n not in ours and not n.startswith(TMP_PREFIX)]
        return bool(foreign) or any(os.path.exists(os.path.join(folder, n)) for n in entries)

    wrote = ensure_generated(
        root,
        marker=MARKER,
        spec=asdict(spec),
        entries=entries,
        generate=lambda work, _final: _generate(spec, work),
        holds_data=holds_data,
        refusal=f"is not empty and holds no {MARKER}: refusing to overwrite it",
        force=force,
    )
    if wrote:
        logger.info("Wrote the synthetic AVA dataset (%s) to %s", spec, root)
    return root


def config_overrides(root: str) -> List[str]:
    """``KEY VALUE`` command-line overrides that point the ``AVA.*`` folders at ``root``."""
    return [
        "AVA.FRAME_DIR", os.path.join(root, FRAME_DIR),
        "AVA.FRAME_LIST_DIR", os.path.join(root, FRAME_LIST_DIR),
        "AVA.ANNOTATION_DIR", os.path.join(root, ANNOTATION_DIR),
    ]


#: What the ``AvaSynthetic`` dataset writes when its folder is empty (its threshold matches the CPU config's).
FIRST_USE_SPEC = AvaSyntheticSpec()
_AVA_DIR_KEYS = ("AVA.FRAME_DIR", "AVA.FRAME_LIST_DIR", "AVA.ANNOTATION_DIR")


def synthetic_root(cfg: CfgNode) -> str:
    """The folder holding ``frames/``, ``frame_lists/`` and ``annotations/`` that the ``AVA.*`` dirs name.

    Raises:
        ValueError: naming the keys, when the three folders are not siblings in that layout.
    """
    given = [cfg.AVA.FRAME_DIR, cfg.AVA.FRAME_LIST_DIR, cfg.AVA.ANNOTATION_DIR]
    root = os.path.dirname(os.path.normpath(given[0]))
    expected = config_overrides(root)[1::2]
    wrong = [f"{k}={g!r} (expected {e!r})" for k, g, e in zip(_AVA_DIR_KEYS, given, expected)
             if os.path.normpath(g) != os.path.normpath(e)]
    if wrong:
        raise ValueError(
            "the AvaSynthetic dataset writes <root>/frames, <root>/frame_lists and <root>/annotations; "
            f"set {', '.join(_AVA_DIR_KEYS)} accordingly: " + "; ".join(wrong)
        )
    return root


@DATASET_REGISTRY.register()
class AvaSynthetic(Ava):
    """The synthetic mini-AVA, written on first use (``FIRST_USE_SPEC``) into the folders ``AVA.*`` name.

    A folder that already holds a synthetic set (any spec, e.g. one written by
    ``tools/make_synthetic_ava.py`` with other options) is used as it is; the
    dataset then reads it exactly as the ``Ava`` dataset does.
    """

    def __init__(self, cfg: CfgNode, split: str) -> None:
        root = synthetic_root(cfg)
        if read_marker(root, MARKER) is None:
            ensure_synthetic_ava(root, FIRST_USE_SPEC)
        super().__init__(cfg, split)
