"""TensorBoard visualisations beyond scalars (TENSORBOARD.*), rendered as images with numpy/OpenCV.

* ``plot_eval``: the row-normalised confusion matrix (CONFUSION_MATRIX: all classes, a subset,
  one per category of CATEGORIES_PATH) and, per true class, a bar chart of its HISTOGRAM.TOPK
  most frequent predictions; called by the validation and test loops.
* ``visualize`` (a job of run_net, after train/test, as PySlowFast's): on the test split, the
  weights and activations of MODEL_VIS.LAYER_LIST, the input clips with their predictions
  (MODEL_VIS.INPUT_VIDEO), Grad-CAM heat maps (MODEL_VIS.GRAD_CAM) and the wrongly predicted
  clips (WRONG_PRED_VIS), worst first (lowest score of the true class).

Clips are logged as images: their frames side by side (``add_video`` would need moviepy).
"""

import math
import os
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

from slowfast.utils import distributed as du
from slowfast.utils.logging import get_logger
from slowfast.visualization.utils import (
    Colormap,
    LabelPicker,
    class_names_or_ids,
    draw_text_lines,
    get_layer,
    read_class_names,
    revert_normalize,
)

logger = get_logger(__name__)

Tensors = Union[torch.Tensor, Sequence[torch.Tensor]]


def build_tensorboard_writer(cfg: CfgNode, job: str):
    """A SummaryWriter under TENSORBOARD.LOG_DIR or OUTPUT_DIR/runs-<dataset> on the main rank, else None."""
    if not (cfg.TENSORBOARD.ENABLE and du.is_master_proc()):
        return None
    from torch.utils.tensorboard import SummaryWriter

    log_dir = cfg.TENSORBOARD.LOG_DIR or f"runs-{cfg.TRAIN.DATASET if job == 'train' else cfg.TEST.DATASET}"
    log_dir = os.path.join(cfg.OUTPUT_DIR, log_dir)
    logger.info("Tensorboard logs in %s", log_dir)
    return SummaryWriter(log_dir=log_dir)


def confusion_matrix(preds: Tensors, labels: Tensors, num_classes: int) -> np.ndarray:
    """``num_classes x num_classes`` matrix of (true, predicted) top-1 counts, each row divided by its total."""
    preds = torch.cat(list(preds)) if isinstance(preds, (list, tuple)) else preds
    labels = torch.cat(list(labels)) if isinstance(labels, (list, tuple)) else labels
    if labels.dim() == preds.dim():
        labels = labels.argmax(dim=-1)
    pred_ids = preds.argmax(dim=-1).flatten().cpu().long()
    true_ids = labels.flatten().cpu().long()
    counts = torch.bincount(true_ids * num_classes + pred_ids, minlength=num_classes * num_classes)
    cmtx = counts.view(num_classes, num_classes).double().numpy()
    totals = cmtx.sum(axis=1, keepdims=True)
    return np.divide(cmtx, totals, out=np.zeros_like(cmtx), where=totals > 0)


def _canvas(figsize: Sequence[float], dpi: int = 64) -> np.ndarray:
    width, height = (max(160, int(v * dpi)) for v in figsize)
    return np.full((height, width, 3), 255, np.uint8)


def render_confusion_matrix(cmtx: np.ndarray, class_names: Sequence[str], figsize: Sequence[float] = (8, 8),
                            title: str = "Confusion matrix") -> np.ndarray:
    """An RGB image of the matrix: rows true, columns predicted, darker blue = larger, values written."""
    img = _canvas(figsize)
    n = len(class_names)
    height, width = img.shape[:2]
    margin = int(min(width, height) * 0.22)
    cell = max(1, min((width - margin - 8) // max(n, 1), (height - margin - 8) // max(n, 1)))
    font = max(0.25, min(0.5, cell / 60))
    cv2.putText(img, title, (8, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "true \\ predicted", (8, margin - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    for i in range(n):
        y = margin + i * cell
        cv2.putText(img, str(class_names[i])[:12], (2, y + cell // 2 + 4), cv2.FONT_HERSHEY_SIMPLEX, font * 0.8,
                    (0, 0, 0), 1, cv2.LINE_AA)
        x_label = margin + i * cell + 2
        cv2.putText(img, str(class_names[i])[:6], (x_label, margin - 20), cv2.FONT_HERSHEY_SIMPLEX, font * 0.8,
                    (0, 0, 0), 1, cv2.LINE_AA)
        for j in range(n):
            v = float(cmtx[i, j])
            x = margin + j * cell
            color = (int(247 - 239 * v), int(251 - 203 * v), int(255 - 148 * v))  # white -> dark blue
            cv2.rectangle(img, (x, y), (x + cell - 1, y + cell - 1), color, -1)
            if cell >= 18:
                ink = (255, 255, 255) if v > 0.5 else (0, 0, 0)
                cv2.putText(img, f"{v:.2f}" if v else ".", (x + 2, y + cell // 2 + 4), cv2.FONT_HERSHEY_SIMPLEX,
                            font, ink, 1, cv2.LINE_AA)
    return img


def render_topk_histogram(title: str, row: np.ndarray, k: int, class_names: Sequence[str],
                          figsize: Sequence[float] = (8, 8)) -> np.ndarray:
    """An RGB bar chart of the ``k`` largest values of ``row`` (frequencies in [0, 1]) with their class names."""
    img = _canvas(figsize)
    height, width = img.shape[:2]
    k = min(k, len(row))
    order = np.argsort(-row, kind="stable")[:k]
    top, bottom, left = 28, height - 40, 36
    cv2.putText(img, str(title)[:40], (8, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.line(img, (left, bottom), (width - 8, bottom), (0, 0, 0), 1)
    bar = max(2, (width - left - 16) // max(k, 1))
    for rank, cls in enumerate(order):
        value = float(row[cls])
        x = left + rank * bar + 2
        y = int(bottom - value * (bottom - top))
        cv2.rectangle(img, (x, y), (x + bar - 4, bottom), (255, 165, 0), -1)
        cv2.putText(img, f"{value:.2f}", (x, max(y - 3, top)), cv2.FONT_HERSHEY_SIMPLEX, 0.3, (200, 100, 0), 1,
                    cv2.LINE_AA)
        cv2.putText(img, str(class_names[cls])[:8], (x, bottom + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.3, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return img


class EvalPlots:
    """Class names and subsets of TENSORBOARD.* for the confusion matrices and histograms."""

    def __init__(self, cfg: CfgNode) -> None:
        tb = cfg.TENSORBOARD
        self.cfg = cfg
        self.class_names = class_names_or_ids(tb.CLASS_NAMES_PATH, cfg.MODEL.NUM_CLASSES)
        self.parents: Optional[Dict[str, List[int]]] = None
        self.cm_subset = self.hist_subset = None
        if tb.CLASS_NAMES_PATH:
            _, self.parents, self.cm_subset = read_class_names(
                tb.CLASS_NAMES_PATH, tb.CATEGORIES_PATH, tb.CONFUSION_MATRIX.SUBSET_PATH
            )
            self.hist_subset = read_class_names(tb.CLASS_NAMES_PATH, "", tb.HISTOGRAM.SUBSET_PATH)[2]
        else:
            for key in ("CATEGORIES_PATH", "CONFUSION_MATRIX.SUBSET_PATH", "HISTOGRAM.SUBSET_PATH",
                        "WRONG_PRED_VIS.SUBSET_PATH"):
                node, leaf = (tb, key) if "." not in key else (tb[key.split(".")[0]], key.split(".")[1])
                if node[leaf]:
                    raise ValueError(f"TENSORBOARD.{key} names classes: it needs TENSORBOARD.CLASS_NAMES_PATH")

    def enabled(self) -> bool:
        return self.cfg.TENSORBOARD.CONFUSION_MATRIX.ENABLE or self.cfg.TENSORBOARD.HISTOGRAM.ENABLE

    def _add_cm(self, writer, cmtx: np.ndarray, ids: Sequence[int], tag: str, step: Optional[int]) -> None:
        if not len(ids):
            return
        ids = list(ids)
        img = render_confusion_matrix(cmtx[np.ix_(ids, ids)], [self.class_names[i] for i in ids],
                                      self.cfg.TENSORBOARD.CONFUSION_MATRIX.FIGSIZE)
        writer.add_image(tag, img, global_step=step, dataformats="HWC")

    def plot(self, writer, preds: Tensors, labels: Tensors, global_step: Optional[int] = None) -> None:
        """Log the enabled confusion matrices and histograms of ``preds`` against ``labels``."""
        if writer is None or not self.enabled() or self.cfg.DETECTION.ENABLE:
            return
        num_classes = self.cfg.MODEL.NUM_CLASSES
        cmtx = confusion_matrix(preds, labels, num_classes)
        if self.cfg.TENSORBOARD.CONFUSION_MATRIX.ENABLE:
            self._add_cm(writer, cmtx, range(num_classes), "Confusion Matrix", global_step)
            if self.cm_subset is not None:
                self._add_cm(writer, cmtx, self.cm_subset, "Confusion Matrix Subset", global_step)
            for parent, children in (self.parents or {}).items():
                self._add_cm(writer, cmtx, children, f"Confusion Matrices Grouped by Parent Classes/{parent}",
                             global_step)
        if self.cfg.TENSORBOARD.HISTOGRAM.ENABLE:
            k = self.cfg.TENSORBOARD.HISTOGRAM.TOPK
            for cls in self.hist_subset if self.hist_subset is not None else range(num_classes):
                img = render_topk_histogram(self.class_names[cls], cmtx[cls], k, self.class_names,
                                            self.cfg.TENSORBOARD.HISTOGRAM.FIGSIZE)
                writer.add_image(f"Top {k} predictions by classes/{self.class_names[cls]}", img,
                                 global_step=global_step, dataformats="HWC")


def plot_eval(cfg: CfgNode, writer, preds: Tensors, labels: Tensors, global_step: Optional[int] = None) -> None:
    """The train/test loops' entry point: confusion matrices and histograms when enabled."""
    if writer is not None:
        EvalPlots(cfg).plot(writer, preds, labels, global_step)


def wants_eval_plots(cfg: CfgNode) -> bool:
    return cfg.TENSORBOARD.ENABLE and (cfg.TENSORBOARD.CONFUSION_MATRIX.ENABLE or cfg.TENSORBOARD.HISTOGRAM.ENABLE)


def heatmap_grid(array: torch.Tensor, colormap: Colormap) -> np.ndarray:
    """A ``... x H x W`` tensor as one RGB grid image of its 2-D slices, each min-max scaled and coloured."""
    array = array.detach().float().cpu()
    if array.dim() == 0:
        array = array.view(1, 1)
    if array.dim() == 1:
        side = int(math.ceil(math.sqrt(array.numel())))
        array = torch.cat([array, array.new_zeros(side * side - array.numel())]).view(side, side)
    planes = array.reshape(-1, *array.shape[-2:])
    n = planes.shape[0]
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    h, w = planes.shape[-2:]
    grid = np.ones((rows * (h + 1) + 1, cols * (w + 1) + 1, 3), np.float64)
    for i, plane in enumerate(planes):
        lo, hi = plane.min(), plane.max()
        scaled = ((plane - lo) / (hi - lo + 1e-12)).numpy()
        r, c = divmod(i, cols)
        grid[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + c * (w + 1) : 1 + c * (w + 1) + w] = colormap(scaled)
    return (grid * 255).round().astype(np.uint8)


def parse_layer_list(entries: Sequence[str]) -> List[Tuple[str, tuple]]:
    """MODEL_VIS.LAYER_LIST entries ``"name [i,j;k]"``: a layer and a numpy-style index of its tensor's dims."""
    out = []
    for entry in entries:
        parts = entry.split()
        if not parts or len(parts) > 2:
            raise ValueError(f"TENSORBOARD.MODEL_VIS.LAYER_LIST entry '{entry}' must be 'layer/name [i,j;k]'")
        index = ()
        if len(parts) == 2:
            try:
                index = tuple([int(v) for v in dim.split(",")] for dim in parts[1].split(";"))
            except ValueError:
                raise ValueError(f"TENSORBOARD.MODEL_VIS.LAYER_LIST entry '{entry}': indices must be integers") from None
        out.append((parts[0], index))
    return out


def default_grad_cam_layers(model: nn.Module, num_pathways: int) -> List[str]:
    """The last block of each pathway in the last stage (``s5/pathway{p}_res{n}``), when LAYER_LIST is empty."""
    last_stage = getattr(model, "s5", None)
    names = []
    for p in range(num_pathways):
        blocks = [n for n, _ in last_stage.named_children() if n.startswith(f"pathway{p}_")] if last_stage else []
        if not blocks:
            raise ValueError(
                "TENSORBOARD.MODEL_VIS.GRAD_CAM.LAYER_LIST is empty and the model has no s5/pathway{p}_* blocks: "
                "name one layer per pathway, e.g. ['s5/pathway0_res2']"
            )
        names.append(f"s5/{blocks[-1]}")
    return names


def _clip_strip(frames: torch.Tensor, max_frames: int = 8) -> np.ndarray:
    """``T x H x W x 3`` floats in [0, 1] -> uint8 image of up to ``max_frames`` frames side by side."""
    idx = torch.linspace(0, frames.shape[0] - 1, min(max_frames, frames.shape[0])).long()
    return (frames[idx].clamp(0, 1).numpy() * 255).round().astype(np.uint8).transpose(1, 0, 2, 3).reshape(
        frames.shape[1], -1, 3
    )


def _labelled(strip: np.ndarray, picker: LabelPicker, colormap: Colormap, scores: torch.Tensor,
              true_name: Optional[str] = None) -> np.ndarray:
    strip = np.ascontiguousarray(strip)
    picked = picker.pick(scores)
    lines = [picker.text(c, s) for c, s in picked]
    colors = [colormap(c / max(len(picker.class_names), 1)) for c, _ in picked]
    if true_name is not None:
        lines.insert(0, f"true: {true_name}")
        colors.insert(0, (1.0, 1.0, 1.0))
    return draw_text_lines(strip, lines, colors, 0, 0)


def _flatten_views(inputs: List[torch.Tensor], labels: torch.Tensor) -> Tuple[List[torch.Tensor], torch.Tensor]:
    """Test-mode batches stack the views of a video (``B x V x C x T x H x W``): one clip per view."""
    if inputs[0].dim() == 6:
        views = inputs[0].shape[1]
        inputs = [x.reshape(-1, *x.shape[2:]) for x in inputs]
        labels = labels.repeat_interleave(views, dim=0)
    return inputs, labels


@torch.no_grad()
def _forward(cfg: CfgNode, model: nn.Module, inputs, meta) -> torch.Tensor:
    from slowfast.engine.step import forward

    return forward(cfg, model, [x.clone() for x in inputs], meta)


def visualize(cfg: CfgNode) -> None:
    """Model, Grad-CAM and wrong-prediction visualisations on the test split (TENSORBOARD.MODEL_VIS / WRONG_PRED_VIS)."""
    import slowfast.checkpoint as cu
    from slowfast.datasets.loader import construct_loader
    from slowfast.engine.setup import setup_job
    from slowfast.engine.placement import batch_to_device, prepare_model
    from slowfast.models import build_model
    from slowfast.utils.modules import unwrap_model
    from slowfast.visualization.gradcam import GradCAM

    tb = cfg.TENSORBOARD
    if cfg.DETECTION.ENABLE and (tb.MODEL_VIS.GRAD_CAM.ENABLE and tb.MODEL_VIS.ENABLE or tb.WRONG_PRED_VIS.ENABLE):
        raise ValueError(
            "TENSORBOARD.MODEL_VIS.GRAD_CAM and TENSORBOARD.WRONG_PRED_VIS are for classification models; "
            "turn them off with DETECTION.ENABLE"
        )
    setup_job(cfg, "visualize")
    model = prepare_model(cfg, build_model(cfg))
    cu.load_test_checkpoint(cfg, model)
    net = unwrap_model(model)
    net.eval()
    writer = build_tensorboard_writer(cfg, "test")
    if du.get_world_size() > 1:
        logger.warning("Visualisation runs on each process's share of the test split; only the main process logs.")
    loader = construct_loader(cfg, "test")
    names = class_names_or_ids(tb.CLASS_NAMES_PATH, cfg.MODEL.NUM_CLASSES)
    picker = LabelPicker(names, mode="top-k", top_k=tb.MODEL_VIS.TOPK_PREDS, thres=0.0, lower_thres=0.0)
    label_colors = Colormap(tb.MODEL_VIS.COLORMAP, "TENSORBOARD.MODEL_VIS.COLORMAP")
    heat = Colormap("viridis")
    layers = parse_layer_list(tb.MODEL_VIS.LAYER_LIST) if tb.MODEL_VIS.ENABLE else []
    activations: Dict[str, torch.Tensor] = {}
    handles = []
    if tb.MODEL_VIS.ENABLE and tb.MODEL_VIS.ACTIVATIONS:
        for name, _ in layers:
            handles.append(get_layer(net, name).register_forward_hook(
                lambda m, i, o, name=name: activations.__setitem__(name, o.detach())))
    if writer is not None and tb.MODEL_VIS.ENABLE and tb.MODEL_VIS.MODEL_WEIGHTS:
        for name, index in layers:
            weight = getattr(get_layer(net, name), "weight", None)
            if weight is None:
                raise ValueError(f"TENSORBOARD.MODEL_VIS.LAYER_LIST: layer '{name}' has no weight")
            writer.add_image(f"Layer Weights/{name}", heatmap_grid(weight[index] if index else weight, heat),
                             dataformats="HWC")
    gradcam = None
    if tb.MODEL_VIS.ENABLE and tb.MODEL_VIS.GRAD_CAM.ENABLE:
        pathways = len(cfg.DATA.INPUT_CHANNEL_NUM)
        cam_layers = list(tb.MODEL_VIS.GRAD_CAM.LAYER_LIST) or default_grad_cam_layers(net, pathways)
        gradcam = GradCAM(net, cam_layers, colormap=tb.MODEL_VIS.GRAD_CAM.COLORMAP)
    wrong: List[Tuple[float, np.ndarray, str]] = []
    subset = None
    if tb.WRONG_PRED_VIS.ENABLE and tb.WRONG_PRED_VIS.SUBSET_PATH:
        subset = set(read_class_names(tb.CLASS_NAMES_PATH, "", tb.WRONG_PRED_VIS.SUBSET_PATH)[2])
    clip_idx = -1
    for inputs, labels, _, meta in loader:
        inputs, labels, meta = batch_to_device(cfg, inputs, labels, meta)
        inputs, labels = _flatten_views(list(inputs), labels)
        activations.clear()
        preds = _forward(cfg, net, inputs, meta).float().cpu()
        maps = overlays = None
        if gradcam is not None:
            true = labels if tb.MODEL_VIS.GRAD_CAM.USE_TRUE_LABEL and labels.dim() == 1 else None
            maps, _ = gradcam.localization_maps(inputs, true)
            overlays = gradcam.overlay(inputs, maps, cfg.DATA.MEAN, cfg.DATA.STD)
        for b in range(preds.shape[0]):
            clip_idx += 1
            for p, inp in enumerate(inputs):
                frames = revert_normalize(inp[b].detach().float().cpu().permute(1, 2, 3, 0), cfg.DATA.MEAN, cfg.DATA.STD)
                if writer is not None and tb.MODEL_VIS.ENABLE and tb.MODEL_VIS.INPUT_VIDEO:
                    writer.add_image(f"Input {clip_idx}/Pathway {p + 1}",
                                     _labelled(_clip_strip(frames), picker, label_colors, preds[b]), dataformats="HWC")
                if writer is not None and overlays is not None:
                    strip = _clip_strip(overlays[p][b].permute(0, 2, 3, 1))
                    writer.add_image(f"Input {clip_idx}/Grad-CAM Pathway {p + 1}",
                                     _labelled(strip, picker, label_colors, preds[b]), dataformats="HWC")
            if writer is not None:
                for name, index in layers if tb.MODEL_VIS.ACTIVATIONS else []:
                    act = activations[name][b]
                    writer.add_image(f"Input {clip_idx}/Activations: {name}",
                                     heatmap_grid(act[index] if index else act, heat), dataformats="HWC")
            if tb.WRONG_PRED_VIS.ENABLE and labels.dim() == 1:
                true = int(labels[b])
                if int(preds[b].argmax()) != true and (subset is None or true in subset):
                    frames = revert_normalize(inputs[-1][b].detach().float().cpu().permute(1, 2, 3, 0),
                                              cfg.DATA.MEAN, cfg.DATA.STD)
                    strip = _labelled(_clip_strip(frames), picker, label_colors, preds[b], names[true])
                    wrong.append((float(preds[b][true]), strip, f"Clip {clip_idx}: {names[true]}"))
    for handle in handles:
        handle.remove()
    if gradcam is not None:
        gradcam.remove()
    if writer is not None:
        for rank, (_, strip, title) in enumerate(sorted(wrong, key=lambda w: w[0])):
            writer.add_image(f"{tb.WRONG_PRED_VIS.TAG}/{rank:04d} {title}", strip, dataformats="HWC")
        logger.info("Visualised %d test clips in %s", clip_idx + 1, writer.log_dir)
        if tb.WRONG_PRED_VIS.ENABLE:
            logger.info("%d clips predicted wrongly; classes: %s", len(wrong),
                        sorted({w[2].split(": ", 1)[1] for w in wrong}))
        writer.close()


def wants_visualize(cfg: CfgNode) -> bool:
    """Whether run_net should run the `visualize` job."""
    return cfg.TENSORBOARD.ENABLE and (cfg.TENSORBOARD.MODEL_VIS.ENABLE or cfg.TENSORBOARD.WRONG_PRED_VIS.ENABLE)
