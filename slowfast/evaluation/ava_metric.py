"""AVA frame-level mAP@0.5IOU under the two evaluation protocols in use.

``protocol="activitynet"`` is the official ``get_ava_performance.py`` of the
ActivityNet challenge (the 2019 version, with exclusions and the top-50 cap),
built on the PASCAL evaluator of the TensorFlow object detection API.
``protocol="pyslowfast"`` is PySlowFast's in-engine evaluation
(``utils/ava_eval_helper.py``), which produced its published AVA numbers. Both
share the PASCAL matcher and the VOC AP; they differ only in which detections
are kept and in which order they are matched:

==========================  ============================  =========================
                            activitynet                   pyslowfast
==========================  ============================  =========================
detections per keyframe     top 50 by score (min-heap)    all of them
row order in a keyframe     descending score              as given (file order;
                                                          box by box from a model)
ground-truth order          the reader's heap order       file order
==========================  ============================  =========================

Matching runs per keyframe and class in that row order, so when two detections
of one class can claim the same ground-truth box, ``activitynet`` gives it to
the higher score and ``pyslowfast`` to the one that comes first. Example: one
box, and two detections of its class at IoU 0.9 (score 0.2, first) and 0.6
(score 0.9): activitynet makes the 0.9 one a true positive (AP 1.0), pyslowfast
the 0.2 one (the 0.9 one is a false positive ranked first: AP 0.5).

Rules of this implementation (independent and vectorised; ``activitynet``
wherever the protocols differ):

* **Keyframes** are keyed by ``(video_id, int(timestamp))``; the official key
  string is ``"%s,%04d"``, so ``999`` and ``0999`` are the same keyframe.
* **Class whitelist**: rows whose action id is not in the label map are dropped
  (ground truth and detections alike) before anything else.
* **Top-k per keyframe**: when reading detections, at most ``capacity`` (50)
  rows are kept per keyframe, chosen as the official reader does with a
  min-heap of ``(score, action_id, y1, x1, y2, x2)`` tuples: a row that arrives
  when the heap is full replaces the smallest tuple only if its score is
  strictly greater than the smallest score. Every row scoring above the final
  cut-off is kept; among rows tied at the cut-off the heap's choice is
  reproduced exactly (by replaying the heap for that keyframe).
* **Row order** inside a keyframe is the official one: descending score, ties in
  the heap's array order (replayed where ties inside one class could change a
  result).
* **Excluded keyframes** are dropped from both ground truth and detections.
* **Detections on keyframes without ground truth** are false positives.
* **Invalid detections** (``x1 >= x2`` or ``y1 >= y2``, i.e. zero width or
  height) are dropped silently by the official evaluator; here too, with a
  logged count. They still take a place among the top-``capacity`` rows,
  because the official reader caps before the evaluator drops them.
* **Matching**, per keyframe and class, detections in the order above: each
  detection looks only at the ground-truth box with the highest IoU (the first
  one on ties); it is a true positive if that IoU is ``>= 0.5`` and that box is
  not matched yet, otherwise a false positive. A detection whose best box is
  already taken does *not* fall back to its second-best box (official rule).
* **IoU** uses continuous coordinates (no ``+1``): area ``(y2-y1)*(x2-x1)``,
  union ``area_det + area_gt - intersection``, in the same floating point order
  as the official code, so ties and IoU values exactly at 0.5 agree.
* **Precision/recall** per class over all keyframes, sorted with
  ``np.argsort(scores)[::-1]`` on the scores concatenated in the official order
  (keyframes in order of first appearance in the detection file, rows in the
  order above). With tied scores, that sort decides which of the tied
  detections counts first; numpy's default sort is not stable (and on CPUs with
  AVX-512 it is a SIMD sort), so the official result on tied scores depends on
  the numpy build and CPU. We call the same function on the same array in the
  same order, so we agree with the official evaluator run on the same machine.
* **AP** is the VOC one: precision made monotone from the right, summed over the
  steps where recall changes (padded with recall 0 and 1 and precision 0).
  A class with ground truth but no detections gets AP 0.
* **Classes without ground truth** get AP NaN and are left out of the mean
  (``np.nanmean`` over classes ``1..max id``, as the official code does). If no
  class has ground truth the mAP is NaN.


Typical use::

    result = evaluate_ava("ava_val_v2.2.csv", "det.csv", "labels.pbtxt",
                          "ava_val_excluded_timestamps_v2.2.csv")  # activitynet
    result["mAP"], result["per_class"][12]

From model outputs (the test loop)::

    gt = read_csv(gt_csv, class_whitelist=class_ids)        # once
    result = evaluate_ava_from_predictions(
        gt, video_ids, timestamps, boxes, scores, labelmap_path, excluded_keys,
        protocol="pyslowfast")
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

import numpy as np

from slowfast.evaluation.ava_io import (
    DEFAULT_DETECTION_CAPACITY,
    AvaBoxes,
    Category,
    PathLike,
    _canonicalize,
    _first_appearance_codes,
    _keyframe_codes,
    _member,
    _official_order,
    _parse_csv,
    detections_from_predictions,
    read_exclusions,
    read_labelmap,
)

logger = logging.getLogger(__name__)

#: IoU at or above which a detection may match a ground-truth box.
IOU_THRESHOLD = 0.5
#: The evaluation protocols (see the module docstring); the first is the default.
PROTOCOLS = ("activitynet", "pyslowfast")


# ----------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------


def _load_rows(data: Union[PathLike, AvaBoxes], what: str) -> AvaBoxes:
    if isinstance(data, AvaBoxes):
        return data
    if isinstance(data, (str, os.PathLike)):
        return _parse_csv(data)
    raise TypeError(f"{what} must be a path or an AvaBoxes, got {type(data).__name__}")


def _load_labelmap(labelmap: Union[PathLike, Sequence[Category]]) -> List[Category]:
    if isinstance(labelmap, (str, os.PathLike)):
        return read_labelmap(labelmap)[0]
    cats = [{"id": int(c["id"]), "name": str(c.get("name", c["id"]))} for c in labelmap]
    if not cats:
        raise ValueError("label map is empty")
    if min(c["id"] for c in cats) < 1:
        raise ValueError("class ids must be >= 1 (1-indexed)")
    if len({c["id"] for c in cats}) != len(cats):
        raise ValueError("label map has repeated class ids")
    return cats


def _load_exclusions(exclusions: Union[None, PathLike, Iterable[Any]]) -> Set[Tuple[str, int]]:
    """Excluded keyframes as ``(video_id, timestamp)`` pairs."""
    if exclusions is None:
        return set()
    if isinstance(exclusions, (str, os.PathLike)):
        keys: Iterable[Any] = read_exclusions(exclusions)
    else:
        keys = exclusions
    out: Set[Tuple[str, int]] = set()
    for k in keys:
        if isinstance(k, str):
            vid, _, t = k.rpartition(",")
            out.add((vid, int(t)))
        else:
            vid, t = k
            out.add((str(vid), int(t)))
    return out


def _protocol_capacity(protocol: str, capacity: Optional[int]) -> int:
    """The detections kept per keyframe under ``protocol``; refuses contradictions."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown AVA evaluation protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    if protocol == "pyslowfast":
        if capacity not in (None, 0):
            raise ValueError(
                f"capacity {capacity} does not apply to the pyslowfast protocol, which keeps every detection "
                "(use protocol='activitynet' for the top-k rule)"
            )
        return 0
    return DEFAULT_DETECTION_CAPACITY if capacity is None else int(capacity)


def _in_file_order(rows: AvaBoxes, whitelist: np.ndarray) -> AvaBoxes:
    """Whitelisted rows in the order of their line numbers (PySlowFast's reading order)."""
    if rows.canonical_for is not None and rows.canonical_for[1] > 0:
        raise ValueError(
            f"{rows.source}: rows were read with capacity {rows.canonical_for[1]}, which drops detections; "
            "read them with capacity 0 for the pyslowfast protocol"
        )
    index = np.flatnonzero(_member(rows.labels, whitelist))
    index = index[np.argsort(rows.lines[index], kind="stable")]
    if index.shape[0] == len(rows) and (index[1:] > index[:-1]).all():
        return rows
    return rows.take(index)


def _average_precision(scores: np.ndarray, tp: np.ndarray, num_gt: int) -> float:
    """VOC AP of one class, with the official sort and arithmetic."""
    if scores.size == 0:
        return 0.0
    order = np.argsort(scores)[::-1]
    tp_sorted = tp.astype(int)[order]
    cum_tp = np.cumsum(tp_sorted)
    cum_fp = np.cumsum(1 - tp_sorted)
    precision = cum_tp.astype(float) / (cum_tp + cum_fp)
    recall = cum_tp.astype(float) / num_gt
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.concatenate([[0.0], precision, [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]))


def evaluate_ava(
    groundtruth: Union[PathLike, AvaBoxes],
    detections: Union[PathLike, AvaBoxes],
    labelmap: Union[PathLike, Sequence[Category]],
    exclusions: Union[None, PathLike, Iterable[Any]] = None,
    *,
    protocol: str = "activitynet",
    capacity: Optional[int] = None,
) -> Dict[str, Any]:
    """Computes the AVA frame-level mAP at IoU 0.5.

    Args:
        groundtruth: ground-truth CSV path, or rows (:class:`AvaBoxes`).
        detections: detection CSV path, or rows. For ``activitynet``, rows not
            produced by :func:`read_csv` with the same whitelist and capacity
            are treated as the rows of a file in that order; ``pyslowfast``
            takes rows in the order of their ``lines`` (the file order, or the
            order given to :meth:`AvaBoxes.from_arrays`).
        labelmap: ``.pbtxt`` path, or a list of ``{"id", "name"}`` dicts. Only
            these action ids are evaluated.
        exclusions: excluded keyframes: a CSV path, or an iterable of key
            strings (``"vid,0902"``) or ``(video_id, timestamp)`` pairs.
        protocol: ``"activitynet"`` (the official CLI) or ``"pyslowfast"``
            (PySlowFast's in-engine evaluation); see the module docstring.
        capacity: detections kept per keyframe, ``activitynet`` only (default
            50; 0 keeps all). ``pyslowfast`` keeps all and refuses another value.

    Returns:
        ``{"mAP": float, "per_class": {id: AP}, "num_groundtruth": {id: int},
        "names": {id: str}, "protocol": str}`` with ids in label-map order; AP
        is NaN for a class without ground truth.

    Raises:
        ValueError: on malformed inputs, an unknown protocol, or a capacity
            with ``pyslowfast``.
    """
    start = time.perf_counter()
    capacity = _protocol_capacity(protocol, capacity)
    categories = _load_labelmap(labelmap)
    class_ids = [c["id"] for c in categories]
    whitelist = frozenset(class_ids)
    max_id = max(class_ids)
    gt = _load_rows(groundtruth, "groundtruth")
    det = _load_rows(detections, "detections")
    excluded = _load_exclusions(exclusions)
    wl_arr = np.asarray(sorted(whitelist), dtype=np.int64)

    # 1. Whitelist, then the protocol's ground-truth order (only ties inside
    #    one keyframe and class can matter, through the first-best-IoU rule).
    in_file_order = protocol == "pyslowfast"
    if in_file_order:
        gt = _in_file_order(gt, wl_arr)
        det = _in_file_order(det, wl_arr)
    else:
        gt = _canonicalize(gt, whitelist, 0)
    det_trusted = in_file_order or det.canonical_for == (whitelist, capacity)
    if not det_trusted:
        mask = _member(det.labels, wl_arr)
        if not mask.all():
            det = det.take(np.flatnonzero(mask))

    # 2. Keyframe codes shared by ground truth and detections.
    ng = len(gt)
    all_vids = np.concatenate([gt.video_ids, det.video_ids])
    all_ts = np.concatenate([gt.timestamps, det.timestamps])
    all_keys = _keyframe_codes(all_vids, all_ts)
    gkey, dkey = all_keys[:ng], all_keys[ng:]
    num_keys = int(all_keys.max()) + 1 if all_keys.size else 0
    key_excluded = np.zeros(num_keys, dtype=bool)
    if excluded and num_keys:
        first = np.full(num_keys, -1, dtype=np.int64)
        is_new = np.r_[True, all_keys[1:] > np.maximum.accumulate(all_keys)[:-1]] if all_keys.size else np.zeros(0, bool)
        first[all_keys[is_new]] = np.flatnonzero(is_new)
        key_excluded[:] = [(v, t) in excluded for v, t in zip(all_vids[first].tolist(), all_ts[first].tolist())]
    stride = np.int64(max_id + 1)
    gt_group = gkey * stride + gt.labels
    keep_gt = ~key_excluded[gkey]

    # 3. Detections grouped by keyframe (first appearance): in file order
    #    (pyslowfast), or the official reader's top-capacity and order.
    if in_file_order:
        didx = np.argsort(_first_appearance_codes(dkey), kind="stable")
    elif det_trusted:
        didx = np.arange(len(det), dtype=np.int64)
    else:
        det_local = _first_appearance_codes(dkey)
        det_group = dkey * stride + det.labels
        matters = _member(det_group, gt_group[keep_gt]) & ~key_excluded[dkey]
        didx = _official_order(det, det_local, capacity, tie_matters=matters)
    didx = didx[~key_excluded[dkey[didx]]]
    b = det.boxes[didx]
    valid = (b[:, 1] < b[:, 3]) & (b[:, 0] < b[:, 2])
    n_invalid = int((~valid).sum())
    if n_invalid:
        logger.warning(
            "%s: %d detections with zero width or height ignored (as the official evaluator does)",
            det.source,
            n_invalid,
        )
    didx = didx[valid]

    # 4. Ground truth grouped by (keyframe, action), official order inside.
    gsel = np.flatnonzero(keep_gt)
    gsel = gsel[np.argsort(gt_group[gsel], kind="stable")]
    g_groups, g_start, g_count = np.unique(gt_group[gsel], return_index=True, return_counts=True)
    gyx = gt.boxes[gsel][:, [1, 0, 3, 2]]  # y1, x1, y2, x2
    num_gt = np.bincount(gt.labels[gsel], minlength=max_id + 1)

    # 5. Match: each detection looks at its best-IoU box (first on ties).
    nd = didx.shape[0]
    dgroup = dkey[didx] * stride + det.labels[didx]
    slot = np.searchsorted(g_groups, dgroup)
    slot_c = np.minimum(slot, max(g_groups.shape[0] - 1, 0))
    found = (slot < g_groups.shape[0]) & (g_groups[slot_c] == dgroup) if g_groups.size else np.zeros(nd, bool)
    cnt = np.where(found, g_count[slot_c] if g_groups.size else 0, 0).astype(np.int64)
    tp = np.zeros(nd, dtype=bool)
    total = int(cnt.sum())
    if total:
        pair_det = np.repeat(np.arange(nd, dtype=np.int64), cnt)
        seg_start = np.cumsum(cnt) - cnt
        offs = np.arange(total, dtype=np.int64) - np.repeat(seg_start, cnt)
        pair_gt = np.repeat(g_start[slot_c], cnt) + offs
        dyx = det.boxes[didx][:, [1, 0, 3, 2]][pair_det]
        g = gyx[pair_gt]
        ih = np.maximum(0.0, np.minimum(dyx[:, 2], g[:, 2]) - np.maximum(dyx[:, 0], g[:, 0]))
        iw = np.maximum(0.0, np.minimum(dyx[:, 3], g[:, 3]) - np.maximum(dyx[:, 1], g[:, 1]))
        inter = ih * iw
        area_d = (dyx[:, 2] - dyx[:, 0]) * (dyx[:, 3] - dyx[:, 1])
        area_g = (g[:, 2] - g[:, 0]) * (g[:, 3] - g[:, 1])
        iou = inter / (area_d + area_g - inter)
        has = np.flatnonzero(cnt > 0)
        best = np.maximum.reduceat(iou, seg_start[has])
        best_full = np.full(nd, -np.inf)
        best_full[has] = best
        at_best = np.flatnonzero(iou == best_full[pair_det])
        first_best = at_best[np.r_[True, pair_det[at_best][1:] != pair_det[at_best][:-1]]]
        cand_det = pair_det[first_best]
        ok = best_full[cand_det] >= IOU_THRESHOLD
        cand_det, cand_gt = cand_det[ok], pair_gt[first_best][ok]
        _, first_claim = np.unique(cand_gt, return_index=True)
        tp[cand_det[first_claim]] = True

    # 6. Per-class AP over all keyframes.
    dlab = det.labels[didx]
    dscore = det.scores[didx]
    by_class = np.argsort(dlab, kind="stable")
    bounds = np.searchsorted(dlab[by_class], np.arange(max_id + 2))
    ap = np.full(max_id, np.nan)
    for c in range(1, max_id + 1):
        if num_gt[c] == 0:
            continue
        sl = by_class[bounds[c] : bounds[c + 1]]
        ap[c - 1] = _average_precision(np.ascontiguousarray(dscore[sl]), tp[sl], int(num_gt[c]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_ap = float(np.nanmean(ap))
    logger.info(
        "AVA eval (%s): %d gt rows, %d detections evaluated, %d classes with gt, mAP %.4f (%.2f s)",
        protocol,
        gsel.shape[0],
        nd,
        int((num_gt[1:] > 0).sum()),
        mean_ap,
        time.perf_counter() - start,
    )
    return {
        "mAP": mean_ap,
        "per_class": {cid: float(ap[cid - 1]) for cid in class_ids},
        "num_groundtruth": {cid: int(num_gt[cid]) for cid in class_ids},
        "names": {c["id"]: c["name"] for c in categories},
        "protocol": protocol,
    }




def evaluate_ava_from_predictions(
    groundtruth: Union[PathLike, AvaBoxes],
    video_ids: Sequence[str],
    timestamps: Sequence[int],
    boxes: Any,
    scores: Any,
    labelmap: Union[PathLike, Sequence[Category]],
    exclusions: Union[None, PathLike, Iterable[Any]] = None,
    *,
    class_ids: Optional[Sequence[int]] = None,
    protocol: str = "activitynet",
    capacity: Optional[int] = None,
) -> Dict[str, Any]:
    """AVA mAP of model outputs, without writing a CSV.

    Equivalent to writing the detections with full precision and running
    :func:`evaluate_ava` on the file. Score columns whose class is not in the
    label map are ignored.

    Args:
        groundtruth: ground-truth CSV path or rows (read it once with
            :func:`read_csv` and the label map's ids to reuse it).
        video_ids, timestamps, boxes, scores, class_ids: see
            :func:`detections_from_predictions`.
        labelmap: label map path or categories.
        exclusions: see :func:`evaluate_ava`.
        protocol, capacity: see :func:`evaluate_ava`; ``"pyslowfast"`` gives
            the number PySlowFast's test loop prints for the same outputs.

    Returns:
        As :func:`evaluate_ava`.
    """
    det = detections_from_predictions(video_ids, timestamps, boxes, scores, class_ids)
    return evaluate_ava(groundtruth, det, labelmap, exclusions, protocol=protocol, capacity=capacity)

