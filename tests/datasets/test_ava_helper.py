"""AVA file readers: frame lists, annotation CSVs, keyframe arithmetic and bad-input handling."""

import logging

import pytest

from slowfast.config import get_cfg
from slowfast.datasets import ava_helper
from slowfast.datasets.kinetics import DatasetFormatError

HEADER = "original_vido_id video_id frame_id path labels\n"


def write(path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def frame_list(videos) -> str:
    lines = [HEADER]
    for v, (name, n) in enumerate(videos):
        lines += [f'{name} {v} {f} {name}/{name}_{f + 1:06d}.jpg ""\n' for f in range(n)]
    return "".join(lines)


def read(path, *, is_gt=True, num_classes=80, thresh=0.8, keep=lambda s: True):
    out = ava_helper.Annotations(boxes={}, first_row={}, issues=ava_helper.AnnotationIssues())
    ava_helper.read_box_csv(str(path), is_gt=is_gt, num_classes=num_classes, score_thresh=thresh, keep_sec=keep, out=out)
    return out


def test_constants_and_keyframe_arithmetic():
    assert ava_helper.FPS == 30 and ava_helper.AVA_START_SEC == 900
    assert ava_helper.AVA_VALID_FRAMES[0] == 902 and ava_helper.AVA_VALID_FRAMES[-1] == 1798
    assert ava_helper.sec_to_frame(902) == 60
    assert ava_helper.sec_to_frame(1798) == 26940


def test_clip_indices_are_centred_and_clamped():
    assert ava_helper.clip_frame_indices(60, 8, 3, 1000) == [48, 51, 54, 57, 60, 63, 66, 69]
    assert ava_helper.clip_frame_indices(60, 32, 2, 1000)[16] == 60
    assert ava_helper.clip_frame_indices(2, 4, 2, 1000) == [0, 0, 2, 4]
    assert ava_helper.clip_frame_indices(9, 4, 2, 10) == [5, 7, 9, 9]
    # PySlowFast's range() drops a frame when the span is odd; the clip always has T frames here.
    assert ava_helper.clip_frame_indices(60, 3, 1, 1000) == [59, 60, 61]
    assert ava_helper.clip_frame_indices(60, 1, 1, 1000) == [60]


def test_read_frame_lists(tmp_path):
    a = write(tmp_path / "train.csv", frame_list([("vidA", 5), ("vidB", 3)]))
    b = write(tmp_path / "more.csv", frame_list([("vidC", 2)]))
    paths, names = ava_helper.read_frame_lists([a, b])
    assert names == ["vidA", "vidB", "vidC"]
    assert [len(p) for p in paths] == [5, 3, 2]
    assert paths[1][2].decode() == "vidB/vidB_000003.jpg"


def test_frame_list_wrong_column_count_names_file_and_line(tmp_path):
    text = frame_list([("vidA", 3)]).replace('vidA 0 1 vidA/vidA_000002.jpg ""', "vidA 0 1 vidA/vidA_000002.jpg")
    path = write(tmp_path / "train.csv", text)
    with pytest.raises(DatasetFormatError, match=r"train\.csv:3: expected 5"):
        ava_helper.read_frame_lists([path])


def test_frame_list_gap_is_an_error(tmp_path):
    lines = frame_list([("vidA", 4)]).splitlines(keepends=True)
    path = write(tmp_path / "train.csv", "".join(lines[:2] + lines[3:]))
    with pytest.raises(DatasetFormatError, match=r"train\.csv:3: video vidA lists frame_idx 2 where 1"):
        ava_helper.read_frame_lists([path])


def test_missing_frame_list_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        ava_helper.read_frame_lists([str(tmp_path / "nope.csv")])


def test_ground_truth_rows_merge_into_multi_label_boxes(tmp_path):
    path = write(
        tmp_path / "gt.csv",
        "vidA,0902,0.1,0.2,0.5,0.9,12,0\n"
        "vidA,0902,0.1,0.2,0.5,0.9,80,0\n"
        "vidA,0902,0.6,0.2,0.9,0.9,17,1\n"
        "vidA,903,0.1,0.2,0.5,0.9,12\n"
        "vidA,0901,0.1,0.2,0.5,0.9,12,0\n"
        "vidB,1798,0.1,0.2,0.5,0.9,1,0\n",
    )
    out = read(path)
    assert out.boxes["vidA"][902] == {
        "0.1,0.2,0.5,0.9": ([0.1, 0.2, 0.5, 0.9], [12, 80]),
        "0.6,0.2,0.9,0.9": ([0.6, 0.2, 0.9, 0.9], [17]),
    }
    assert list(out.boxes["vidA"][903].values()) == [([0.1, 0.2, 0.5, 0.9], [12])]
    assert 901 not in out.boxes["vidA"] and out.issues.outside_valid_seconds == 1
    assert out.first_row == {"vidA": f"{path}:1", "vidB": f"{path}:6"}
    assert out.num_boxes == 4 and out.num_labels == 5


def test_detected_boxes_threshold_and_empty_action(tmp_path):
    path = write(
        tmp_path / "det.csv",
        "vidA,0902,0.1,0.2,0.5,0.9,,0.95\n"
        "vidA,0902,0.6,0.2,0.9,0.9,,0.5\n"
        "vidA,0902,0.1,0.2,0.5,0.9,3,0.95\n",
    )
    out = read(path, is_gt=False, thresh=0.8)
    assert list(out.boxes["vidA"][902].values()) == [([0.1, 0.2, 0.5, 0.9], [-1, 3])]
    assert out.issues.below_threshold == 1


def test_detected_box_list_needs_a_score(tmp_path):
    path = write(tmp_path / "det.csv", "vidA,0902,0.1,0.2,0.5,0.9,\n")
    with pytest.raises(DatasetFormatError, match=r"det\.csv:1: expected 8 columns"):
        read(path, is_gt=False)


def test_ground_truth_used_as_detections_warns_about_person_ids(tmp_path, caplog):
    path = write(tmp_path / "gt.csv", "vidA,0902,0.1,0.2,0.5,0.9,3,0\nvidA,0902,0.6,0.2,0.9,0.9,3,2\n")
    with caplog.at_level(logging.WARNING):
        out = read(path, is_gt=False, thresh=0.8)
    assert out.num_boxes == 1 and out.issues.below_threshold == 1
    assert "score above 1" in caplog.text and "gt.csv" in caplog.text


@pytest.mark.parametrize(
    "row, message",
    [
        ("vidA,0902,0.1,0.2,0.5,0.9", r"gt\.csv:2: expected 7 or 8 columns"),
        ("vidA,0902,0.1,0.2,0.5,0.9,1,0,9", r"gt\.csv:2: expected 7 or 8 columns"),
        ("vidA,09x2,0.1,0.2,0.5,0.9,1,0", r"gt\.csv:2: timestamp '09x2'"),
        ("vidA,0902,0.1,zero,0.5,0.9,1,0", r"gt\.csv:2: box coordinates must be numbers"),
        ("vidA,0902,0.1,0.2,0.5,0.9,81,0", r"gt\.csv:2: action id 81 is outside 1..80"),
        ("vidA,0902,0.1,0.2,0.5,0.9,0,0", r"gt\.csv:2: action id 0"),
        ("vidA,0902,12,20,50,90,1,0", r"gt\.csv:2: box .* outside \[0, 1\].*pixel coordinates"),
        ("vidA,0902,0.1,0.2,1.2,0.9,1,0", r"gt\.csv:2: box .* outside \[0, 1\]"),
        ("vidA,0902,nan,0.2,0.5,0.9,1,0", r"gt\.csv:2: box coordinates must be finite"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, row, message):
    path = write(tmp_path / "gt.csv", f"vidA,0902,0.1,0.2,0.5,0.9,1,0\n{row}\n")
    with pytest.raises(DatasetFormatError, match=message):
        read(path)


def test_small_excursions_are_clipped_and_degenerate_boxes_skipped_with_counted_warnings(tmp_path, caplog):
    path = write(
        tmp_path / "gt.csv",
        "vidA,0902,-0.004,0.2,0.5,1.003,1,0\n"
        "vidA,0902,0.5,0.2,0.5,0.9,2,1\n"
        "vidA,0903,0.3,0.9,0.6,0.9,2,1\n",
    )
    with caplog.at_level(logging.WARNING):
        out = read(path)
        out.issues.log()
    assert list(out.boxes["vidA"][902].values()) == [([0.0, 0.2, 0.5, 1.0], [1])]
    assert out.issues.clipped_boxes == 1 and out.issues.degenerate_boxes == 2
    assert f"1 boxes lay slightly outside [0, 1]" in caplog.text and f"{path}:1" in caplog.text
    assert "2 boxes with zero width or height were skipped" in caplog.text and f"{path}:3" in caplog.text


def cfg_for(tmp_path, **ava):
    cfg = get_cfg()
    cfg.AVA.ANNOTATION_DIR = str(tmp_path)
    cfg.AVA.TRAIN_GT_BOX_LISTS = ["gt.csv"]
    cfg.AVA.TRAIN_PREDICT_BOX_LISTS = ["det.csv"]
    cfg.AVA.TEST_PREDICT_BOX_LISTS = ["det.csv"]
    for key, value in ava.items():
        cfg.AVA[key] = value
    return cfg


def test_splits_read_their_lists_and_val_keeps_every_fourth_second(tmp_path):
    write(tmp_path / "gt.csv", "vidA,0902,0.1,0.2,0.5,0.9,1,0\n")
    write(tmp_path / "det.csv", "".join(f"vidA,{s:04d},0.6,0.2,0.9,0.9,,0.9\n" for s in range(902, 910)))
    train = ava_helper.load_boxes_and_labels(cfg_for(tmp_path), "train")
    assert sorted(train.boxes["vidA"]) == list(range(902, 910))
    assert len(train.boxes["vidA"][902]) == 2
    val = ava_helper.load_boxes_and_labels(cfg_for(tmp_path), "val")
    assert sorted(val.boxes["vidA"]) == [904, 908]
    assert val.issues.not_sampled == 6
    full = ava_helper.load_boxes_and_labels(cfg_for(tmp_path, FULL_TEST_ON_VAL=True), "val")
    assert sorted(full.boxes["vidA"]) == list(range(902, 910))
    test = ava_helper.load_boxes_and_labels(cfg_for(tmp_path), "test")
    assert sorted(test.boxes["vidA"]) == list(range(902, 910)) and len(test.boxes["vidA"][902]) == 1


def test_keyframe_data_lists_seconds_in_order():
    per_video = [{903: [([0, 0, 1, 1], [1])], 902: [([0, 0, 1, 1], [2]), ([0, 0, 0.5, 0.5], [3])]}, {}, {1000: []}]
    keyframes, boxes = ava_helper.get_keyframe_data(per_video)
    assert keyframes == [(0, 0, 902, 60), (0, 1, 903, 90)]
    assert boxes[0][0][1] == ([0, 0, 0.5, 0.5], [3]) and boxes[1] == [] and boxes[2] == []
    assert ava_helper.get_num_boxes_used(keyframes, boxes) == 3


@pytest.mark.parametrize(
    "row",
    ["vidA,09x2,0.1,0.2,0.5,0.9,1,0.9", "vidA,0902,0.1,zero,0.5,0.9,1,0.9", "vidA,0902,0.1,0.2,0.5,0.9,one,0.9",
     "vidA,0902,0.1,0.2,0.5,0.9,1,high"],
)
def test_dataset_and_evaluator_read_rows_with_one_grammar(tmp_path, row):
    """The AVA dataset and the evaluator parse box CSVs with the same row parser (ava_io.parse_row)."""
    from slowfast.evaluation.ava_io import _parse_csv_slow

    path = write(tmp_path / "det.csv", f"vidA,0902,0.1,0.2,0.5,0.9,1,0.9\n{row}\n")
    with pytest.raises(DatasetFormatError) as dataset_error:
        read(path, is_gt=False)
    with pytest.raises(ValueError) as eval_error:
        _parse_csv_slow(path)
    assert str(dataset_error.value) == str(eval_error.value) and f"{path}:2" in str(dataset_error.value)
