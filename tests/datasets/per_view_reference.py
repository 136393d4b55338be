"""The literal reference test pipeline, the yardstick for the fast one in slowfast.datasets.

``decode_clip_reference`` opens the video, seeks once and decodes one clip
window, converting every frame of it, as PySlowFast does per view.
``PerViewKinetics`` cuts the test views of an item one at a time with it.
Both are slow on purpose: tests and ``benchmarks/data_speed.py`` check that
``decoder.decode_clips`` and ``Kinetics.load_test_views`` give the same
tensors bit for bit, and measure the decoding they save.
"""

import random
from typing import Dict, Optional, Tuple

import numpy as np
import torch

from slowfast.datasets import Kinetics, decoder, sampling, transform
from slowfast.datasets.utils import tensor_normalize


def decode_clip_reference(
    path: str,
    *,
    num_frames: int,
    sampling_rate: int,
    target_fps: float,
    clip_idx: int,
    num_clips: int,
    threads: decoder.DecodeThreads = None,
    rng: Optional[random.Random] = None,
    use_offset: bool = False,
) -> Tuple[torch.Tensor, int]:
    """One clip by the reference procedure: the ``T x H x W x 3`` uint8 clip and the number of frames decoded."""
    container = decoder.open_video(path, threads)
    try:
        stream = container.streams.video[0]
        info = decoder.stream_info(stream)
        if info.fps <= 0:
            raise decoder.DecodeError(path, "the video stream has no frame rate")
        window_length = sampling.clip_window_length(num_frames, sampling_rate, info.fps, target_fps)
        span = sampling.clip_span(num_frames, sampling_rate, info.fps, target_fps)
        num_decoded = 0
        if info.has_timing:
            start = sampling.window_start(info.num_frames, window_length, clip_idx, num_clips, rng,
                                          use_offset=use_offset)
            start_pts, end_pts = sampling.window_to_pts(start, window_length, info.duration, info.num_frames)
            container.seek(max(start_pts - decoder.SEEK_MARGIN, 0), any_frame=False, backward=True, stream=stream)
            kept: Dict[int, object] = {}
            for frame in container.decode(stream):
                num_decoded += 1
                if frame.pts < start_pts:
                    continue
                kept[frame.pts] = frame
                if frame.pts > end_pts:
                    break
            window = [kept[p] for p in sorted(kept)]
        else:
            frames = list(container.decode(stream))
            if frames and all(f.pts is not None for f in frames):
                frames.sort(key=lambda f: f.pts)
            num_decoded = len(frames)
            start = sampling.window_start(len(frames), window_length, clip_idx, num_clips, rng, use_offset=use_offset)
            lo, hi = sampling.window_to_pts(start, window_length, len(frames), len(frames))
            window = frames[lo : hi + 2]
        if not window:
            raise decoder.DecodeError(path, "no frames in the clip window")
        rgb = torch.as_tensor(np.stack([f.to_rgb().to_ndarray() for f in window]))
        index = sampling.clip_frame_indices(rgb.shape[0], span, num_frames)
        return torch.index_select(rgb, 0, index), num_decoded
    finally:
        container.close()


class PerViewKinetics(Kinetics):
    """Kinetics whose test items are cut view by view, each decoded and transformed on its own."""

    def load_test_views(self, index: int) -> Tuple[torch.Tensor, int]:
        data = self.cfg.DATA
        views, total = [], 0
        for v in range(self.num_views):
            k, s = divmod(v, self._num_crops)
            clip, decoded = decode_clip_reference(
                self.video_path(index),
                num_frames=data.NUM_FRAMES,
                sampling_rate=data.SAMPLING_RATE,
                target_fps=data.TARGET_FPS,
                clip_idx=k,
                num_clips=self._num_clips,
                threads=self._threads,
                use_offset=data.USE_OFFSET_SAMPLING,
            )
            total += decoded
            frames = tensor_normalize(clip, data.MEAN, data.STD).permute(3, 0, 1, 2)
            frames, _ = transform.spatial_sampling(
                frames,
                spatial_idx=self.spatial_indices[s],
                min_scale=self.test_scale,
                max_scale=self.test_scale,
                crop_size=data.TEST_CROP_SIZE,
            )
            views.append(frames)
        return torch.stack(views), total
