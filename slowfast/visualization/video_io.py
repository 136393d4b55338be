"""Frame sources and sinks of the demo: PyAV for files (decode and H.264 encode), OpenCV for webcams and windows."""

import os
from fractions import Fraction
from typing import Iterator

import av
import numpy as np

from slowfast.datasets.decoder import DecodeError, open_video, stream_info


class VideoSource:
    """RGB uint8 ``H x W x 3`` frames of a video file (PyAV) or of a webcam (OpenCV), in display order.

    ``fps``, ``width``, ``height`` and ``sample_aspect_ratio`` describe the frames; an
    unreadable file raises DecodeError naming it.
    """

    def __init__(self, path: str = "", webcam: int = -1, *, fallback_fps: float = 30.0,
                 capture_width: int = 0, capture_height: int = 0) -> None:
        self.path = path
        self._container = None
        self._cap = None
        if webcam > -1:
            import cv2

            self._cap = cv2.VideoCapture(webcam)
            if not self._cap.isOpened():
                raise IOError(f"DEMO.WEBCAM {webcam}: the camera cannot be opened")
            if capture_width > 0 and capture_height > 0:
                self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, capture_width)
                self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, capture_height)
            self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
            self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            self.fps = float(self._cap.get(cv2.CAP_PROP_FPS) or fallback_fps)
            self.sample_aspect_ratio = Fraction(1, 1)
            self.num_frames = 0
            self.name = f"webcam{webcam}"
            return
        if not path:
            raise ValueError("The demo needs a source: set DEMO.INPUT_VIDEO (a video file) or DEMO.WEBCAM (a camera id)")
        if os.path.isdir(path):
            raise DecodeError(path, "is a folder; DEMO.INPUT_VIDEO must be a video file")
        self._container = open_video(path)
        stream = self._container.streams.video[0]
        info = stream_info(stream)
        self.fps = info.fps or fallback_fps
        self.width = stream.codec_context.width
        self.height = stream.codec_context.height
        sar = stream.codec_context.sample_aspect_ratio or stream.sample_aspect_ratio
        self.sample_aspect_ratio = Fraction(sar) if sar else Fraction(1, 1)
        self.num_frames = info.num_frames
        self.name = os.path.splitext(os.path.basename(path))[0]
        if self.width <= 0 or self.height <= 0:
            self.close()
            raise DecodeError(path, "the video stream has no frame size")

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._cap is not None:
            import cv2

            while True:
                ok, frame = self._cap.read()
                if not ok:
                    return
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        count = 0
        try:
            for frame in self._container.decode(video=0):
                count += 1
                yield frame.to_ndarray(format="rgb24")
        except (av.FFmpegError, OSError, EOFError, ValueError) as exc:
            raise DecodeError(self.path, f"decoding failed after {count} frames: {exc}") from exc
        if count == 0:
            raise DecodeError(self.path, "no frame could be decoded")

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def check_display() -> None:
    """Raise a RuntimeError saying what to do when no window can be opened."""
    import cv2

    if os.name != "nt" and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise RuntimeError("No display to show the demo on (DISPLAY is not set): set DEMO.OUTPUT_FILE to write a video")
    try:
        cv2.namedWindow("SlowFast", cv2.WINDOW_NORMAL)
    except cv2.error as exc:
        raise RuntimeError(
            "OpenCV cannot open a window (opencv-python-headless?): set DEMO.OUTPUT_FILE to write a video, "
            f"or install opencv-python ({exc})"
        ) from exc


class VideoSink:
    """Writes RGB frames to an H.264 mp4 with PyAV (same size and sample aspect ratio), or shows them in a window."""

    def __init__(self, path: str, *, width: int, height: int, fps: float,
                 sample_aspect_ratio: Fraction = Fraction(1, 1), display_width: int = 0, display_height: int = 0) -> None:
        self.path = path
        self.fps = fps
        self.num_written = 0
        self._container = None
        if not path:
            check_display()
            import cv2

            if display_width > 0 and display_height > 0:
                cv2.resizeWindow("SlowFast", display_width, display_height)
            return
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        self._container = av.open(path, "w")
        rate = Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream("h264", rate=rate)
        # H.264 with 4:2:0 chroma needs even sizes: frames are padded by one pixel where needed.
        self._stream.width, self._stream.height = width + width % 2, height + height % 2
        self._stream.pix_fmt = "yuv420p"
        self._stream.codec_context.sample_aspect_ratio = sample_aspect_ratio
        self._stream.options = {"crf": "20", "preset": "veryfast"}

    def write(self, frame: np.ndarray) -> None:
        """Write (or show) one RGB ``H x W x 3`` uint8 frame."""
        if self._container is None:
            import cv2

            cv2.imshow("SlowFast", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            cv2.waitKey(max(1, int(1000 / max(self.fps, 1))))
        else:
            h, w = self._stream.height, self._stream.width
            if frame.shape[0] != h or frame.shape[1] != w:
                frame = np.pad(frame, ((0, h - frame.shape[0]), (0, w - frame.shape[1]), (0, 0)), mode="edge")
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            for packet in self._stream.encode(video_frame):
                self._container.mux(packet)
        self.num_written += 1

    def close(self) -> None:
        if self._container is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
            self._container = None
        elif not self.path:
            import cv2

            cv2.destroyAllWindows()
