"""Meters: smoothed training statistics, validation errors and multi-view test ensembling."""

import datetime
from collections import deque
from typing import Dict, List, Optional

import numpy as np
import psutil
import torch
from fvcore.common.config import CfgNode
from fvcore.common.timer import Timer

from slowfast.evaluation import metrics
from slowfast.utils import distributed as du
from slowfast.utils.logging import get_logger, log_json_stats

logger = get_logger(__name__)


def memory_stats() -> Dict[str, float]:
    """Peak GPU memory of this process (GiB) when on GPU, and resident host memory (GiB)."""
    stats = {"ram": psutil.Process().memory_info().rss / 1024**3}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        stats["gpu_mem"] = torch.cuda.max_memory_allocated() / 1024**3
    return stats


class ScalarMeter:
    """A window of recent values (median, mean) plus the running total."""

    def __init__(self, window_size: int) -> None:
        self.deque: deque = deque(maxlen=window_size)
        self.total = 0.0
        self.count = 0

    def reset(self) -> None:
        self.deque.clear()
        self.total = 0.0
        self.count = 0

    def add_value(self, value: float, n: int = 1) -> None:
        self.deque.append(value)
        self.count += n
        self.total += value * n

    def get_win_median(self) -> float:
        return float(np.median(self.deque)) if self.deque else 0.0

    def get_win_avg(self) -> float:
        return float(np.mean(self.deque)) if self.deque else 0.0

    def get_global_avg(self) -> float:
        return self.total / self.count if self.count else 0.0


def _eta(seconds: float) -> str:
    return str(datetime.timedelta(seconds=int(max(seconds, 0))))


class _IterationTimers:
    """Iteration, data-wait and compute timers shared by the train and validation meters.

    The timers hold the latest iteration; the ``epoch_*`` sums hold every finished
    iteration since ``reset_epoch_times``, for figures over a whole epoch.
    """

    def __init__(self) -> None:
        self.iter_timer = Timer()
        self.data_timer = Timer()
        self.net_timer = Timer()
        self.reset_epoch_times()

    def reset_epoch_times(self) -> None:
        self.epoch_iters_timed = 0
        self.epoch_iter_seconds = 0.0
        self.epoch_data_seconds = 0.0
        self.epoch_net_seconds = 0.0

    def iter_tic(self) -> None:
        self.iter_timer.reset()
        self.data_timer.reset()

    def iter_toc(self) -> None:
        self.iter_timer.pause()
        self.net_timer.pause()
        self.epoch_iters_timed += 1
        self.epoch_iter_seconds += self.iter_timer.seconds()
        self.epoch_net_seconds += self.net_timer.seconds()

    def data_toc(self) -> None:
        self.data_timer.pause()
        self.net_timer.reset()
        self.epoch_data_seconds += self.data_timer.seconds()

    def epoch_mean_times(self) -> Dict[str, float]:
        """Mean seconds per iteration over the epoch so far: ``dt`` (whole), ``dt_data``, ``dt_net``."""
        n = max(self.epoch_iters_timed, 1)
        return {
            "dt": self.epoch_iter_seconds / n,
            "dt_data": self.epoch_data_seconds / n,
            "dt_net": self.epoch_net_seconds / n,
        }


class TrainMeter(_IterationTimers):
    """Per-iteration training statistics, logged every LOG_PERIOD iterations and summarised per epoch."""

    def __init__(self, epoch_iters: int, cfg: CfgNode) -> None:
        self.cfg = cfg
        self.epoch_iters = epoch_iters
        self.max_iter = cfg.SOLVER.MAX_EPOCH * epoch_iters
        super().__init__()
        self.loss = ScalarMeter(cfg.LOG_PERIOD)
        self.mb_top1_err = ScalarMeter(cfg.LOG_PERIOD)
        self.mb_top5_err = ScalarMeter(cfg.LOG_PERIOD)
        self.reset()

    def reset(self) -> None:
        self.loss.reset()
        self.loss_total = 0.0
        self.lr: Optional[float] = None
        self.mb_top1_err.reset()
        self.mb_top5_err.reset()
        self.num_top1_mis = 0.0
        self.num_top5_mis = 0.0
        self.num_samples = 0
        self.skipped_videos = 0
        self.reset_epoch_times()

    def update_stats(
        self,
        top1_err: Optional[float],
        top5_err: Optional[float],
        loss: float,
        lr: float,
        mb_size: int,
        skipped_videos: int = 0,
    ) -> None:
        """Record one iteration; errors are in percent over the global mini-batch (None for multi-label)."""
        self.loss.add_value(loss)
        self.lr = lr
        self.loss_total += loss * mb_size
        self.num_samples += mb_size
        self.skipped_videos += skipped_videos
        if top1_err is not None:
            self.mb_top1_err.add_value(top1_err)
            self.mb_top5_err.add_value(top5_err)
            self.num_top1_mis += top1_err * mb_size
            self.num_top5_mis += top5_err * mb_size

    def _eta_seconds(self, cur_epoch: int, cur_iter: int) -> float:
        done = cur_epoch * self.epoch_iters + cur_iter + 1
        return self.iter_timer.seconds() * (self.max_iter - done)

    def log_iter_stats(self, cur_epoch: int, cur_iter: int) -> None:
        if (cur_iter + 1) % self.cfg.LOG_PERIOD != 0:
            return
        stats = {
            "_type": "train_iter",
            "epoch": f"{cur_epoch + 1}/{self.cfg.SOLVER.MAX_EPOCH}",
            "iter": f"{cur_iter + 1}/{self.epoch_iters}",
            "dt": self.iter_timer.seconds(),
            "dt_data": self.data_timer.seconds(),
            "dt_net": self.net_timer.seconds(),
            "eta": _eta(self._eta_seconds(cur_epoch, cur_iter)),
            "loss": self.loss.get_win_median(),
            "lr": self.lr,
        }
        if self.mb_top1_err.count:
            stats["top1_err"] = self.mb_top1_err.get_win_median()
            stats["top5_err"] = self.mb_top5_err.get_win_median()
        stats.update(memory_stats())
        log_json_stats(stats)

    def log_epoch_stats(self, cur_epoch: int) -> Dict[str, float]:
        """Epoch figures: mean seconds per iteration of this epoch, and the time left at that pace."""
        times = self.epoch_mean_times()
        left = self.max_iter - (cur_epoch + 1) * self.epoch_iters
        stats = {
            "_type": "train_epoch",
            "epoch": f"{cur_epoch + 1}/{self.cfg.SOLVER.MAX_EPOCH}",
            **times,
            "eta": _eta(times["dt"] * left),
            "lr": self.lr,
            "loss": self.loss_total / max(self.num_samples, 1),
            "skipped_videos": self.skipped_videos,
        }
        if self.mb_top1_err.count:
            stats["top1_err"] = self.num_top1_mis / max(self.num_samples, 1)
            stats["top5_err"] = self.num_top5_mis / max(self.num_samples, 1)
        stats.update(memory_stats())
        log_json_stats(stats)
        return stats


class ValMeter(_IterationTimers):
    """Validation errors over one pass of the validation set (one clip per video)."""

    def __init__(self, max_iter: int, cfg: CfgNode) -> None:
        self.cfg = cfg
        self.max_iter = max_iter
        super().__init__()
        self.min_top1_err = 100.0
        self.min_top5_err = 100.0
        self.reset()

    def reset(self) -> None:
        self.num_top1_mis = 0.0
        self.num_top5_mis = 0.0
        self.num_samples = 0
        self.all_preds: List[torch.Tensor] = []
        self.all_labels: List[torch.Tensor] = []

    def update_stats(self, top1_err: float, top5_err: float, mb_size: int) -> None:
        self.num_top1_mis += top1_err * mb_size
        self.num_top5_mis += top5_err * mb_size
        self.num_samples += mb_size

    def update_predictions(self, preds: torch.Tensor, labels: torch.Tensor) -> None:
        self.all_preds.append(preds)
        self.all_labels.append(labels)

    def log_iter_stats(self, cur_epoch: int, cur_iter: int) -> None:
        if (cur_iter + 1) % self.cfg.LOG_PERIOD != 0:
            return
        log_json_stats(
            {
                "_type": "val_iter",
                "epoch": f"{cur_epoch + 1}/{self.cfg.SOLVER.MAX_EPOCH}",
                "iter": f"{cur_iter + 1}/{self.max_iter}",
                "time_diff": self.iter_timer.seconds(),
                "eta": _eta(self.iter_timer.seconds() * (self.max_iter - cur_iter - 1)),
            }
        )

    def log_epoch_stats(self, cur_epoch: int) -> Dict[str, float]:
        stats = {"_type": "val_epoch", "epoch": f"{cur_epoch + 1}/{self.cfg.SOLVER.MAX_EPOCH}"}
        if self.num_samples:
            top1 = self.num_top1_mis / self.num_samples
            top5 = self.num_top5_mis / self.num_samples
            self.min_top1_err = min(self.min_top1_err, top1)
            self.min_top5_err = min(self.min_top5_err, top5)
            stats.update(
                top1_err=top1, top5_err=top5, min_top1_err=self.min_top1_err, min_top5_err=self.min_top5_err
            )
        if self.cfg.DATA.MULTI_LABEL and self.all_preds:
            from slowfast.evaluation.map import mean_average_precision

            stats["map"] = mean_average_precision(
                torch.cat(self.all_preds).float().numpy(), torch.cat(self.all_labels).float().numpy()
            )
        stats.update(memory_stats())
        log_json_stats(stats)
        return stats


class TestMeter:
    """Ensembles the views of each video and computes video-level top-k accuracy.

    Every video is counted once: predictions arrive per video index (a distributed
    sampler may repeat videos to pad the last batch; repeats are ignored), and
    `finalize` gathers them from all ranks.
    """

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self, num_videos: int, num_classes: int, ensemble_method: str = "sum", multi_label: bool = False) -> None:
        if ensemble_method not in ("sum", "max"):
            raise ValueError(f"DATA.ENSEMBLE_METHOD must be 'sum' or 'max', got '{ensemble_method}'.")
        self.num_videos = num_videos
        self.num_classes = num_classes
        self.ensemble_method = ensemble_method
        self.multi_label = multi_label
        self.iter_timer = Timer()
        self.reset()

    def reset(self) -> None:
        self.video_preds = torch.zeros((self.num_videos, self.num_classes))
        label_shape = (self.num_videos, self.num_classes) if self.multi_label else (self.num_videos,)
        self.video_labels = torch.zeros(label_shape, dtype=torch.float32 if self.multi_label else torch.long)
        self.filled = torch.zeros(self.num_videos, dtype=torch.bool)
        self.stats: Dict[str, float] = {}

    def ensemble(self, view_preds: torch.Tensor) -> torch.Tensor:
        """Combine [B, V, K] per-view scores into [B, K] per-video scores."""
        if self.ensemble_method == "sum":
            return view_preds.sum(dim=1)
        return view_preds.max(dim=1).values

    def update_stats(self, video_preds: torch.Tensor, labels: torch.Tensor, video_idx: torch.Tensor) -> None:
        """Record ensembled predictions of whole videos (this rank's share)."""
        video_preds = video_preds.detach().float().cpu()
        labels = labels.detach().cpu()
        video_idx = video_idx.detach().cpu().long()
        if video_idx.numel() and (video_idx.min() < 0 or video_idx.max() >= self.num_videos):
            raise IndexError(f"Video index out of range [0, {self.num_videos}): {video_idx.tolist()}")
        self.video_preds[video_idx] = video_preds
        self.video_labels[video_idx] = labels.to(self.video_labels.dtype)
        self.filled[video_idx] = True

    def finalize(self) -> None:
        """Merge the videos seen by all ranks (call on every rank)."""
        if du.get_world_size() == 1:
            return
        idx = torch.nonzero(self.filled).flatten()
        device = torch.device("cuda", torch.cuda.current_device()) if torch.distributed.get_backend() == "nccl" else None
        parts = [idx, self.video_preds[idx], self.video_labels[idx]]
        if device is not None:
            parts = [p.to(device) for p in parts]
        idx, preds, labels = (du.all_gather_variable(p).cpu() for p in parts)
        self.update_stats(preds, labels, idx)

    def log_iter_stats(self, cur_iter: int, total: int) -> None:
        log_json_stats(
            {"_type": "test_iter", "cur_iter": f"{cur_iter + 1}/{total}", "time_diff": self.iter_timer.seconds()}
        )

    def final_stats(self, ks=(1, 5)) -> Dict[str, float]:
        """Video-level top-k accuracy (or mAP for multi-label); raises if videos are missing."""
        missing = int((~self.filled).sum())
        if missing:
            raise RuntimeError(
                f"{missing} of {self.num_videos} test videos received no prediction; "
                f"first missing indices: {torch.nonzero(~self.filled).flatten()[:10].tolist()}."
            )
        stats: Dict[str, float] = {"_type": "test_final", "split": "test_final", "num_videos": self.num_videos}
        if self.multi_label:
            from slowfast.evaluation.map import mean_average_precision

            stats["map"] = mean_average_precision(self.video_preds.numpy(), self.video_labels.numpy())
        else:
            accs = metrics.topk_accuracies(self.video_preds, self.video_labels, ks)
            for k, acc in zip(ks, accs):
                stats[f"top{k}_acc"] = float(acc)
        self.stats = stats
        log_json_stats(stats)
        return stats
