"""The demo (DEMO.ENABLE): a model's predictions drawn on every frame of a video file or a webcam stream.

The video is cut into sliding windows of ``DATA.NUM_FRAMES * DATA.SAMPLING_RATE`` frames; each
window repeats the last ``DEMO.BUFFER_SIZE`` frames of the previous one, so a prediction sees
some context, and its new frames are drawn with that window's prediction. Every
``DEMO.NUM_CLIPS_SKIP + 1``-th window is predicted; the windows in between are drawn with the
latest prediction. Every input frame is written exactly once, in order (the last, shorter window
is predicted too). With ``DEMO.THREAD_ENABLE`` a reader thread decodes, the calling thread
predicts and a writer thread draws and writes; the queues between them block instead of dropping.

Detection models (``DETECTION.ENABLE``) draw per-person boxes and action labels: with
``DEMO.PREDS_BOXES`` see ``slowfast.visualization.ava_demo``; without, persons are detected on the
middle frame of each window by torchvision's Faster R-CNN.
"""

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Iterator, List, Optional

import numpy as np
import torch
from fvcore.common.config import CfgNode

import slowfast.checkpoint as cu
from slowfast.engine.placement import model_device, prepare_model
from slowfast.engine.setup import seed_everything
from slowfast.models import build_model
from slowfast.utils.logging import get_logger, setup_logging
from slowfast.visualization.utils import Colormap, LabelPicker, class_names_or_ids, clip_to_inputs, draw_box, draw_text_lines
from slowfast.visualization.video_io import VideoSink, VideoSource

logger = get_logger(__name__)

_DEFAULT_DETECTRON2_CFG = "COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml"


@dataclass
class Task:
    """One sliding window: its frames (the first ``num_buffer`` repeat the previous window's) and prediction."""

    id: int
    frames: List[np.ndarray]
    num_buffer: int
    preds: Optional[torch.Tensor] = None
    boxes: Optional[np.ndarray] = None  # N x 4 pixel boxes of detection demos

    @property
    def new_frames(self) -> List[np.ndarray]:
        return self.frames[self.num_buffer :]


def check_demo_cfg(cfg: CfgNode) -> None:
    """Refuse demo settings this implementation cannot honour, naming the key."""
    seq_len = cfg.DATA.NUM_FRAMES * cfg.DATA.SAMPLING_RATE
    if not 0 <= cfg.DEMO.BUFFER_SIZE <= seq_len // 2:
        raise ValueError(
            f"DEMO.BUFFER_SIZE ({cfg.DEMO.BUFFER_SIZE}) must be in [0, {seq_len // 2}] "
            f"(half of DATA.NUM_FRAMES x DATA.SAMPLING_RATE = {seq_len})"
        )
    if cfg.DEMO.NUM_CLIPS_SKIP < 0:
        raise ValueError(f"DEMO.NUM_CLIPS_SKIP must be >= 0, got {cfg.DEMO.NUM_CLIPS_SKIP}")
    if cfg.DEMO.INPUT_FORMAT != "BGR":
        raise ValueError(
            "DEMO.INPUT_FORMAT: frames are always decoded to RGB for the model here; leave it 'BGR' and use "
            "DATA.REVERSE_INPUT_CHANNEL to feed BGR frames"
        )
    if cfg.DEMO.DETECTRON2_CFG != _DEFAULT_DETECTRON2_CFG:
        raise ValueError(
            "DEMO.DETECTRON2_CFG: detectron2 is not used; the person detector is torchvision's Faster R-CNN "
            "(weights in DEMO.DETECTRON2_WEIGHTS), or pass DEMO.PREDS_BOXES"
        )
    if cfg.DEMO.OUTPUT_FILE and cfg.DEMO.WEBCAM < 0 and (cfg.DEMO.DISPLAY_WIDTH or cfg.DEMO.DISPLAY_HEIGHT):
        raise ValueError(
            "DEMO.DISPLAY_WIDTH/HEIGHT size the webcam capture and the window; a file written from a file "
            "keeps the input's size. Leave them 0"
        )
    if cfg.DEMO.NUM_VIS_INSTANCES < 1:
        raise ValueError(f"DEMO.NUM_VIS_INSTANCES must be >= 1, got {cfg.DEMO.NUM_VIS_INSTANCES}")
    if cfg.NUM_GPUS > 1 or cfg.NUM_SHARDS > 1:
        raise ValueError("The demo runs on one device: set NUM_GPUS to 0 or 1 and NUM_SHARDS to 1")


def label_picker(cfg: CfgNode) -> LabelPicker:
    """The labels to draw: top-k (TENSORBOARD.MODEL_VIS.TOPK_PREDS) or thresholds, per DEMO.VIS_MODE."""
    names = class_names_or_ids(cfg.DEMO.LABEL_FILE_PATH, cfg.MODEL.NUM_CLASSES)
    return LabelPicker(
        names,
        mode=cfg.DEMO.VIS_MODE,
        top_k=cfg.TENSORBOARD.MODEL_VIS.TOPK_PREDS,
        thres=cfg.DEMO.COMMON_CLASS_THRES,
        lower_thres=cfg.DEMO.UNCOMMON_CLASS_THRES,
        common_class_names=list(cfg.DEMO.COMMON_CLASS_NAMES) if cfg.DEMO.LABEL_FILE_PATH else None,
    )


class Drawer:
    """Draws a window's labels (and boxes) on its frames."""

    def __init__(self, cfg: CfgNode) -> None:
        self.picker = label_picker(cfg)
        self.colormap = Colormap(cfg.TENSORBOARD.MODEL_VIS.COLORMAP, "TENSORBOARD.MODEL_VIS.COLORMAP")
        self.num_classes = cfg.MODEL.NUM_CLASSES
        self.clip_vis_size = cfg.DEMO.CLIP_VIS_SIZE

    def color(self, class_id: int):
        return self.colormap(class_id / max(self.num_classes, 1))

    def labels(self, frame: np.ndarray, scores: torch.Tensor, x: int, y: int, upward: bool = False,
               ground_truth: Optional[List[int]] = None) -> None:
        if ground_truth is not None:
            picked = [(c, None) for c in ground_truth]
        else:
            picked = self.picker.pick(scores)
        lines = [self.picker.text(c, s) for c, s in picked]
        draw_text_lines(frame, lines, [self.color(c) for c, _ in picked], x, y, upward=upward)

    def boxes(self, frame: np.ndarray, boxes: np.ndarray, scores, ground_truth: bool = False) -> None:
        """Boxes with their labels: predictions (green, labels above) or ground truth (red, dashed, below)."""
        for i, box in enumerate(boxes):
            draw_box(frame, box, (255, 0, 0) if ground_truth else (0, 255, 0), dashed=ground_truth)
            if ground_truth:
                self.labels(frame, None, int(box[0]), int(box[3]), ground_truth=list(scores[i]))
            else:
                self.labels(frame, scores[i], int(box[0]), int(box[1]), upward=True)

    def draw(self, task: Task) -> List[np.ndarray]:
        """The window's new frames with its prediction drawn (copies; the task's frames are untouched)."""
        out = [f.copy() for f in task.new_frames]
        if task.preds is None:
            return out
        if task.boxes is None:
            for frame in out:
                self.labels(frame, task.preds, 0, 5)
            return out
        middle = len(task.frames) // 2
        for i, frame in enumerate(out):
            if abs(task.num_buffer + i - middle) <= self.clip_vis_size and len(task.boxes):
                self.boxes(frame, task.boxes, task.preds)
        return out


class PersonDetector:
    """torchvision's Faster R-CNN (COCO) on one frame -> person boxes in pixels; weights from a local file only."""

    def __init__(self, cfg: CfgNode, device: torch.device) -> None:
        try:
            from torchvision.models.detection import fasterrcnn_resnet50_fpn
        except ImportError as exc:
            raise RuntimeError(
                "The AVA demo needs person boxes: pass an AVA-format box CSV in DEMO.PREDS_BOXES, or install "
                f"torchvision for its Faster R-CNN person detector ({exc})"
            ) from exc
        path = cfg.DEMO.DETECTRON2_WEIGHTS
        if not path:
            raise RuntimeError(
                "DEMO.DETECTRON2_WEIGHTS must name a local torchvision fasterrcnn_resnet50_fpn state dict "
                "(weights are never downloaded), or pass person boxes in DEMO.PREDS_BOXES"
            )
        self.model = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None)
        self.model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        self.model.eval().to(device)
        self.device = device
        self.thresh = cfg.DEMO.DETECTRON2_THRESH

    @torch.no_grad()
    def __call__(self, frame: np.ndarray) -> np.ndarray:
        image = torch.from_numpy(frame).permute(2, 0, 1).float().div(255.0).to(self.device)
        out = self.model([image])[0]
        keep = (out["labels"] == 1) & (out["scores"] >= self.thresh)  # COCO class 1 = person
        return out["boxes"][keep].cpu().numpy()


class Predictor:
    """The model (weights from TEST.CHECKPOINT_FILE_PATH, as the test job loads them) on one window."""

    def __init__(self, cfg: CfgNode, *, detect_persons: Optional[bool] = None) -> None:
        self.cfg = cfg
        self.device = model_device(cfg)
        self.model = prepare_model(cfg, build_model(cfg))
        self.model.eval()
        cu.load_test_checkpoint(cfg, self.model)
        if detect_persons is None:
            detect_persons = cfg.DETECTION.ENABLE
        self.detector = PersonDetector(cfg, self.device) if detect_persons else None

    @torch.no_grad()
    def predict(self, frames: List[np.ndarray], boxes: Optional[np.ndarray] = None) -> torch.Tensor:
        """Scores ``[K]`` of a window, or ``[N, K]`` for ``N`` pixel boxes of a detection model."""
        inputs, scaled = clip_to_inputs(self.cfg, np.stack(frames), boxes)
        inputs = [x.to(self.device) for x in inputs]
        if boxes is None:
            return self.model(inputs)[0].float().cpu()
        if len(boxes) == 0:
            return torch.zeros((0, self.cfg.MODEL.NUM_CLASSES))
        rois = torch.cat([torch.zeros(len(scaled), 1), torch.as_tensor(scaled, dtype=torch.float32)], dim=1)
        return self.model(inputs, rois.to(self.device)).float().cpu()

    def __call__(self, task: Task) -> Task:
        boxes = None
        if self.detector is not None:
            boxes = self.detector(task.frames[len(task.frames) // 2])
        task.preds = self.predict(task.frames, boxes)
        task.boxes = boxes
        return task


def sliding_windows(frames: Iterable[np.ndarray], seq_len: int, buffer_size: int) -> Iterator[Task]:
    """Windows of ``seq_len`` frames overlapping by ``buffer_size``; the last may be shorter, none is lost."""
    buffer: List[np.ndarray] = []
    new: List[np.ndarray] = []
    idx = 0
    for frame in frames:
        new.append(frame)
        if len(buffer) + len(new) == seq_len:
            window = buffer + new
            yield Task(idx, window, len(buffer))
            idx += 1
            buffer = window[-buffer_size:] if buffer_size else []
            new = []
    if new:
        yield Task(idx, buffer + new, len(buffer))


class _Skipper:
    """Predicts every (NUM_CLIPS_SKIP + 1)-th window; the others take the latest prediction."""

    def __init__(self, predictor, num_skip: int) -> None:
        self.predictor = predictor
        self.every = num_skip + 1
        self.last: Optional[Task] = None

    def __call__(self, task: Task) -> Task:
        if self.last is None or task.id % self.every == 0:
            self.last = self.predictor(task)
            return task
        task.preds, task.boxes = self.last.preds, self.last.boxes
        return task


def _run_serial(windows: Iterable[Task], step, drawer: Drawer, sink: VideoSink) -> int:
    count = 0
    for task in windows:
        for frame in drawer.draw(step(task)):
            sink.write(frame)
        count += 1
    return count


_END = object()


def _run_threaded(windows: Iterable[Task], step, drawer: Drawer, sink: VideoSink, workers: int,
                  queue_size: int = 4) -> int:
    """Reader thread -> predictor (this thread) -> writer thread; drawing on ``workers`` threads, in order."""
    read_q: "queue.Queue" = queue.Queue(maxsize=queue_size)
    write_q: "queue.Queue" = queue.Queue(maxsize=queue_size)
    errors: List[BaseException] = []
    stop = threading.Event()

    def put(q: "queue.Queue", item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for task in windows:
                if not put(read_q, task):
                    return
        except BaseException as exc:  # re-raised in the calling thread
            errors.append(exc)
        put(read_q, _END)

    def write() -> None:
        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                pending = []
                while True:
                    try:
                        item = write_q.get(timeout=0.1)
                    except queue.Empty:
                        if stop.is_set():
                            return
                        continue
                    if item is _END:
                        break
                    pending.append(pool.submit(drawer.draw, item))
                    while pending and (pending[0].done() or len(pending) > workers):
                        for frame in pending.pop(0).result():
                            sink.write(frame)
                for future in pending:
                    for frame in future.result():
                        sink.write(frame)
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    reader = threading.Thread(target=read, name="demo-reader", daemon=True)
    writer = threading.Thread(target=write, name="demo-writer", daemon=True)
    reader.start()
    writer.start()
    count = 0
    try:
        while True:
            task = read_q.get()
            if task is _END:
                break
            if not put(write_q, step(task)):
                break
            count += 1
    except BaseException:
        stop.set()
        raise
    finally:
        if not stop.is_set():
            put(write_q, _END)
        writer.join()
        stop.set()
        reader.join()
    if errors:
        raise errors[0]
    return count


def run_recognition_demo(cfg: CfgNode, predictor=None) -> int:
    """Predict and draw every window of DEMO.INPUT_VIDEO / DEMO.WEBCAM; returns the number of frames written."""
    check_demo_cfg(cfg)
    drawer = Drawer(cfg)
    source = VideoSource(cfg.DEMO.INPUT_VIDEO, cfg.DEMO.WEBCAM, fallback_fps=cfg.DEMO.FPS,
                         capture_width=cfg.DEMO.DISPLAY_WIDTH, capture_height=cfg.DEMO.DISPLAY_HEIGHT)
    try:
        fps = cfg.DEMO.OUTPUT_FPS if cfg.DEMO.OUTPUT_FPS > 0 else source.fps
        sink = VideoSink(cfg.DEMO.OUTPUT_FILE, width=source.width, height=source.height, fps=fps,
                         sample_aspect_ratio=source.sample_aspect_ratio, display_width=cfg.DEMO.DISPLAY_WIDTH,
                         display_height=cfg.DEMO.DISPLAY_HEIGHT)
        predictor = predictor or Predictor(cfg)
        step = _Skipper(predictor, cfg.DEMO.NUM_CLIPS_SKIP)
        seq_len = cfg.DATA.NUM_FRAMES * cfg.DATA.SAMPLING_RATE
        windows = sliding_windows(source, seq_len, cfg.DEMO.BUFFER_SIZE)
        try:
            if cfg.DEMO.THREAD_ENABLE:
                num_windows = _run_threaded(windows, step, drawer, sink, cfg.DEMO.NUM_VIS_INSTANCES)
            else:
                num_windows = _run_serial(windows, step, drawer, sink)
        finally:
            sink.close()
    finally:
        source.close()
    logger.info("Demo: %d windows, %d frames written to %s", num_windows, sink.num_written,
                cfg.DEMO.OUTPUT_FILE or "the window")
    return sink.num_written


def demo(cfg: CfgNode) -> None:
    """Run the model on DEMO.INPUT_VIDEO (or DEMO.WEBCAM) and write DEMO.OUTPUT_FILE or show a window."""
    seed_everything(cfg.RNG_SEED)
    setup_logging(cfg.OUTPUT_DIR)
    logger.info("Demo with config:\n%s", cfg.dump())
    if cfg.DETECTION.ENABLE and cfg.DEMO.PREDS_BOXES:
        from slowfast.visualization.ava_demo import run_ava_demo

        run_ava_demo(cfg)
        return
    if cfg.DEMO.GT_BOXES:
        raise ValueError("DEMO.GT_BOXES is drawn by the AVA demo: it needs DETECTION.ENABLE True and DEMO.PREDS_BOXES")
    run_recognition_demo(cfg)
