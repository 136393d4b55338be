"""Decoding on videos written by the tests: frame indices of every clip, fallbacks, broken files."""

import os
import random

import av
import pytest
import torch

from per_view_reference import decode_clip_reference
from video_testing import clip_indices, expected_window, pts_per_frame, write_video
from slowfast.datasets import decoder, sampling


def decode(path, T, tau, clips, K, **kw):
    return decoder.decode_clips(path, num_frames=T, sampling_rate=tau, target_fps=30, clip_indices=clips,
                                num_clips=K, **kw)


@pytest.mark.parametrize("fps,n", [(30, 40), (15, 50), (24, 30), (60, 90)])
@pytest.mark.parametrize("T,tau,K", [(8, 2, 3), (4, 4, 10), (8, 1, 1)])
def test_every_test_clip_takes_the_reference_frames(tmp_path, fps, n, T, tau, K):
    path = write_video(str(tmp_path / "v.mp4"), num_frames=n, fps=fps)
    ppf = pts_per_frame(path)
    decoded = decode(path, T, tau, range(K), K)
    assert decoded.clip_index.shape == (K, T) and not decoded.whole_video
    for k in range(K):
        assert clip_indices(decoded.clip(k)) == expected_window(n, fps, T, tau, k, K, ppf=ppf), k
        reference, _ = decode_clip_reference(path, num_frames=T, sampling_rate=tau, target_fps=30,
                                                     clip_idx=k, num_clips=K)
        assert torch.equal(decoded.clip(k), reference)


def test_reference_examples_of_the_spec(tmp_path):
    path = write_video(str(tmp_path / "v28.mp4"), num_frames=80, fps=28, gop=12)
    got = clip_indices(decode(path, 32, 2, [0], 10).clip(0))
    assert got[:4] == [0, 1, 3, 5] and got[-3:] == [54, 56, 58]
    path = write_video(str(tmp_path / "v30.mp4"), num_frames=90, fps=30)
    assert clip_indices(decode(path, 8, 8, [0], 10).clip(0)) == [0, 9, 18, 27, 36, 45, 54, 56]


def test_train_clip_starts_anywhere_and_matches_reference(tmp_path):
    n, fps, T, tau = 60, 30, 4, 2
    path = write_video(str(tmp_path / "v.mp4"), num_frames=n, fps=fps)
    window = sampling.clip_window_length(T, tau, fps, 30)
    firsts = set()
    for seed in range(25):
        got = decode(path, T, tau, [-1], 1, rng=random.Random(seed))
        ref, _ = decode_clip_reference(path, num_frames=T, sampling_rate=tau, target_fps=30, clip_idx=-1,
                                               num_clips=1, rng=random.Random(seed))
        assert torch.equal(got.clip(0), ref)
        idx = clip_indices(got.clip(0))
        assert idx == sorted(idx) and idx[-1] - idx[0] <= window
        firsts.add(idx[0])
    assert min(firsts) <= 10 and max(firsts) >= n - window - 10  # starts spread over the whole video


def test_decode_once_decodes_each_frame_once(tmp_path):
    path = write_video(str(tmp_path / "v.mp4"), num_frames=120, fps=30, gop=10)
    once = decode(path, 8, 4, range(10), 10)
    per_view = sum(
        decode_clip_reference(path, num_frames=8, sampling_rate=4, target_fps=30, clip_idx=k,
                                      num_clips=10)[1]
        for k in range(10)
    )
    assert once.num_decoded <= 120 and per_view > 2 * once.num_decoded
    assert once.frames.shape[0] == len(set(once.clip_index.flatten().tolist()))


def test_far_apart_windows_are_reached_by_seeking(tmp_path):
    path = write_video(str(tmp_path / "v.mp4"), num_frames=400, fps=30, gop=10)
    decoded = decode(path, 4, 1, range(2), 2)  # windows at 0 and ~198: a long gap between them
    assert decoded.num_decoded < 60
    for k in range(2):
        assert clip_indices(decoded.clip(k)) == expected_window(400, 30, 4, 1, k, 2, ppf=pts_per_frame(path))


def test_sparse_keyframes_do_not_loop(tmp_path):
    path = write_video(str(tmp_path / "v.mp4"), num_frames=300, fps=30, gop=300)
    decoded = decode(path, 4, 1, range(2), 2)
    assert decoded.num_decoded <= 300
    assert clip_indices(decoded.clip(1)) == expected_window(300, 30, 4, 1, 1, 2, ppf=pts_per_frame(path))


def test_variable_frame_rate_matches_reference(tmp_path):
    gaps = [20 if i % 3 else 70 for i in range(60)]
    pts = [sum(gaps[:i]) for i in range(60)]
    path = write_video(str(tmp_path / "vfr.mp4"), num_frames=60, fps=25, pts_ms=pts)
    decoded = decode(path, 8, 2, range(4), 4)
    for k in range(4):
        ref, _ = decode_clip_reference(path, num_frames=8, sampling_rate=2, target_fps=30, clip_idx=k,
                                               num_clips=4)
        assert torch.equal(decoded.clip(k), ref)
    assert clip_indices(decoded.clip(0))[0] == 0


def test_short_video_repeats_its_last_frame(tmp_path):
    path = write_video(str(tmp_path / "short.mp4"), num_frames=6, fps=30)
    decoded = decode(path, 8, 2, range(3), 3)
    for k in range(3):
        assert clip_indices(decoded.clip(k)) == [0, 2, 4, 5, 5, 5, 5, 5]  # linspace(0, 15, 8) clamped
    one = write_video(str(tmp_path / "one.mp4"), num_frames=1, fps=30)
    assert clip_indices(decode(one, 4, 2, [-1], 1).clip(0)) == [0, 0, 0, 0]


@pytest.mark.parametrize("name,fmt,codec", [("v.mkv", None, "h264"), ("v.webm", None, "vp8"),
                                            ("v.h264", "h264", "h264")])
def test_streams_without_duration_are_decoded_whole(tmp_path, name, fmt, codec):
    n = 45
    path = write_video(str(tmp_path / name), num_frames=n, fps=30, codec=codec, fmt=fmt)
    with av.open(path) as c:
        s = c.streams.video[0]
        assert s.duration is None or s.frames == 0
        fps = float(s.average_rate)  # a raw h264 stream says 25
    decoded = decode(path, 8, 2, range(3), 3)
    assert decoded.whole_video and decoded.num_decoded == n
    for k in range(3):
        # The same rules on frame indices: expected_window with one "pts" per frame.
        assert clip_indices(decoded.clip(k)) == expected_window(n, fps, 8, 2, k, 3, ppf=1), k
        ref, _ = decode_clip_reference(path, num_frames=8, sampling_rate=2, target_fps=30, clip_idx=k,
                                               num_clips=3)
        assert torch.equal(decoded.clip(k), ref)


@pytest.mark.parametrize("threads", [None, "none", "auto", 1, 2, "2"])
def test_decode_threads_give_the_same_frames(tmp_path, threads):
    path = write_video(str(tmp_path / "v.mp4"), num_frames=40, fps=30)
    base = decode(path, 8, 2, range(3), 3)
    other = decode(path, 8, 2, range(3), 3, threads=threads)
    assert torch.equal(base.frames, other.frames) and torch.equal(base.clip_index, other.clip_index)


def test_bad_decode_threads_value():
    for bad in ["many", 0, -1, 1.5]:
        with pytest.raises(ValueError, match="DECODE_THREADS"):
            decoder.parse_decode_threads(bad)


def _broken_files(tmp_path):
    good = write_video(str(tmp_path / "good.mp4"), num_frames=40, fps=30)
    data = open(good, "rb").read()
    files = {"missing": str(tmp_path / "missing.mp4")}
    files["empty"] = str(tmp_path / "empty.mp4")
    open(files["empty"], "wb").close()
    files["truncated"] = str(tmp_path / "truncated.mp4")
    open(files["truncated"], "wb").write(data[: len(data) // 2])
    files["garbage"] = str(tmp_path / "garbage.mp4")
    open(files["garbage"], "wb").write(os.urandom(5000))
    return files


def test_broken_files_raise_decode_error_naming_the_file(tmp_path):
    for kind, path in _broken_files(tmp_path).items():
        with pytest.raises(decoder.DecodeError) as info:
            decode(path, 8, 2, range(3), 3)
        assert path in str(info.value), kind


def test_truncated_video_fails_only_when_a_clip_needs_the_missing_part(tmp_path):
    path = write_video(str(tmp_path / "v.mp4"), num_frames=300, fps=30, gop=10, faststart=True)
    data = open(path, "rb").read()
    cut = str(tmp_path / "cut.mp4")
    open(cut, "wb").write(data[: len(data) // 2])  # the header still announces 300 frames
    with pytest.raises(decoder.DecodeError) as info:
        decode(cut, 4, 1, range(10), 10)
    assert cut in str(info.value)
    early = decode(cut, 4, 1, range(2), 10)  # the first two of ten clips lie in the part that is left
    assert clip_indices(early.clip(1)) == expected_window(300, 30, 4, 1, 1, 10, ppf=pts_per_frame(path))


@pytest.mark.parametrize("K", [1, 3, 5])
def test_offset_sampling_windows_match_the_reference(tmp_path, K):
    n, fps, T, tau = 70, 30, 8, 2
    path = write_video(str(tmp_path / "v.mp4"), num_frames=n, fps=fps)
    decoded = decode(path, T, tau, range(K), K, use_offset=True)
    for k in range(K):
        expected = expected_window(n, fps, T, tau, k, K, ppf=pts_per_frame(path), use_offset=True)
        assert clip_indices(decoded.clip(k)) == expected, k
        ref, _ = decode_clip_reference(path, num_frames=T, sampling_rate=tau, target_fps=30, clip_idx=k,
                                       num_clips=K, use_offset=True)
        assert torch.equal(decoded.clip(k), ref)
    if K > 1:  # window 14 frames, delta 56: the last window ends at the last frame
        assert clip_indices(decoded.clip(K - 1))[-1] == n - 1
    else:
        assert clip_indices(decoded.clip(0))[0] == 28


def test_non_reference_frames_before_the_window_are_skipped_without_changing_the_clip(tmp_path):
    # One keyframe: every window is reached by decoding from frame 0; B-frames before it need not be decoded.
    path = write_video(str(tmp_path / "v.mp4"), num_frames=150, fps=30, gop=300)
    fewer = 0
    for seed in range(8):
        got = decode(path, 8, 2, [-1], 1, rng=random.Random(seed))
        ref, ref_decoded = decode_clip_reference(path, num_frames=8, sampling_rate=2, target_fps=30, clip_idx=-1,
                                                 num_clips=1, rng=random.Random(seed))
        assert torch.equal(got.clip(0), ref)
        fewer += got.num_decoded < ref_decoded
    assert fewer >= 6  # windows that start after a few B-frames


def test_rgb_conversion_equals_pyav_to_rgb(tmp_path):
    path = write_video(str(tmp_path / "v.mp4"), num_frames=12, fps=30, width=70, height=46)
    with av.open(path) as c:
        frames = list(c.decode(video=0))
    want = [f.to_rgb().to_ndarray() for f in frames]
    got = decoder._frames_to_rgb(frames)
    assert got.shape == (12, 46, 70, 3) and all((g == w).all() for g, w in zip(got, want))
