"""Tests of the AVA frame-level mAP (slowfast/evaluation/ava_eval.py).

Three kinds of checks:
- hand-computed cases, one rule of the official evaluator each;
- random cases and the reference cases in tests/data/ava_eval_cases compared with ``brute_force_ava``
  below: a plain loop version of the official algorithm (per-keyframe heap,
  per-class matching, VOC AP), written for clarity, not speed;
- bad input, which must raise a ValueError naming file and line.
"""

import csv
import heapq
import math
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from slowfast.evaluation.ava_eval import (
    AvaBoxes,
    detections_from_predictions,
    evaluate_ava,
    evaluate_ava_from_predictions,
    make_image_key,
    read_csv,
    read_exclusions,
    read_labelmap,
    write_detections_csv,
)

CASES_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "ava_eval_cases"


# ---------------------------------------------------------------------------
# Brute force: the official algorithm as loops.
# ---------------------------------------------------------------------------


def _bf_labelmap(path):
    ids = []
    for line in open(path, encoding="utf-8"):
        s = line.strip()
        if s.startswith("id:") or s.startswith("label_id:"):
            ids.append(int(s.split(":")[1]))
    return ids


def _bf_read(path, ids, capacity):
    """{(video, int ts): [(score, label, y1, x1, y2, x2), ...]} in the official order."""
    heaps = {}
    with open(path, newline="") as f:
        for row in csv.reader(f):
            if not row:
                continue
            key = (row[0], int(row[1]))
            x1, y1, x2, y2 = (float(v) for v in row[2:6])
            label = int(row[6])
            if label not in ids:
                continue
            score = float(row[7]) if len(row) == 8 else 1.0
            heap = heaps.setdefault(key, [])
            item = (score, label, y1, x1, y2, x2)
            if capacity <= 0 or len(heap) < capacity:
                heapq.heappush(heap, item)
            elif score > heap[0][0]:
                heapq.heapreplace(heap, item)
    return {k: sorted(h, key=lambda t: -t[0]) for k, h in heaps.items()}


def _bf_iou(d, g):
    _, _, dy1, dx1, dy2, dx2 = d
    _, _, gy1, gx1, gy2, gx2 = g
    h = max(0.0, min(dy2, gy2) - max(dy1, gy1))
    w = max(0.0, min(dx2, gx2) - max(dx1, gx1))
    inter = h * w
    return inter / ((dy2 - dy1) * (dx2 - dx1) + (gy2 - gy1) * (gx2 - gx1) - inter)


def brute_force_ava(gt_path, det_path, labelmap_path, exclusions_path=None, capacity=50):
    ids = _bf_labelmap(labelmap_path)
    excluded = set()
    if exclusions_path:
        with open(exclusions_path, newline="") as f:
            excluded = {(r[0], int(r[1])) for r in csv.reader(f) if r}
    gt = _bf_read(gt_path, set(ids), 0)
    det = _bf_read(det_path, set(ids), capacity)
    num_gt = defaultdict(int)
    for key, items in gt.items():
        if key not in excluded:
            for item in items:
                num_gt[item[1]] += 1
    scores, tps = defaultdict(list), defaultdict(list)
    for key, items in det.items():  # keyframes in order of first appearance
        if key in excluded:
            continue
        gts = gt.get(key, [])
        for c in range(1, max(ids) + 1):
            dets_c = [d for d in items if d[1] == c and d[2] < d[4] and d[3] < d[5]]
            gts_c = [g for g in gts if g[1] == c]
            taken = [False] * len(gts_c)
            for d in dets_c:
                best_j, best = -1, -1.0
                for j, g in enumerate(gts_c):
                    iou = _bf_iou(d, g)
                    if iou > best:
                        best_j, best = j, iou
                is_tp = best_j >= 0 and best >= 0.5 and not taken[best_j]
                if is_tp:
                    taken[best_j] = True
                scores[c].append(d[0])
                tps[c].append(is_tp)
    per_class = {}
    for c in ids:
        if num_gt[c] == 0:
            per_class[c] = float("nan")
            continue
        s = np.array(scores[c], dtype=float)
        # the official tie rule: numpy's default argsort, reversed
        order = np.argsort(s)[::-1] if len(s) else []
        prec, rec, n_tp = [], [], 0
        for rank, i in enumerate(order, start=1):
            n_tp += tps[c][i]
            prec.append(n_tp / rank)
            rec.append(n_tp / num_gt[c])
        if not prec:
            per_class[c] = 0.0
            continue
        prec = [0.0] + prec + [0.0]
        rec = [0.0] + rec + [1.0]
        for i in range(len(prec) - 2, -1, -1):
            prec[i] = max(prec[i], prec[i + 1])
        per_class[c] = sum((rec[i] - rec[i - 1]) * prec[i] for i in range(1, len(rec)) if rec[i] != rec[i - 1])
    valid = [v for v in per_class.values() if not math.isnan(v)]
    return {"mAP": sum(valid) / len(valid) if valid else float("nan"), "per_class": per_class}


def assert_same_result(got, want, tol=1e-12):
    assert set(got["per_class"]) == set(want["per_class"])
    for c, v in want["per_class"].items():
        g = got["per_class"][c]
        if math.isnan(v):
            assert math.isnan(g), (c, g)
        else:
            assert g == pytest.approx(v, abs=tol), (c, g, v)
    if math.isnan(want["mAP"]):
        assert math.isnan(got["mAP"])
    else:
        assert got["mAP"] == pytest.approx(want["mAP"], abs=tol)


# ---------------------------------------------------------------------------
# Helpers for hand-written cases
# ---------------------------------------------------------------------------

LABELS_3 = 'item {\n  name: "stand"\n  id: 1\n}\nitem {\n  name: "sit"\n  id: 2\n}\nitem {\n  name: "walk"\n  id: 3\n}\n'


def write(tmp_path, name, lines):
    p = tmp_path / name
    p.write_text("".join(line + "\n" for line in lines))
    return p


def run_case(tmp_path, gt_lines, det_lines, excl_lines=None, labelmap=LABELS_3, capacity=50):
    gt = write(tmp_path, "gt.csv", gt_lines)
    det = write(tmp_path, "det.csv", det_lines)
    lm = tmp_path / "labels.pbtxt"
    lm.write_text(labelmap)
    ex = write(tmp_path, "excl.csv", excl_lines) if excl_lines is not None else None
    got = evaluate_ava(gt, det, lm, ex, capacity=capacity)
    want = brute_force_ava(gt, det, lm, ex, capacity=capacity)
    assert_same_result(got, want)
    return got


B1 = "0.100,0.100,0.400,0.900"  # x1,y1,x2,y2
B2 = "0.500,0.100,0.900,0.900"
B1_SHIFTED = "0.120,0.100,0.420,0.900"  # IoU with B1 = 0.28/0.32 > 0.5
FAR = "0.000,0.000,0.050,0.050"


# ---------------------------------------------------------------------------
# Hand-computed cases
# ---------------------------------------------------------------------------


def test_perfect_detections_give_one(tmp_path):
    gt = [f"vid_a,0902,{B1},1,0", f"vid_a,0902,{B2},2,1", f"vid_b,1000,{B1},1,0", f"vid_b,1000,{B1},3,0"]
    det = [row.rsplit(",", 1)[0] + ",0.9" for row in gt]
    r = run_case(tmp_path, gt, det)
    assert r["mAP"] == 1.0
    assert r["per_class"] == {1: 1.0, 2: 1.0, 3: 1.0}
    assert r["num_groundtruth"] == {1: 2, 2: 1, 3: 1}
    assert r["names"] == {1: "stand", 2: "sit", 3: "walk"}


def test_false_positive_ranked_above_true_positive(tmp_path):
    # class 1: one GT; FP at 0.9, TP at 0.8 -> precision [0, 1/2], recall [0, 1] -> AP 0.5
    # class 2: two GT; TP 0.9, FP 0.8, TP 0.7 -> P [1, 1/2, 2/3], R [1/2, 1/2, 1]
    #          AP = 1/2 * 1 + 1/2 * 2/3 = 5/6
    gt = [f"v,0902,{B1},1,0", f"v,0902,{B1},2,0", f"v,0903,{B2},2,1"]
    det = [
        f"v,0902,{FAR},1,0.9",
        f"v,0902,{B1_SHIFTED},1,0.8",
        f"v,0902,{B1},2,0.9",
        f"v,0903,{FAR},2,0.8",
        f"v,0903,{B2},2,0.7",
    ]
    r = run_case(tmp_path, gt, det)
    assert r["per_class"][1] == pytest.approx(0.5, abs=1e-15)
    assert r["per_class"][2] == pytest.approx(5 / 6, abs=1e-15)
    assert math.isnan(r["per_class"][3])
    assert r["mAP"] == pytest.approx((0.5 + 5 / 6) / 2, abs=1e-15)


def test_duplicate_detection_is_a_false_positive(tmp_path):
    # keyframe 902: GT g1, detections 0.9 and 0.8 on it (0.8 is a duplicate)
    # keyframe 903: GT g2, detection 0.7 -> TP, FP, TP with 2 GT -> AP 5/6
    gt = [f"v,0902,{B1},1,0", f"v,0903,{B2},1,0"]
    det = [f"v,0902,{B1},1,0.9", f"v,0902,{B1_SHIFTED},1,0.8", f"v,0903,{B2},1,0.7"]
    r = run_case(tmp_path, gt, det)
    assert r["per_class"][1] == pytest.approx(5 / 6, abs=1e-15)


def test_best_box_taken_does_not_fall_back_to_second_best(tmp_path):
    # Official rule: a detection only looks at its highest-IoU GT box. Two GT
    # boxes g1 = B1 and g2 overlap; d2's best box is g1 (taken by d1) although
    # its IoU with g2 is >= 0.5 as well -> d2 is a FP. TP, FP with 2 GT:
    # P [1, 1/2], R [1/2, 1/2] -> AP 0.5
    g2 = "0.150,0.100,0.450,0.900"
    d2 = "0.120,0.100,0.420,0.900"  # IoU g1 = 0.875, IoU g2 = 0.27/0.33 = 0.818
    gt = [f"v,0902,{B1},1,0", f"v,0902,{g2},1,1"]
    det = [f"v,0902,{B1},1,0.9", f"v,0902,{d2},1,0.8"]
    r = run_case(tmp_path, gt, det)
    assert r["per_class"][1] == pytest.approx(0.5, abs=1e-15)


def test_iou_exactly_half_matches(tmp_path):
    # det covers exactly half of the GT box: IoU = 0.25 / 0.5 = 0.5 -> TP
    gt = ["v,0902,0.000,0.000,1.000,0.500,1,0"]
    det = ["v,0902,0.000,0.000,0.500,0.500,1,0.9"]
    r = run_case(tmp_path, gt, det)
    assert r["per_class"][1] == 1.0


def test_class_without_groundtruth_is_nan_and_left_out_of_the_mean(tmp_path):
    gt = [f"v,0902,{B1},1,0"]
    det = [f"v,0902,{B1},1,0.9", f"v,0902,{B2},2,0.95", f"v,0902,{FAR},1,0.1"]
    r = run_case(tmp_path, gt, det)
    assert r["per_class"][1] == 1.0
    assert math.isnan(r["per_class"][2]) and math.isnan(r["per_class"][3])
    assert r["mAP"] == 1.0


def test_class_with_groundtruth_but_no_detection_scores_zero(tmp_path):
    gt = [f"v,0902,{B1},1,0", f"v,0902,{B1},2,0"]
    det = [f"v,0902,{B1},1,0.9"]
    r = run_case(tmp_path, gt, det)
    assert r["per_class"][2] == 0.0
    assert r["mAP"] == 0.5


def test_no_groundtruth_at_all_gives_nan(tmp_path):
    r = run_case(tmp_path, [f"v,0902,{B1},7,0"], [f"v,0902,{B1},1,0.9"])
    assert math.isnan(r["mAP"])


def test_detections_on_keyframes_without_groundtruth_are_false_positives(tmp_path):
    # FP at 0.95 on a keyframe that has no GT at all, then a TP: AP 0.5
    gt = [f"v,0902,{B1},1,0"]
    det = [f"v,0950,{B1},1,0.95", f"v,0902,{B1},1,0.9"]
    r = run_case(tmp_path, gt, det)
    assert r["per_class"][1] == 0.5


def test_excluded_keyframes_are_dropped_from_gt_and_detections(tmp_path):
    # keyframe 903 has an unmatched GT and a high FP: both ignored when excluded
    gt = [f"v,0902,{B1},1,0", f"v,0903,{B2},1,0"]
    det = [f"v,0903,{FAR},1,0.99", f"v,0902,{B1},1,0.9"]
    assert run_case(tmp_path, gt, det)["per_class"][1] == pytest.approx(0.25)
    assert run_case(tmp_path, gt, det, excl_lines=["v,0903"])["per_class"][1] == 1.0
    assert run_case(tmp_path, gt, det, excl_lines=["v,903"])["per_class"][1] == 1.0


def test_unpadded_timestamps_are_the_same_keyframe(tmp_path):
    gt = [f"v,0999,{B1},1,0", f"v,1000,{B2},1,0"]
    det = [f"v,999,{B1},1,0.9", f"v,01000,{B2},1,0.8"]
    r = run_case(tmp_path, gt, det, excl_lines=[])
    assert r["per_class"][1] == 1.0
    assert make_image_key("v", "999") == make_image_key("v", 999) == "v,0999"


def test_ids_outside_the_labelmap_are_ignored(tmp_path):
    # class 9 is not in the label map: its GT and detections do not count, and
    # its rows do not take places among the top 50 of a keyframe.
    gt = [f"v,0902,{B1},1,0", f"v,0902,{B1},9,0"]
    det = [f"v,0902,{FAR},9,0.99"] * 60 + [f"v,0902,{B1},1,0.5"]
    r = run_case(tmp_path, gt, det)
    assert set(r["per_class"]) == {1, 2, 3}
    assert r["per_class"][1] == 1.0


def test_zero_area_detections_are_ignored(tmp_path):
    gt = [f"v,0902,{B1},1,0"]
    det = ["v,0902,0.300,0.300,0.300,0.600,1,0.99", f"v,0902,{B1},1,0.9"]
    assert run_case(tmp_path, gt, det)["per_class"][1] == 1.0


def test_top_50_capacity_per_keyframe(tmp_path):
    # 50 FP rows score 0.9; the TP scores 0.5 -> dropped by the top-50 cut, AP 0
    gt = [f"v,0902,{B1},1,0"]
    det = [f"v,0902,{FAR},2,0.9"] * 50 + [f"v,0902,{B1},1,0.5"]
    assert run_case(tmp_path, gt, det)["per_class"][1] == 0.0
    # without the cap it is kept (the FP rows are of another class): AP 1
    assert run_case(tmp_path, gt, det, capacity=0)["per_class"][1] == 1.0
    # a TP scoring above the cut-off replaces the lowest row: AP 1
    det_hi = [f"v,0902,{FAR},2,0.9"] * 50 + [f"v,0902,{B1},1,0.95"]
    assert run_case(tmp_path, gt, det_hi)["per_class"][1] == 1.0
    # equal to the cut-off score is not enough (strictly greater is needed)
    det_eq = [f"v,0902,{FAR},2,0.9"] * 50 + [f"v,0902,{B1},1,0.9"]
    assert run_case(tmp_path, gt, det_eq)["per_class"][1] == 0.0
    # the cap is per keyframe: another keyframe is not affected
    det_other = [f"v,0903,{FAR},2,0.9"] * 50 + [f"v,0902,{B1},1,0.5"]
    assert run_case(tmp_path, gt, det_other)["per_class"][1] == 1.0


def test_capacity_ties_are_broken_like_the_official_heap(tmp_path):
    # 48 rows at 0.9, then two rows tied at 0.5: a TP of class `a` and a FP of
    # class `b`; then a row at 0.7 evicts the smallest tuple (score, action, ...)
    # -> the tied row with the smaller action id leaves, whatever the file order.
    gt = [f"v,0902,{B1},1,0", f"v,0902,{B1},3,0"]
    fill = [f"v,0902,{FAR},2,0.9"] * 48
    for first, second in [(1, 3), (3, 1)]:
        det = fill + [f"v,0902,{B1},{first},0.5", f"v,0902,{B1},{second},0.5", f"v,0902,{FAR},2,0.7"]
        r = run_case(tmp_path, gt, det)
        assert r["per_class"][1] == 0.0  # action 1 < 3: evicted
        assert r["per_class"][3] == 1.0


def test_read_csv_capacity_and_order(tmp_path):
    p = write(tmp_path, "det.csv", [f"v,902,{B1},1,0.{i:02d}" for i in range(1, 61)] + [f"w,0001,{B1},2,0.5"])
    rows = read_csv(p, class_whitelist={1, 2}, capacity=50)
    assert len(rows) == 51
    assert rows.image_keys()[0] == "v,0902" and rows.image_keys()[-1] == "w,0001"
    assert rows.scores[:50].tolist() == [i / 100 for i in range(60, 10, -1)]
    boxes, labels, scores = rows.to_dicts()
    assert boxes["w,0001"] == [[0.1, 0.1, 0.9, 0.4]]  # [y1, x1, y2, x2]
    assert len(read_csv(p, class_whitelist={2})) == 1
    assert len(read_csv(p)) == 61


def test_read_labelmap_and_exclusions(tmp_path):
    lm = tmp_path / "l.pbtxt"
    lm.write_text('label {\n  name: "bend/bow (at the waist)"\n  label_id: 1\n  label_type: PERSON_MOVEMENT\n}\n'
                  'label {\n  name: "talk to (e.g., self, a person, a group)"\n  label_id: 79\n}\n')
    cats, ids = read_labelmap(lm)
    assert cats == [{"id": 1, "name": "bend/bow (at the waist)"}, {"id": 79, "name": "talk to (e.g., self, a person, a group)"}]
    assert ids == {1, 79}
    ex = write(tmp_path, "e.csv", ["a,902", "b,0903", ""])
    assert read_exclusions(ex) == {"a,0902", "b,0903"}
    assert read_exclusions(None) == set()


def test_in_memory_predictions_match_the_csv_path(tmp_path):
    rng = np.random.default_rng(0)
    n, c = 40, 3
    vids = [f"vid{i % 4}" for i in range(n)]
    ts = [900 + (i // 4) % 5 for i in range(n)]
    xy = rng.uniform(0, 0.5, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(0.1, 0.5, (n, 2))], axis=1)
    scores = np.round(rng.random((n, c)), 2)  # 2 decimals: ties
    gt_rows = [f"vid{i % 4},{900 + (i // 4) % 5},{','.join(repr(float(v)) for v in boxes[i])},{1 + i % 3},{i}"
               for i in range(0, n, 2)]
    gt = write(tmp_path, "gt.csv", gt_rows)
    lm = tmp_path / "labels.pbtxt"
    lm.write_text(LABELS_3)
    got = evaluate_ava_from_predictions(gt, vids, ts, boxes, scores, lm, capacity=5)
    det = detections_from_predictions(vids, ts, boxes, scores)
    det_csv = tmp_path / "det.csv"
    det_csv.write_text("".join(
        f"{v},{t},{','.join(repr(x) for x in b)},{lab},{s!r}\n"
        for v, t, b, lab, s in zip(det.video_ids, det.timestamps, det.boxes.tolist(), det.labels, det.scores.tolist())))
    want = brute_force_ava(gt, det_csv, lm, capacity=5)
    assert_same_result(got, want)
    # ground truth read once with the label map's ids is reused as is
    gt_rows_obj = read_csv(gt, class_whitelist={1, 2, 3})
    assert_same_result(evaluate_ava_from_predictions(gt_rows_obj, vids, ts, boxes, scores, lm, capacity=5), want)
    assert_same_result(evaluate_ava(gt, det, lm, capacity=5), want)
    assert_same_result(evaluate_ava(gt, det, [{"id": 1, "name": "a"}, {"id": 2}, {"id": 3}], capacity=5), want)


def test_write_detections_csv_format(tmp_path):
    out = tmp_path / "sub" / "det.csv"
    rows = AvaBoxes.from_arrays(["vid"], [7], [[0.12345, 0.5, 0.75, 1.0]], [12], [0.123456])
    assert write_detections_csv(out, rows) == 1
    assert out.read_text() == "vid,0007,0.123,0.500,0.750,1.000,12,0.1235\n"
    write_detections_csv(out, [("v2", 902, 0.1, 0.2, 0.3, 0.4, 3, 0.5)])
    assert out.read_text() == "v2,0902,0.100,0.200,0.300,0.400,3,0.5000\n"
    assert [p.name for p in out.parent.iterdir()] == ["det.csv"]  # no temporary file left


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("v,0903,0.1,0.1,0.4,0.9,1,0.5,extra", "columns"),
        ("v,0903,0.1,0.1,0.4,1", "columns"),
        ("v,0903,0.1,abc,0.4,0.9,1,0.5", "numbers"),
        ("v,09x3,0.1,0.1,0.4,0.9,1,0.5", "timestamp"),
        ("v,0903,0.1,0.1,0.4,0.9,one,0.5", "action id"),
        ("v,0903,0.1,0.1,0.4,0.9,1,high", "score"),
        ("v,0903,0.1,0.1,1.4,0.9,1,0.5", "[0, 1]"),
        ("v,0903,-0.1,0.1,0.4,0.9,1,0.5", "[0, 1]"),
        ("v,0903,0.5,0.1,0.4,0.9,1,0.5", "x2 < x1"),
        ("v,0903,0.1,0.9,0.4,0.1,1,0.5", "y2 < y1"),
        ("v,0903,0.1,0.1,0.4,nan,1,0.5", "finite"),
        ("v,0903,0.1,0.1,0.4,0.9,1,inf", "finite"),
    ],
)
def test_bad_rows_raise_with_file_and_line(tmp_path, bad_line, message):
    lines = [f"v,0902,{B1},1,0.9", f"v,0902,{B2},1,0.8", bad_line, f"v,0904,{B1},1,0.7"]
    det = write(tmp_path, "det.csv", lines)
    gt = write(tmp_path, "gt.csv", [f"v,0902,{B1},1,0"])
    lm = tmp_path / "labels.pbtxt"
    lm.write_text(LABELS_3)
    with pytest.raises(ValueError) as info:
        evaluate_ava(gt, det, lm)
    text = str(info.value)
    assert f"{det}:3" in text and message in text, text


def test_blank_lines_and_seven_column_rows_are_accepted(tmp_path):
    gt = write(tmp_path, "gt.csv", [f"v,0902,{B1},1", "", f"v,0903,{B2},1,0"])
    det = write(tmp_path, "det.csv", [f"v,0902,{B1},1,0.9", "", f"v,0903,{B2},1"])
    lm = tmp_path / "labels.pbtxt"
    lm.write_text(LABELS_3)
    assert evaluate_ava(gt, det, lm)["per_class"][1] == 1.0


def test_bad_labelmap_exclusions_and_arrays(tmp_path):
    lm = tmp_path / "l.pbtxt"
    lm.write_text('item {\n  name: "a"\n  id: x\n}\n')
    with pytest.raises(ValueError, match=r"l\.pbtxt:3"):
        read_labelmap(lm)
    lm.write_text("nothing here\n")
    with pytest.raises(ValueError, match="no class ids"):
        read_labelmap(lm)
    ex = write(tmp_path, "e.csv", ["a,902", "b,0903,1"])
    with pytest.raises(ValueError, match=r"e\.csv:2"):
        read_exclusions(ex)
    with pytest.raises(ValueError, match="row 1"):
        AvaBoxes.from_arrays(["a", "b"], [1, 2], [[0, 0, 1, 1], [0.5, 0, 0.4, 1]], [1, 1], [0.5, 0.5])
    with pytest.raises(ValueError, match="lengths"):
        AvaBoxes.from_arrays(["a"], [1, 2], [[0, 0, 1, 1]], [1], [0.5])
    with pytest.raises(FileNotFoundError):
        read_csv(tmp_path / "missing.csv")


# ---------------------------------------------------------------------------
# Random cases against the brute force
# ---------------------------------------------------------------------------


def make_random_case(tmp_path, seed):
    """Writes a random case with ties, capacity overflow, duplicates, bad boxes."""
    rng = np.random.default_rng(seed)
    n_classes = int(rng.integers(2, 8))
    ids = sorted(rng.choice(np.arange(1, 12), n_classes, replace=False).tolist())
    lm = tmp_path / "labels.pbtxt"
    lm.write_text("".join(f'item {{\n  name: "c{i}"\n  id: {i}\n}}\n' for i in ids))
    decimals = int(rng.choice([1, 2, 4]))  # few decimals: many tied scores
    capacity = int(rng.choice([0, 3, 8, 50]))
    keys = [(f"vid{int(rng.integers(0, 4))}", int(rng.integers(900, 930))) for _ in range(int(rng.integers(5, 25)))]
    keys = list(dict.fromkeys(keys))

    def ts_text(t):
        return str(t) if rng.random() < 0.3 else "%04d" % t

    def rand_box():
        x1, y1 = rng.uniform(0, 0.7, 2)
        w, h = rng.uniform(0.05, 0.3, 2)
        return [round(x1, 2), round(y1, 2), round(min(1.0, x1 + w), 2), round(min(1.0, y1 + h), 2)]

    gt_lines, det_lines, persons = [], [], {}
    for k in keys:
        persons[k] = [rand_box() for _ in range(int(rng.integers(0, 4)))]
        for pid, box in enumerate(persons[k]):
            for c in rng.choice(ids + [99], int(rng.integers(1, 3)), replace=False).tolist():
                row = [k[0], ts_text(k[1])] + ["%.3f" % v for v in box] + [str(c)]
                if rng.random() < 0.95:
                    row.append(str(pid if rng.random() < 0.9 else 0))
                gt_lines.append(",".join(row))
    for k in keys + [("vid9", 901)]:
        for _ in range(int(rng.integers(0, 15))):
            ps = persons.get(k, [])
            if ps and rng.random() < 0.7:
                box = list(ps[int(rng.integers(0, len(ps)))])
                if rng.random() < 0.5:
                    box = [min(1.0, max(0.0, v + rng.normal(0, 0.03))) for v in box]
                    box = [box[0], box[1], max(box[0], box[2]), max(box[1], box[3])]
            else:
                box = rand_box()
            if rng.random() < 0.05:
                box[2] = box[0]  # zero width: ignored by the evaluator
            c = int(rng.choice(ids + [99]))
            score = round(float(rng.random()), decimals)
            n_copies = 2 if rng.random() < 0.1 else 1  # duplicate rows
            for _ in range(n_copies):
                det_lines.append(",".join([k[0], ts_text(k[1])] + ["%.3f" % v for v in box] + [str(c), repr(score)]))
    order = rng.permutation(len(det_lines))
    det_lines = [det_lines[i] for i in order]
    excl = [f"{k[0]},{ts_text(k[1])}" for k in keys if rng.random() < 0.15]
    gt = write(tmp_path, "gt.csv", gt_lines)
    det = write(tmp_path, "det.csv", det_lines)
    ex = write(tmp_path, "excl.csv", excl)
    return gt, det, lm, ex, capacity


@pytest.mark.parametrize("seed", range(30))
def test_random_cases_match_brute_force(tmp_path, seed):
    gt, det, lm, ex, capacity = make_random_case(tmp_path, seed)
    got = evaluate_ava(gt, det, lm, ex, capacity=capacity)
    want = brute_force_ava(gt, det, lm, ex, capacity=capacity)
    assert_same_result(got, want)
    # rows read once by read_csv give the same answer
    ids = read_labelmap(lm)[1]
    got2 = evaluate_ava(read_csv(gt, ids), read_csv(det, ids, capacity), lm, read_exclusions(ex), capacity=capacity)
    assert_same_result(got2, want)


# ---------------------------------------------------------------------------
# Shared reference cases
# ---------------------------------------------------------------------------

# mmaction2 asserts 0.09385522 for this sample (its test_ava_detection).
MMACTION2_MAP = 0.09385522


def reference_cases():
    return sorted(p.name for p in CASES_DIR.iterdir() if (p / "gt.csv").is_file())


@pytest.mark.parametrize("case", reference_cases())
def test_reference_cases_match_brute_force(case):
    d = CASES_DIR / case
    ex = d / "exclusions.csv"
    ex = ex if ex.is_file() else None
    got = evaluate_ava(d / "gt.csv", d / "det.csv", d / "labelmap.pbtxt", ex)
    want = brute_force_ava(d / "gt.csv", d / "det.csv", d / "labelmap.pbtxt", ex)
    assert_same_result(got, want)
    assert 0.0 < got["mAP"] < 1.0
    if case == "real_mmaction2":
        assert got["mAP"] == pytest.approx(MMACTION2_MAP, abs=1e-8)


# ---------------------------------------------------------------------------
# Benchmark (not run by default: pytest -m slow -s -k benchmark)
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_benchmark_50k_keyframes(tmp_path):
    rng = np.random.default_rng(0)
    n_key, per_key, n_cls = 50_000, 2, 60
    vids = np.array([f"video{int(v):06d}" for v in rng.integers(0, 64, n_key)], dtype=object)
    ts = 902 + np.arange(n_key) % 897
    n = n_key * per_key
    xy = rng.uniform(0, 0.6, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(0.1, 0.4, (n, 2))], axis=1)
    labels = rng.integers(1, n_cls + 1, n)
    gt = AvaBoxes.from_arrays(np.repeat(vids, per_key), np.repeat(ts, per_key), boxes, labels, np.arange(n) % per_key)
    cats = [{"id": i, "name": f"c{i}"} for i in range(1, n_cls + 1)]
    jitter = np.clip(boxes + rng.normal(0, 0.02, boxes.shape), 0, 1)
    jitter[:, 2:] = np.maximum(jitter[:, 2:], jitter[:, :2])
    scores = np.round(rng.random((n, n_cls)), 4)
    t, c = time.perf_counter(), time.process_time()
    r = evaluate_ava_from_predictions(gt, np.repeat(vids, per_key), np.repeat(ts, per_key), jitter, scores, cats)
    t_mem, c_mem = time.perf_counter() - t, time.process_time() - c
    path = tmp_path / "det.csv"
    t = time.perf_counter()
    write_detections_csv(path, detections_from_predictions(np.repeat(vids, per_key), np.repeat(ts, per_key), jitter, scores))
    t_write = time.perf_counter() - t
    t, c = time.perf_counter(), time.process_time()
    r2 = evaluate_ava(gt, path, cats)
    t_csv, c_csv = time.perf_counter() - t, time.process_time() - c
    print(f"\n50k keyframes x {per_key} boxes x {n_cls} classes ({n * n_cls} rows): "
          f"in memory {t_mem:.2f} s wall / {c_mem:.2f} s CPU, write CSV {t_write:.2f} s, "
          f"evaluate CSV {t_csv:.2f} s wall / {c_csv:.2f} s CPU; mAP {r['mAP']:.4f} / {r2['mAP']:.4f}")
    d = CASES_DIR / "syn5_300x60"
    for _ in range(3):
        t = time.perf_counter()
        evaluate_ava(d / "gt.csv", d / "det.csv", d / "labelmap.pbtxt", d / "exclusions.csv")
        print(f"syn5_300x60: {time.perf_counter() - t:.3f} s")
    t = time.perf_counter()
    brute_force_ava(d / "gt.csv", d / "det.csv", d / "labelmap.pbtxt", d / "exclusions.csv")
    print(f"syn5_300x60 brute force: {time.perf_counter() - t:.3f} s")


def test_fast_and_line_by_line_readers_agree():
    from slowfast.evaluation import ava_io

    for name in ("gt.csv", "det.csv"):
        path = CASES_DIR / "syn6_100x20_ties_unpadded" / name
        fast = ava_io._parse_csv_fast(path)
        slow = ava_io._parse_csv_slow(path)
        assert fast is not None
        for field in ("video_ids", "timestamps", "boxes", "labels", "scores", "lines"):
            assert np.array_equal(getattr(fast, field), getattr(slow, field)), field


# ---------------------------------------------------------------------------
# The two protocols against the reference evaluators' numbers
# ---------------------------------------------------------------------------

PROTOCOL_NAMES = ("activitynet", "pyslowfast")


def assert_matches_expected(result, expected, tol=1e-9):
    assert set(expected["per_class"]) == {str(c) for c in result["per_class"]}
    for cid, want in expected["per_class"].items():
        got = result["per_class"][int(cid)]
        if want is None:
            assert math.isnan(got), cid
        else:
            assert abs(got - want) <= tol, (cid, got, want)
    assert abs(result["mAP"] - expected["mAP"]) <= tol


@pytest.mark.parametrize("protocol", PROTOCOL_NAMES)
@pytest.mark.parametrize("case", reference_cases())
def test_reference_cases_match_the_reference_evaluators(case, protocol):
    """expected_<protocol>.json: per-class APs printed by get_ava_performance.py / ava_eval_helper.py."""
    import json

    d = CASES_DIR / case
    expected = json.loads((d / f"expected_{protocol}.json").read_text())
    ex = d / "exclusions.csv"
    ex = ex if ex.is_file() else None
    got = evaluate_ava(d / "gt.csv", d / "det.csv", d / "labelmap.pbtxt", ex, protocol=protocol)
    assert got["protocol"] == protocol
    assert_matches_expected(got, expected)
    # rows read once (the engine's way) give the same numbers
    ids = read_labelmap(d / "labelmap.pbtxt")[1]
    capacity = 50 if protocol == "activitynet" else 0
    rows = evaluate_ava(read_csv(d / "gt.csv", ids), read_csv(d / "det.csv", ids, capacity), d / "labelmap.pbtxt", ex,
                        protocol=protocol)
    assert_matches_expected(rows, expected)


def _two_claims(tmp_path):
    """One box; two detections of its class: IoU 0.9 with score 0.2 (first row), IoU 0.6 with score 0.9."""
    gt = write(tmp_path, "gt.csv", ["v,0902,0.100,0.100,0.500,0.500,1,0"])
    det = write(tmp_path, "det.csv", [
        "v,0902,0.100,0.100,0.480,0.480,1,0.2",
        "v,0902,0.100,0.100,0.410,0.410,1,0.9",
    ])
    lm = write(tmp_path, "l.pbtxt", ['item {', '  name: "a"', '  id: 1', '}'])
    return gt, det, lm


def test_protocols_differ_when_two_detections_claim_one_box(tmp_path):
    gt, det, lm = _two_claims(tmp_path)
    # activitynet matches in score order: the 0.9 detection takes the box, precision 1 at recall 1.
    assert evaluate_ava(gt, det, lm, protocol="activitynet")["per_class"][1] == pytest.approx(1.0)
    # pyslowfast matches in row order: the 0.2 one takes it; the 0.9 one is a false positive ranked first.
    assert evaluate_ava(gt, det, lm, protocol="pyslowfast")["per_class"][1] == pytest.approx(0.5)
    # from model outputs (one row per box and class, box by box) the same holds
    boxes = [[0.1, 0.1, 0.48, 0.48], [0.1, 0.1, 0.41, 0.41]]
    kw = dict(class_ids=[1])
    args = (gt, ["v", "v"], [902, 902], boxes, [[0.2], [0.9]], lm)
    assert evaluate_ava_from_predictions(*args, protocol="pyslowfast", **kw)["mAP"] == pytest.approx(0.5)
    assert evaluate_ava_from_predictions(*args, **kw)["mAP"] == pytest.approx(1.0)


def test_pyslowfast_keeps_every_detection_and_refuses_a_capacity(tmp_path):
    gt = write(tmp_path, "gt.csv", ["v,0902,0.100,0.100,0.500,0.500,1,0"])
    # 50 false positives above the one true positive: activitynet's top-50 cut drops the true one.
    rows = [f"v,0902,0.600,0.600,0.700,0.700,1,{0.9 - i * 0.001:.3f}" for i in range(50)]
    det = write(tmp_path, "det.csv", rows + ["v,0902,0.100,0.100,0.500,0.500,1,0.1"])
    lm = write(tmp_path, "l.pbtxt", ['item {', '  name: "a"', '  id: 1', '}'])
    assert evaluate_ava(gt, det, lm)["mAP"] == 0.0
    assert evaluate_ava(gt, det, lm, protocol="pyslowfast")["mAP"] == pytest.approx(1 / 51)
    with pytest.raises(ValueError, match="capacity 50 does not apply to the pyslowfast"):
        evaluate_ava(gt, det, lm, protocol="pyslowfast", capacity=50)
    with pytest.raises(ValueError, match="read them with capacity 0"):
        evaluate_ava(gt, read_csv(det, capacity=50), lm, protocol="pyslowfast")
    with pytest.raises(ValueError, match="unknown AVA evaluation protocol 'pascal'"):
        evaluate_ava(gt, det, lm, protocol="pascal")


def test_ground_truth_order_differs_between_the_protocols(tmp_path):
    """The first detection is equally close to boxes A (file line 1, person 1) and B (line 2, person 2);
    the second one is exactly B. PySlowFast keeps file order (A first: both match); the ActivityNet
    reader orders by descending person id (B first: the first detection takes B, the second misses)."""
    gt = write(tmp_path, "gt.csv", ["v,0902,0.125,0.25,0.5,0.75,1,1", "v,0902,0.25,0.25,0.625,0.75,1,2"])
    det = write(tmp_path, "det.csv", ["v,0902,0.1875,0.25,0.5625,0.75,1,0.9", "v,0902,0.25,0.25,0.625,0.75,1,0.8"])
    lm = write(tmp_path, "l.pbtxt", ['item {', '  name: "a"', '  id: 1', '}'])
    assert evaluate_ava(gt, det, lm, protocol="pyslowfast")["mAP"] == pytest.approx(1.0)
    assert evaluate_ava(gt, det, lm, protocol="activitynet")["mAP"] == pytest.approx(0.5)
    # ground truth read once in the official order still counts in file order under pyslowfast
    assert evaluate_ava(read_csv(gt), det, lm, protocol="pyslowfast")["mAP"] == pytest.approx(1.0)
