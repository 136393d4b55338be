"""The recognition demo on a real H.264 clip with non-square pixels: every frame written, labels drawn."""

import json

import numpy as np
import pytest

from slowfast.datasets.decoder import DecodeError
from slowfast.visualization.demo import demo, run_recognition_demo, sliding_windows
from vis_testing import SLOWFAST_CFG, decode_all, demo_cfg, save_random_checkpoint, write_sar_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_sar_clip(str(tmp_path_factory.mktemp("clip") / "in.mp4"))


def _opts(tmp_path, clip, **extra):
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"left": 0, "right": 1, "up": 2, "down": 3}))
    opts = {
        "DEMO.ENABLE": True, "TRAIN.ENABLE": False, "TEST.ENABLE": False, "DEMO.INPUT_VIDEO": clip,
        "DEMO.OUTPUT_FILE": str(tmp_path / "out.mp4"), "DEMO.LABEL_FILE_PATH": str(labels),
        "OUTPUT_DIR": str(tmp_path), "LOG_MODEL_INFO": False, "DEMO.VIS_MODE": "top-k",
        "TENSORBOARD.MODEL_VIS.TOPK_PREDS": 2,
    }
    opts.update(extra)
    return [str(x) for kv in opts.items() for x in kv]


def test_sliding_windows_cover_every_frame_once():
    frames = [np.full((2, 2, 3), i, np.uint8) for i in range(37)]
    tasks = list(sliding_windows(frames, 16, 4))
    written = [int(f[0, 0, 0]) for t in tasks for f in t.new_frames]
    assert written == list(range(37))
    assert [len(t.frames) for t in tasks] == [16, 16, 13]
    assert [t.num_buffer for t in tasks] == [0, 4, 4]


@pytest.mark.parametrize("threaded", [False, True])
def test_classifier_demo_writes_every_frame_with_labels(tmp_path, clip, threaded):
    cfg = demo_cfg(SLOWFAST_CFG, _opts(tmp_path, clip))
    ckpt = save_random_checkpoint(cfg, str(tmp_path / "job"))
    cfg = demo_cfg(SLOWFAST_CFG, _opts(tmp_path, clip, **{
        "TEST.CHECKPOINT_FILE_PATH": ckpt, "DEMO.THREAD_ENABLE": threaded, "DEMO.BUFFER_SIZE": 4,
        "DEMO.NUM_CLIPS_SKIP": 1 if threaded else 0,
    }))
    demo(cfg)
    src, src_aspect = decode_all(clip)
    out, out_aspect = decode_all(cfg.DEMO.OUTPUT_FILE)
    assert len(src) == 280
    assert len(out) >= 0.9 * len(src)
    assert len(out) == len(src)
    assert out[0].shape == src[0].shape
    assert out_aspect == pytest.approx(src_aspect, rel=1e-3) and src_aspect == pytest.approx(340 * 64 / (256 * 51))
    # The two label lines are drawn in the top-left corner; the bottom right is untouched.
    for i in (0, 140, 279):
        a, b = src[i].astype(int), out[i].astype(int)
        assert np.abs(a[:20, :60] - b[:20, :60]).mean() > 20
        assert np.abs(a[-40:, -40:] - b[-40:, -40:]).mean() < 4


def test_unreadable_video_is_a_named_error(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    cfg = demo_cfg(SLOWFAST_CFG, _opts(tmp_path, str(bad)))
    with pytest.raises(DecodeError, match="broken.mp4"):
        run_recognition_demo(cfg, predictor=lambda task: task)


def test_window_without_display_fails_clearly(tmp_path, clip, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    cfg = demo_cfg(SLOWFAST_CFG, _opts(tmp_path, clip, **{"DEMO.OUTPUT_FILE": ""}))
    with pytest.raises(RuntimeError, match="DEMO.OUTPUT_FILE"):
        run_recognition_demo(cfg, predictor=lambda task: task)


def test_buffer_larger_than_half_a_window_is_refused(tmp_path, clip):
    cfg = demo_cfg(SLOWFAST_CFG, _opts(tmp_path, clip, **{"DEMO.BUFFER_SIZE": 9}))
    with pytest.raises(ValueError, match="DEMO.BUFFER_SIZE"):
        run_recognition_demo(cfg, predictor=lambda task: task)


def test_threaded_demo_reraises_a_prediction_error_without_hanging(tmp_path, clip):
    cfg = demo_cfg(SLOWFAST_CFG, _opts(tmp_path, clip, **{"DEMO.THREAD_ENABLE": True}))

    def failing(task):
        if task.id == 3:
            raise RuntimeError("model broke on window 3")
        task.preds = __import__("torch").ones(4) / 4
        return task

    with pytest.raises(RuntimeError, match="window 3"):
        run_recognition_demo(cfg, predictor=failing)
