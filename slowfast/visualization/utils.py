"""Helpers of the demo and the TensorBoard visualisations: class names, colour maps, drawing, clip inputs.

Drawing uses OpenCV only (matplotlib is optional): labels are ``cv2.putText`` on filled
rectangles, colour maps come from matplotlib when it imports, else from OpenCV's built-in maps
or the small qualitative tables below.
"""

import json
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

from slowfast.datasets.transform import short_side_scale
from slowfast.datasets.utils import normalize_to_cthw, pack_pathway_output

# ColorBrewer qualitative palettes (RGB), used when matplotlib is not installed.
_QUALITATIVE = {
    "pastel2": ["#b3e2cd", "#fdcdac", "#cbd5e8", "#f4cae4", "#e6f5c9", "#fff2ae", "#f1e2cc", "#cccccc"],
    "pastel1": ["#fbb4ae", "#b3cde3", "#ccebc5", "#decbe4", "#fed9a6", "#ffffcc", "#e5d8bd", "#fddaec", "#f2f2f2"],
    "set1": ["#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#ffff33", "#a65628", "#f781bf", "#999999"],
    "set2": ["#66c2a5", "#fc8d62", "#8da0cb", "#e78ac3", "#a6d854", "#ffd92f", "#e5c494", "#b3b3b3"],
}
# OpenCV's continuous colour maps, by their matplotlib-style names.
_CV2_MAPS = {
    "viridis": "COLORMAP_VIRIDIS", "jet": "COLORMAP_JET", "hot": "COLORMAP_HOT", "rainbow": "COLORMAP_RAINBOW",
    "plasma": "COLORMAP_PLASMA", "inferno": "COLORMAP_INFERNO", "magma": "COLORMAP_MAGMA",
    "cividis": "COLORMAP_CIVIDIS", "bone": "COLORMAP_BONE", "cool": "COLORMAP_COOL", "hsv": "COLORMAP_HSV",
    "turbo": "COLORMAP_TURBO", "spring": "COLORMAP_SPRING", "summer": "COLORMAP_SUMMER",
    "autumn": "COLORMAP_AUTUMN", "winter": "COLORMAP_WINTER", "pink": "COLORMAP_PINK",
}


class Colormap:
    """``cmap(values)``: values in [0, 1] (any shape) -> RGB floats in [0, 1], shape ``values.shape + (3,)``."""

    def __init__(self, name: str, key: str = "colormap") -> None:
        self.name = name
        self._mpl = None
        self._table: Optional[np.ndarray] = None
        try:
            import matplotlib

            self._mpl = matplotlib.colormaps[name]
            return
        except ImportError:
            pass
        except KeyError:
            raise ValueError(f"{key}: unknown matplotlib colour map '{name}'") from None
        lowered = name.lower()
        if lowered in _QUALITATIVE:
            self._table = np.array([[int(h[i : i + 2], 16) / 255.0 for i in (1, 3, 5)] for h in _QUALITATIVE[lowered]])
            self._qualitative = True
        elif lowered in _CV2_MAPS:
            ramp = np.arange(256, dtype=np.uint8).reshape(256, 1)
            bgr = cv2.applyColorMap(ramp, getattr(cv2, _CV2_MAPS[lowered])).reshape(256, 3)
            self._table = bgr[:, ::-1].astype(np.float64) / 255.0
            self._qualitative = False
        else:
            known = sorted(set(_QUALITATIVE) | set(_CV2_MAPS))
            raise ValueError(
                f"{key}: colour map '{name}' needs matplotlib (not installed); without it choose one of {known}"
            )

    def __call__(self, values) -> np.ndarray:
        values = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
        if self._mpl is not None:
            return np.asarray(self._mpl(values))[..., :3]
        n = len(self._table)
        if self._qualitative:
            index = np.minimum((values * n).astype(np.int64), n - 1)
        else:
            index = np.round(values * (n - 1)).astype(np.int64)
        return self._table[index]


def read_class_names(
    path: str, parent_path: str = "", subset_path: str = ""
) -> Tuple[List[str], Optional[Dict[str, List[int]]], Optional[List[int]]]:
    """Class names from a ``{name: id}`` JSON file, plus optional category groups and a subset.

    ``parent_path``: JSON ``{category: [class names]}`` -> ``{category: [ids]}``.
    ``subset_path``: text file, one class name a line -> ids. Unknown names are errors naming the file.
    """
    try:
        with open(path) as f:
            name_to_id = json.load(f)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the class names file {path} (JSON {{name: id}}): {exc}") from exc
    if not isinstance(name_to_id, dict) or not all(isinstance(v, int) for v in name_to_id.values()):
        raise ValueError(f"{path}: class names must be a JSON object {{name: integer id}}")
    names = [""] * (max(name_to_id.values()) + 1 if name_to_id else 0)
    for name, idx in name_to_id.items():
        names[idx] = name

    def ids_of(items: Sequence[str], where: str) -> List[int]:
        unknown = [n for n in items if n not in name_to_id]
        if unknown:
            raise ValueError(f"{where}: class names not in {path}: {unknown[:5]}")
        return [name_to_id[n] for n in items]

    parents = None
    if parent_path:
        with open(parent_path) as f:
            groups = json.load(f)
        parents = {parent: ids_of(children, parent_path) for parent, children in groups.items()}
    subset = None
    if subset_path:
        with open(subset_path) as f:
            subset = ids_of([line.strip() for line in f if line.strip()], subset_path)
    return names, parents, subset


def class_names_or_ids(path: str, num_classes: int) -> List[str]:
    """Names from a ``{name: id}`` file, or the ids as text when ``path`` is empty."""
    if not path:
        return [str(i) for i in range(num_classes)]
    names = read_class_names(path)[0]
    if len(names) < num_classes:
        names += [str(i) for i in range(len(names), num_classes)]
    return names


def get_layer(model: nn.Module, layer_name: str) -> nn.Module:
    """The sub-module named ``layer_name``: PySlowFast's ``s5/pathway0_res2`` or ``s5.pathway0_res2``."""
    module = model
    for part in layer_name.replace(".", "/").split("/"):
        children = dict(module.named_children())
        if part not in children:
            raise ValueError(
                f"layer '{layer_name}': '{part}' is not a child of {type(module).__name__} "
                f"(children: {sorted(children)})"
            )
        module = children[part]
    return module


def clip_to_inputs(
    cfg: CfgNode, frames: np.ndarray, boxes: Optional[np.ndarray] = None
) -> Tuple[List[torch.Tensor], Optional[np.ndarray]]:
    """Model inputs (a batch of one) from ``T x H x W x 3`` uint8 RGB frames of one sliding window.

    ``DATA.NUM_FRAMES`` frames spread evenly over the window, normalised with DATA.MEAN/STD,
    short side scaled to DATA.TEST_CROP_SIZE (no crop: the whole frame is seen), packed into
    pathways. Pixel ``boxes`` (``N x 4``) are scaled with the frames and returned.
    """
    frames = torch.from_numpy(np.ascontiguousarray(frames))
    index = torch.linspace(0, frames.shape[0] - 1, cfg.DATA.NUM_FRAMES).long()
    clip = normalize_to_cthw(frames[index], cfg.DATA.MEAN, cfg.DATA.STD)
    if boxes is not None:
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    clip, boxes = short_side_scale(clip, cfg.DATA.TEST_CROP_SIZE, boxes)
    return [x.unsqueeze(0) for x in pack_pathway_output(cfg, clip)], boxes


def revert_normalize(clip: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Inverse of the data normalisation on channel-last float frames: values back in [0, 1]."""
    return (clip * torch.as_tensor(std, dtype=clip.dtype) + torch.as_tensor(mean, dtype=clip.dtype)).clamp(0, 1)


def _rgb255(color: Sequence[float]) -> Tuple[int, int, int]:
    return tuple(int(round(255 * c)) for c in color[:3])


def draw_text_lines(
    frame: np.ndarray,
    lines: Sequence[str],
    colors: Sequence[Sequence[float]],
    x: int,
    y: int,
    *,
    upward: bool = False,
    alpha: float = 0.7,
) -> np.ndarray:
    """Draw text labels on filled boxes (one a line) from ``(x, y)`` down (or up), in place; returns ``frame``.

    ``colors`` are RGB floats in [0, 1] for each line's box; the text is black or white, whichever
    reads better on it.
    """
    height, width = frame.shape[:2]
    scale = max(0.35, min(width, height) / 600.0)
    thickness = 1
    for i, (text, color) in enumerate(zip(lines, colors)):
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        line_h = th + base + 4
        top = y - (i + 1) * line_h if upward else y + i * line_h
        top = int(min(max(top, 0), max(height - line_h, 0)))
        left = int(min(max(x, 0), max(width - tw - 4, 0)))
        box = frame[top : top + line_h, left : left + tw + 4]
        fill = np.array(_rgb255(color), dtype=np.float32)
        box[:] = (alpha * fill + (1 - alpha) * box.astype(np.float32)).astype(np.uint8)
        ink = (0, 0, 0) if sum(color[:3]) > 1.5 else (255, 255, 255)
        cv2.putText(frame, text, (left + 2, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, ink, thickness,
                    cv2.LINE_AA)
    return frame


def draw_box(frame: np.ndarray, box: Sequence[float], color: Tuple[int, int, int], dashed: bool = False) -> None:
    """Draw a rectangle ``(x1, y1, x2, y2)`` in pixels, in place (dashed for ground truth)."""
    x1, y1, x2, y2 = (int(round(float(v))) for v in box[:4])
    thickness = max(1, min(frame.shape[:2]) // 200)
    if not dashed:
        cv2.rectangle(frame, (x1, y1), (x2, y2), color, thickness)
        return
    step = 8
    for a, b in (((x1, y1), (x2, y1)), ((x1, y2), (x2, y2)), ((x1, y1), (x1, y2)), ((x2, y1), (x2, y2))):
        length = max(abs(b[0] - a[0]), abs(b[1] - a[1]))
        for s in range(0, length, 2 * step):
            e = min(s + step, length)
            p = (a[0] + (b[0] - a[0]) * s // max(length, 1), a[1] + (b[1] - a[1]) * s // max(length, 1))
            q = (a[0] + (b[0] - a[0]) * e // max(length, 1), a[1] + (b[1] - a[1]) * e // max(length, 1))
            cv2.line(frame, p, q, color, thickness)


class LabelPicker:
    """Which classes to show for a score vector: the top-k, or those above their threshold.

    In ``thres`` mode classes named in ``common_class_names`` need ``thres``, the others
    ``lower_thres`` (as PySlowFast's demo, for the long tail of AVA); without names every
    class needs ``thres``.
    """

    def __init__(self, class_names: List[str], *, mode: str, top_k: int, thres: float, lower_thres: float,
                 common_class_names: Optional[Sequence[str]] = None) -> None:
        if mode not in ("top-k", "thres"):
            raise ValueError(f"DEMO.VIS_MODE must be 'top-k' or 'thres', got '{mode}'")
        self.class_names = class_names
        self.mode = mode
        self.top_k = top_k
        thresholds = np.full(len(class_names), float(thres))
        if common_class_names is not None:
            common = set(common_class_names)
            thresholds[:] = lower_thres
            thresholds[[i for i, n in enumerate(class_names) if n in common]] = thres
        self.thresholds = torch.from_numpy(thresholds).float()

    def pick(self, scores: torch.Tensor) -> List[Tuple[int, float]]:
        """``(class id, score)`` pairs to draw, highest score first."""
        scores = scores.detach().float().flatten().cpu()
        if self.mode == "top-k":
            values, ids = torch.topk(scores, min(self.top_k, scores.numel()))
        else:
            keep = torch.nonzero(scores >= self.thresholds[: scores.numel()]).flatten()
            values, order = torch.sort(scores[keep], descending=True)
            ids = keep[order]
        return list(zip(ids.tolist(), values.tolist()))

    def text(self, class_id: int, score: Optional[float]) -> str:
        name = self.class_names[class_id] if class_id < len(self.class_names) else str(class_id)
        return name if score is None else f"{name} {score:.2f}"
