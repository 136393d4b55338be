"""Write tiny Charades- and SSv2-format frame trees and ImageNet class folders (JPEGs via OpenCV) for tests
and smoke runs.

Each video is a coloured square moving across a noisy background (an ImageNet
image: one such frame, the square at a random place); its class decides the
colour, so a tiny model can learn something in a few iterations.
"""

import json
import os
from typing import Dict, List, Sequence

import cv2
import numpy as np

from slowfast.datasets.frame_list import FRAME_LIST_HEADER
from slowfast.datasets.ssv2 import LABELS_JSON, SPLIT_JSON

_COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255)]


def _write_frames(folder: str, name: str, num_frames: int, height: int, width: int, cls: int,
                  rng: np.random.Generator, sep: str) -> List[str]:
    os.makedirs(os.path.join(folder, name), exist_ok=True)
    rel_paths = []
    size = max(4, min(height, width) // 3)
    for t in range(num_frames):
        image = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
        x = int((width - size) * t / max(num_frames - 1, 1))
        image[height // 3: height // 3 + size, x: x + size] = _COLOURS[cls % len(_COLOURS)]
        rel = f"{name}/{name}{sep}{t + 1:06d}.jpg"
        if not cv2.imwrite(os.path.join(folder, rel), image):
            raise OSError(f"cv2.imwrite failed for {os.path.join(folder, rel)}")
        rel_paths.append(rel)
    return rel_paths


def _write_list(path: str, rows: Sequence[str]) -> None:
    with open(path, "w") as f:
        f.write(f"{FRAME_LIST_HEADER} video_id frame_id path labels\n")
        f.writelines(row + "\n" for row in rows)


def write_charades_tree(root: str, *, num_classes: int = 3, videos_per_split: Dict[str, int] = None,
                        num_frames: Sequence[int] = (20, 33), height: int = 36, width: int = 48,
                        seed: int = 0) -> str:
    """``root/frames/<id>/<id>-NNNNNN.jpg`` plus ``root/train.csv`` and ``root/val.csv``; returns ``root``.

    A video of class c carries label c on every frame, and label (c + 1) on its second half.
    """
    rng = np.random.default_rng(seed)
    videos_per_split = videos_per_split or {"train": 6, "val": 3}
    os.makedirs(root, exist_ok=True)
    frames_dir = os.path.join(root, "frames")
    for split, count in videos_per_split.items():
        rows = []
        for v in range(count):
            name, cls = f"{split}{v:03d}", v % num_classes
            n = int(num_frames[v % len(num_frames)])
            for t, rel in enumerate(_write_frames(frames_dir, name, n, height, width, cls, rng, "-")):
                labels = [cls] + ([(cls + 1) % num_classes] if t >= n // 2 else [])
                rows.append(f'{name} {v} {t} {rel} "{",".join(map(str, labels))}"')
        _write_list(os.path.join(root, f"{split}.csv"), rows)
    return root


def write_ssv2_tree(root: str, *, num_classes: int = 3, videos_per_split: Dict[str, int] = None,
                    num_frames: Sequence[int] = (12, 20), height: int = 36, width: int = 48, seed: int = 0) -> str:
    """SSv2 layout in ``root`` (JSONs and frame lists) with frames under ``root/frames``; returns ``root``."""
    rng = np.random.default_rng(seed)
    videos_per_split = videos_per_split or {"train": 6, "val": 3}
    os.makedirs(root, exist_ok=True)
    templates = [f"Moving [something] number {c}" for c in range(num_classes)]
    with open(os.path.join(root, LABELS_JSON), "w") as f:
        json.dump({t.replace("[", "").replace("]", ""): str(c) for c, t in enumerate(templates)}, f)
    frames_dir = os.path.join(root, "frames")
    for split, count in videos_per_split.items():
        entries, rows = [], []
        for v in range(count):
            vid, cls = str(1000 * (split == "val") + v + 1), v % num_classes
            entries.append({"id": vid, "label": templates[cls].lower(), "template": templates[cls],
                            "placeholders": ["something"]})
            n = int(num_frames[v % len(num_frames)])
            for t, rel in enumerate(_write_frames(frames_dir, vid, n, height, width, cls, rng, "_")):
                rows.append(f'{vid} {v} {t} {rel} ""')
        with open(os.path.join(root, SPLIT_JSON[split]), "w") as f:
            json.dump(entries, f)
        _write_list(os.path.join(root, "train.csv" if split == "train" else "val.csv"), rows)
    return root


def write_imagenet_tree(root: str, *, num_classes: int = 3, images_per_class: Dict[str, int] = None,
                        height: int = 36, width: int = 48, seed: int = 0) -> str:
    """``root/{train,val}/n<8 digits>/<class>_<k>.JPEG`` (the ImageNet layout); returns ``root``."""
    rng = np.random.default_rng(seed)
    images_per_class = images_per_class or {"train": 4, "val": 2}
    size = max(4, min(height, width) // 3)
    for split, count in images_per_class.items():
        for cls in range(num_classes):
            folder = os.path.join(root, split, f"n{cls:08d}")
            os.makedirs(folder, exist_ok=True)
            for k in range(count):
                image = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
                y, x = int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))
                image[y: y + size, x: x + size] = _COLOURS[cls % len(_COLOURS)]
                path = os.path.join(folder, f"n{cls:08d}_{k}.JPEG")
                if not cv2.imwrite(path, image, [cv2.IMWRITE_JPEG_QUALITY, 95]):
                    raise OSError(f"cv2.imwrite failed for {path}")
    return root
