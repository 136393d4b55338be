"""Video decoding with PyAV: only the frames the clips need, each decoded once.

One call decodes every clip window of one video in a single forward pass
(seeking over long gaps), so the ten temporal clips of a test video cost one
decode of the frames they cover, not ten. Which frames end up in each window
follows PySlowFast's rules exactly (``docs/DATA_SAMPLING.md``):

* window ``k`` covers ``[start_pts, end_pts]`` in stream time-base units;
* frames with ``pts < start_pts`` are dropped, frames up to ``end_pts`` are
  kept, and so is the first frame after ``end_pts``, which ends the window;
* the kept frames are sorted by pts, and the clip's ``T`` frames are picked
  from them by ``sampling.clip_frame_indices``.

Only work that cannot change a clip is avoided: packets before every open
window are decoded with ``skip_frame = NONREF`` (a non-reference frame there
would be dropped, and no kept frame depends on it), and only the frames that
the clips pick are converted to RGB, through one libswscale context in the
calling thread (the values of ``frame.to_rgb()``).

Streams without a frame count or a duration (some webm, mkv, mpegts or raw
streams) are decoded whole and the same rules are applied to frame indices.
The tests check this path against the literal one-seek-per-clip procedure
(``tests/datasets/per_view_reference.py``).
"""

import random
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import av
import numpy as np
import torch
from av.video.reformatter import VideoReformatter
from iopath.common.file_io import g_pathmgr

from slowfast.datasets import sampling

# Seek this many time-base units before a window's start: seeking is imprecise (reference value).
SEEK_MARGIN = 1024
# Decode through a gap between two clip windows rather than seek over it when the gap is at most
# this many frames, as long as the keyframe interval is unknown.
MAX_DECODE_GAP_FRAMES = 64
# Frames that a seek is worth: once the keyframe interval is known, a gap longer than it plus
# this many frames is crossed with a seek.
SEEK_SLACK_FRAMES = 4

DecodeThreads = Union[None, str, int]

# Errors that PyAV and numpy raise on broken input; turned into DecodeError naming the file.
_DECODE_FAILURES = (av.FFmpegError, OSError, EOFError, ValueError, IndexError)


class DecodeError(RuntimeError):
    """A video could not be opened or did not yield the frames a clip needs; the message names the file."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class StreamInfo:
    """What the container says about its first video stream."""

    fps: float
    num_frames: int
    duration: Optional[int]
    time_base: Optional[Fraction]

    @property
    def has_timing(self) -> bool:
        """Frame count and duration are usable for selective (seek-based) decoding."""
        return self.num_frames > 0 and self.duration is not None and self.duration > 0


@dataclass
class DecodedClips:
    """Frames shared by several clips of one video.

    ``frames`` holds each needed frame once (uint8, ``U x H x W x 3``, RGB);
    clip ``k`` is ``frames[clip_index[k]]`` (``clip_index`` is ``K x T``).
    """

    frames: torch.Tensor
    clip_index: torch.Tensor
    fps: float
    num_decoded: int
    whole_video: bool

    def clip(self, k: int) -> torch.Tensor:
        """The ``T x H x W x 3`` uint8 frames of clip ``k`` (``frames`` itself when that is the clip, no copy)."""
        index = self.clip_index[k]
        if len(index) == len(self.frames) and torch.equal(index, torch.arange(len(index))):
            return self.frames
        return self.frames[index]


def parse_decode_threads(value: DecodeThreads) -> DecodeThreads:
    """Normalise DATA.DECODE_THREADS: None (PyAV's defaults), "auto", or a positive thread count."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "none", "default"):
            return None
        if text == "auto":
            return "auto"
        if text.isdigit():
            value = int(text)
        else:
            raise ValueError(f"DATA.DECODE_THREADS must be 'none', 'auto' or a number, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"DATA.DECODE_THREADS must be 'none', 'auto' or a number >= 1, got {value!r}")
    return value


def configure_threads(stream: "av.video.stream.VideoStream", threads: DecodeThreads) -> None:
    """Apply a DATA.DECODE_THREADS choice to a stream before decoding starts.

    None keeps PyAV's defaults (slice threading); "auto" turns on frame and slice
    threading with FFmpeg's thread count; an integer ``n`` uses ``n`` threads
    (``1`` decodes in the calling thread only, the best choice with many loader workers).
    """
    threads = parse_decode_threads(threads)
    if threads is None:
        return
    ctx = stream.codec_context
    if threads == "auto":
        ctx.thread_type = "AUTO"
        ctx.thread_count = 0
    elif threads == 1:
        ctx.thread_count = 1
    else:
        ctx.thread_type = "AUTO"
        ctx.thread_count = threads


def open_video(path: str, threads: DecodeThreads = None) -> "av.container.InputContainer":
    """Open ``path`` (any iopath URI) with PyAV; raises DecodeError naming the file on failure."""
    try:
        local = g_pathmgr.get_local_path(path)
    except Exception as exc:  # iopath handlers raise their own error types
        raise DecodeError(path, f"cannot fetch: {exc}") from exc
    try:
        container = av.open(local)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise DecodeError(path, f"cannot open: {exc}") from exc
    if not container.streams.video:
        container.close()
        raise DecodeError(path, "no video stream")
    try:
        configure_threads(container.streams.video[0], threads)
    except ValueError:
        container.close()
        raise
    return container


def stream_info(stream: "av.video.stream.VideoStream") -> StreamInfo:
    """Frame rate, frame count and duration of ``stream`` (0 / None where the container does not say)."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    return StreamInfo(
        fps=fps,
        num_frames=int(stream.frames or 0),
        duration=int(stream.duration) if stream.duration is not None else None,
        time_base=stream.time_base,
    )


def _frames_to_rgb(frames: Sequence["av.VideoFrame"]) -> np.ndarray:
    """``N x H x W x 3`` uint8 RGB of ``frames``: libswscale's conversion, the values of ``frame.to_rgb()``.

    One swscale context serves all the frames, in the calling thread: by default
    PyAV builds a context and a thread pool for every frame, which costs several
    times the conversion itself at Kinetics resolution.
    """
    reformatter = VideoReformatter()
    return np.stack([reformatter.reformat(f, format="rgb24", threads=1).to_ndarray() for f in frames])


class _Window:
    """Collects one window's frames the way the reference loop does."""

    __slots__ = ("start", "end", "frames", "done")

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end
        self.frames: Dict[int, "av.VideoFrame"] = {}
        self.done = False

    def offer(self, pts: int, frame: "av.VideoFrame") -> None:
        if self.done or pts < self.start:
            return
        self.frames[pts] = frame
        if pts > self.end:
            self.done = True

    def sorted_frames(self) -> List[Tuple[int, "av.VideoFrame"]]:
        return sorted(self.frames.items(), key=lambda item: item[0])


def _decode_frames(
    container: "av.container.InputContainer",
    stream: "av.video.stream.VideoStream",
    path: str,
    skip_below: Optional[Callable[[], Optional[int]]] = None,
) -> Iterator["av.VideoFrame"]:
    """The decoded frames of ``stream`` from the current position.

    With ``skip_below``, a packet whose pts is below the value it returns (checked
    before each packet) is decoded with ``skip_frame = NONREF``: the decoder drops
    it if no other frame refers to it. Every other frame comes out as without
    skipping, so the caller must only skip frames that it would drop anyway.
    """
    ctx = stream.codec_context
    skipping = False
    try:
        if skip_below is None:
            yield from container.decode(stream)
            return
        for packet in container.demux(stream):
            limit = skip_below()
            skip = limit is not None and packet.pts is not None and packet.pts < limit
            if skip != skipping:
                ctx.skip_frame = "NONREF" if skip else "DEFAULT"
                skipping = skip
            yield from packet.decode()
    except av.FFmpegError as exc:
        raise DecodeError(path, f"decoding failed: {exc}") from exc
    finally:
        if skipping:
            ctx.skip_frame = "DEFAULT"


def _seek(container: "av.container.InputContainer", stream: "av.video.stream.VideoStream", target: int,
          path: str) -> None:
    try:
        container.seek(target, any_frame=False, backward=True, stream=stream)
    except av.FFmpegError as exc:
        raise DecodeError(path, f"seek to pts {target} failed: {exc}") from exc


def _decode_pts_windows(
    container: "av.container.InputContainer",
    stream: "av.video.stream.VideoStream",
    windows: List[_Window],
    pts_per_frame: float,
    path: str,
) -> int:
    """Fill ``windows`` (any order) in one forward pass; returns the number of frames decoded.

    Decodes forward from the first window's seek point. Between windows it
    seeks instead of decoding through the gap when the gap is longer than the
    keyframe interval seen so far (plus SEEK_SLACK_FRAMES), or than
    MAX_DECODE_GAP_FRAMES before two keyframes have been seen. There is at most
    one seek per window, and none after a seek has landed at or before the frame
    already reached (keyframes too sparse for seeking to pay). Pts must increase
    in output order, as they do for any stream whose frames the reference itself
    orders correctly; then each window gets exactly the frames that a separate
    seek and decode would give it.
    """
    pending = sorted(windows, key=lambda w: (w.start, w.end))
    ppf = max(pts_per_frame, 1.0)
    num_decoded = 0
    gap_seeks = True
    seeked = set()
    resume_after: Optional[int] = None
    last_key: Optional[int] = None
    key_interval: Optional[int] = None
    target = max(pending[0].start - SEEK_MARGIN, 0)
    if target > 0:
        _seek(container, stream, target, path)
    def first_open_start() -> Optional[int]:
        # Frames before every open window are dropped: their non-reference ones need not be decoded.
        return min((w.start for w in pending if not w.done), default=None)

    while True:
        jump: Optional[_Window] = None
        last_pts = 0
        for frame in _decode_frames(container, stream, path, skip_below=first_open_start):
            num_decoded += 1
            pts = frame.pts
            if pts is None:
                raise DecodeError(path, "frame without a timestamp in a stream that has a duration")
            if resume_after is not None:
                if pts <= resume_after:
                    gap_seeks = False
                resume_after = None
                last_key = None
            if frame.key_frame:
                if last_key is not None and pts > last_key:
                    key_interval = max(key_interval or 0, pts - last_key)
                last_key = pts
            for w in pending:
                w.offer(pts, frame)
            nxt = next((w for w in pending if not w.done), None)
            if nxt is None:
                return num_decoded
            if gap_seeks and id(nxt) not in seeked:
                if key_interval is None:
                    worth = MAX_DECODE_GAP_FRAMES * ppf
                else:
                    worth = key_interval + SEEK_SLACK_FRAMES * ppf
                if nxt.start - SEEK_MARGIN - pts > worth:
                    jump, last_pts = nxt, pts
                    break
        if jump is None:
            # End of stream: the windows still open keep what they have, as with separate decodes.
            return num_decoded
        seeked.add(id(jump))
        resume_after = last_pts
        _seek(container, stream, jump.start - SEEK_MARGIN, path)


def _decode_whole(
    container: "av.container.InputContainer", stream: "av.video.stream.VideoStream", path: str
) -> List["av.VideoFrame"]:
    frames = list(_decode_frames(container, stream, path))
    # Order by pts where every frame has one, else keep decoder output order.
    if frames and all(f.pts is not None for f in frames):
        frames.sort(key=lambda f: f.pts)
    return frames


def _plan_starts(
    video_frames: float,
    window_length: float,
    clip_indices: Sequence[int],
    num_clips: int,
    rng: Optional[random.Random],
    use_offset: bool,
) -> List[float]:
    return [
        sampling.window_start(video_frames, window_length, k, num_clips, rng, use_offset=use_offset)
        for k in clip_indices
    ]


def decode_clips(
    path: str,
    *,
    num_frames: int,
    sampling_rate: int,
    target_fps: float,
    clip_indices: Sequence[int],
    num_clips: int = 1,
    threads: DecodeThreads = None,
    rng: Optional[random.Random] = None,
    use_offset: bool = False,
) -> DecodedClips:
    """Decode the clips ``clip_indices`` (each -1 for a random one, or ``k`` of ``num_clips``) of one video.

    ``use_offset`` is DATA.USE_OFFSET_SAMPLING (``sampling.window_start``).

    Each needed frame is decoded and converted to RGB once, however many clips
    share it. Raises DecodeError (naming the file) when the video cannot be
    opened or decoded, or when a clip window holds no frame.
    """
    container = open_video(path, threads)
    try:
        stream = container.streams.video[0]
        info = stream_info(stream)
        if info.fps <= 0:
            raise DecodeError(path, "the video stream has no frame rate")
        window_length = sampling.clip_window_length(num_frames, sampling_rate, info.fps, target_fps)
        span = sampling.clip_span(num_frames, sampling_rate, info.fps, target_fps)
        if info.has_timing:
            starts = _plan_starts(info.num_frames, window_length, clip_indices, num_clips, rng, use_offset)
            windows = [
                _Window(*sampling.window_to_pts(s, window_length, info.duration, info.num_frames)) for s in starts
            ]
            num_decoded = _decode_pts_windows(
                container, stream, windows, info.duration / info.num_frames, path
            )
            per_window = [[f for _, f in w.sorted_frames()] for w in windows]
            keys = [[pts for pts, _ in w.sorted_frames()] for w in windows]
            whole = False
        else:
            all_frames = _decode_whole(container, stream, path)
            num_decoded = len(all_frames)
            if not all_frames:
                raise DecodeError(path, "no frames decoded")
            starts = _plan_starts(len(all_frames), window_length, clip_indices, num_clips, rng, use_offset)
            per_window, keys = [], []
            for s in starts:
                lo, hi = sampling.window_to_pts(s, window_length, len(all_frames), len(all_frames))
                # Frames lo..hi plus the first one after hi, as in the timestamped case.
                idx = list(range(lo, min(hi + 2, len(all_frames))))
                per_window.append([all_frames[i] for i in idx])
                keys.append(idx)
            whole = True
        return _gather(path, per_window, keys, span, num_frames, info.fps, num_decoded, whole)
    except _DECODE_FAILURES as exc:
        raise DecodeError(path, f"{type(exc).__name__}: {exc}") from exc
    finally:
        container.close()


def _gather(
    path: str,
    per_window: List[List["av.VideoFrame"]],
    keys: List[List[int]],
    span: float,
    num_frames: int,
    fps: float,
    num_decoded: int,
    whole: bool,
) -> DecodedClips:
    """Pick each clip's frames and convert every distinct picked frame to RGB once."""
    slot: Dict[int, int] = {}
    picked: List["av.VideoFrame"] = []
    rows = []
    for k, (frames, ids) in enumerate(zip(per_window, keys)):
        if not frames:
            raise DecodeError(path, f"no frames in the window of clip {k} (video shorter than its header says?)")
        local = sampling.clip_frame_indices(len(frames), span, num_frames).tolist()
        row = []
        for i in local:
            key = ids[i]
            if key not in slot:
                slot[key] = len(picked)
                picked.append(frames[i])
            row.append(slot[key])
        rows.append(row)
    stacked = torch.from_numpy(_frames_to_rgb(picked))
    return DecodedClips(
        frames=stacked,
        clip_index=torch.tensor(rows, dtype=torch.long),
        fps=fps,
        num_decoded=num_decoded,
        whole_video=whole,
    )
