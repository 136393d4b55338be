"""Throughput and peak memory of the video models, per architecture and execution variant.

For each MODEL.ARCH's Kinetics config (R50 for the ResNets, MViTv2-S 16x4 for mvit) it times inference (eval, no autograd) and a training
step (forward, cross-entropy, backward, SGD step) on random clips, and prints a table of clips/s,
ms per clip (1000 / clips/s) and peak memory for:
  fp32     float32, contiguous (NCDHW) tensors
  cl       float32, channels_last_3d model and inputs
  bf16     bfloat16 autocast (float32 weights)
  cl+bf16  both
  fold     float32 with every BN folded into its conv (TEST.FOLD_BN); inference only (train shows nan)
  cl+fold  channels_last_3d and folded BN; inference only

Peak memory is torch.cuda.max_memory_allocated on GPU; on CPU it is the peak of the process RSS
sampled every 2 ms by a background thread (psutil) minus the RSS before the measured section
(after returning freed heap pages to the OS with glibc's malloc_trim), so it includes allocator
caching and anything else the process allocates meanwhile, and misses peaks shorter than 2 ms.

    python benchmarks/model_speed.py --archs c2d,slowfast --iters 5 --frames 8 --crop 112
    python benchmarks/model_speed.py --archs mvit --variants fp32 --opts MODEL.ACT_CHECKPOINT True
"""

import argparse
import ctypes
import gc
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import psutil
import torch
import torch.nn.functional as F

try:
    import slowfast  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from slowfast.config import get_cfg, merge_from_file, merge_from_list  # noqa: E402
from slowfast.datasets.utils import pack_pathway_output  # noqa: E402
from slowfast.models import MODEL_REGISTRY  # noqa: E402
from slowfast.models.fold_bn import fold_batchnorm  # noqa: E402

CONFIGS_DIR = Path(__file__).resolve().parents[1] / "configs" / "Kinetics"
# The R50 config of each architecture; the *_nopool variants reuse their pooled sibling's config.
ARCH_CONFIGS: Dict[str, str] = {
    "c2d": "C2D_8x8_R50.yaml",
    "c2d_nopool": "C2D_8x8_R50.yaml",
    "i3d": "I3D_8x8_R50.yaml",
    "i3d_nopool": "I3D_8x8_R50.yaml",
    "slow": "SLOW_8x8_R50.yaml",
    "slowfast": "SLOWFAST_8x8_R50.yaml",
    "mvit": "MVITv2_S_16x4.yaml",
}
VARIANTS = ("fp32", "cl", "bf16", "cl+bf16", "fold", "cl+fold")


@dataclass
class Result:
    arch: str
    variant: str
    infer_clips_s: float
    train_clips_s: float
    infer_peak_mb: float
    train_peak_mb: float


def _release_freed_memory() -> None:
    """Return freed heap pages to the OS (glibc), so the RSS baseline excludes earlier garbage."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class _PeakMemory:
    """Peak memory of the code inside `with`, in MB (see the module docstring for the method)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.peak_mb = 0.0

    def __enter__(self) -> "_PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            return self
        _release_freed_memory()
        self._proc = psutil.Process()
        self._base = self._proc.memory_info().rss
        self._max = self._base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._max = max(self._max, self._proc.memory_info().rss)
            self._stop.wait(0.002)

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_mb = (torch.cuda.max_memory_allocated(self.device) - self._base) / 2**20
            return
        self._stop.set()
        self._thread.join()
        self._max = max(self._max, self._proc.memory_info().rss)
        self.peak_mb = (self._max - self._base) / 2**20


def build_cfg(arch: str, frames: Optional[int], crop: int, opts: Sequence[str]):
    """The R50 config of `arch` at `crop` pixels (train and test), with `frames` and extra overrides."""
    cfg = merge_from_file(get_cfg(), str(CONFIGS_DIR / ARCH_CONFIGS[arch]))
    overrides = ["NUM_GPUS", "0", "MODEL.ARCH", arch, "DATA.TRAIN_CROP_SIZE", str(crop), "DATA.TEST_CROP_SIZE", str(crop)]
    if frames is not None:
        overrides += ["DATA.NUM_FRAMES", str(frames)]
    merge_from_list(cfg, overrides + list(opts))
    if arch == "slowfast" and cfg.DATA.NUM_FRAMES % cfg.SLOWFAST.ALPHA:
        raise SystemExit(f"--frames {cfg.DATA.NUM_FRAMES} must be a multiple of SLOWFAST.ALPHA={cfg.SLOWFAST.ALPHA}.")
    return cfg


def make_inputs(cfg, batch_size: int, device: torch.device, channels_last: bool) -> List[torch.Tensor]:
    """Random pathway tensors, the Slow pathway picked from the Fast one as the data loader does."""
    size = cfg.DATA.TRAIN_CROP_SIZE
    clip = torch.randn(batch_size, 3, cfg.DATA.NUM_FRAMES, size, size, device=device)
    fmt = torch.channels_last_3d if channels_last else torch.contiguous_format
    return [x.contiguous(memory_format=fmt) for x in pack_pathway_output(cfg, clip)]


def _timed(step: Callable[[], None], iters: int, warmup: int, device: torch.device) -> float:
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(iters):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def run_variant(cfg, variant: str, batch_size: int, iters: int, warmup: int, device: torch.device) -> Result:
    """Time inference and a training step of `cfg`'s model under `variant`."""
    channels_last = variant.startswith("cl")
    bf16 = variant.endswith("bf16")
    fold = variant.endswith("fold")
    torch.manual_seed(0)
    model = MODEL_REGISTRY.get(cfg.MODEL.MODEL_NAME)(cfg).to(device)
    if fold:
        fold_batchnorm(model.eval())
    if channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
    inputs = make_inputs(cfg, batch_size, device, channels_last)
    labels = torch.randint(0, cfg.MODEL.NUM_CLASSES, (batch_size,), device=device)

    def autocast():
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16)

    def infer() -> None:
        with torch.inference_mode(), autocast():
            model(inputs)

    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def train_step() -> None:
        with autocast():
            loss = F.cross_entropy(model(inputs).float(), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    model.eval()
    with _PeakMemory(device) as infer_mem:
        infer_time = _timed(infer, iters, warmup, device)
    clips = batch_size * iters
    if fold:  # a folded model cannot train: its BN layers are gone
        return Result(cfg.MODEL.ARCH, variant, clips / infer_time, float("nan"), infer_mem.peak_mb, float("nan"))
    model.train()
    with _PeakMemory(device) as train_mem:
        train_time = _timed(train_step, iters, warmup, device)
    return Result(cfg.MODEL.ARCH, variant, clips / infer_time, clips / train_time, infer_mem.peak_mb, train_mem.peak_mb)


def table_header(device: torch.device, title: str) -> str:
    memory = "peak CUDA allocated" if device.type == "cuda" else "peak sampled RSS increase"
    return "\n".join([
        title,
        f"memory: {memory} (MB)",
        f"{'arch':<11} {'variant':<8} {'infer clips/s':>13} {'train clips/s':>13} {'infer ms/clip':>13} "
        f"{'train ms/clip':>13} {'infer MB':>9} {'train MB':>9}",
    ])  # fmt: skip


def format_row(r: Result) -> str:
    return (
        f"{r.arch:<11} {r.variant:<8} {r.infer_clips_s:>13.2f} {r.train_clips_s:>13.2f} "
        f"{1000 / r.infer_clips_s:>13.0f} {1000 / r.train_clips_s:>13.0f} {r.infer_peak_mb:>9.0f} {r.train_peak_mb:>9.0f}"
    )


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", default="c2d,i3d,slow,slowfast", help=f"comma-separated, from {sorted(ARCH_CONFIGS)}")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from {list(VARIANTS)}")
    parser.add_argument("--iters", type=int, default=10, help="timed iterations per measurement")
    parser.add_argument("--warmup", type=int, default=2, help="untimed iterations before each measurement")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--frames", type=int, default=None, help="DATA.NUM_FRAMES (default: the config's)")
    parser.add_argument("--crop", type=int, default=224, help="input height and width (a multiple of 32)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="config overrides KEY VALUE ...")
    args = parser.parse_args(argv)
    if args.crop % 32:
        parser.error(f"--crop {args.crop} must be a multiple of 32 (the head pools a crop/32 feature map)")
    for name in args.archs.split(","):
        if name not in ARCH_CONFIGS:
            parser.error(f"unknown arch '{name}'; choose from {sorted(ARCH_CONFIGS)}")
    for name in args.variants.split(","):
        if name not in VARIANTS:
            parser.error(f"unknown variant '{name}'; choose from {list(VARIANTS)}")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark and print its table; returns the exit code."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    title = (
        f"model speed: {where}; batch {args.batch_size}, {args.crop}px, frames "
        f"{args.frames or 'per config'}, {args.iters} iters after {args.warmup} warm-up; torch {torch.__version__}"
    )
    print(table_header(device, title), flush=True)
    for arch in args.archs.split(","):
        cfg = build_cfg(arch, args.frames, args.crop, args.opts)
        for variant in args.variants.split(","):
            result = run_variant(cfg, variant, args.batch_size, args.iters, args.warmup, device)
            print(format_row(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
