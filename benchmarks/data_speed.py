"""Data pipeline throughput on the synthetic dataset at Kinetics resolution (short side 256).

The defaults are the published SlowFast 8x8 Kinetics recipe: 10 s clips at
30 fps, 32 frames at sampling rate 2, short-side jitter 256-320, 224 crop,
flip, normalisation; one torch thread (``--torch-threads``), as in one loader
worker.

Times one pass of the train loader (clips/s) and of the test loader (videos/s,
every video cut into NUM_ENSEMBLE_VIEWS x NUM_SPATIAL_CROPS views) for several
numbers of loader workers, and the test loader once more with each view decoded
on its own as PySlowFast does. It also reports how many frames the decoder
produced per output clip, and checks that both test paths give equal tensors.

    python tools/benchmark.py data [--workers 0 1 2] [--threads none 1 auto] [--num-frames 8 --sampling-rate 8]
    python tools/benchmark.py data --workers 0 --skip-per-view     # the train and test rows of one worker
"""

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import List, Optional, Sequence

import torch

try:
    import slowfast  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fvcore.common.config import CfgNode  # noqa: E402

from slowfast.config import get_cfg  # noqa: E402
from slowfast.datasets import Kinetics  # noqa: E402
from slowfast.datasets.loader import construct_loader  # noqa: E402
from slowfast.datasets.synthetic import SyntheticSpec, ensure_synthetic_dataset  # noqa: E402

# The per-view reference pipeline lives with the tests that check the fast one against it.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "datasets"))
from per_view_reference import PerViewKinetics  # noqa: E402


@dataclass
class Row:
    split: str
    decoding: str
    workers: int
    threads: str
    items_s: float
    clips_s: float
    decoded_per_clip: float


# Training-clip recipes (config overrides) of --train-recipes; the MViT recipes' AUG values.
_AUGMENT = {"AUG.ENABLE": True, "AUG.AA_TYPE": "rand-m7-n4-mstd0.5-inc1", "AUG.RE_PROB": 0.25,
            "DATA.TRAIN_JITTER_SCALES_RELATIVE": [0.08, 1.0], "DATA.TRAIN_JITTER_ASPECT_RELATIVE": [0.75, 1.3333]}
TRAIN_RECIPES = {"plain": {}, "augment": _AUGMENT, "augment_x2": {**_AUGMENT, "AUG.NUM_SAMPLE": 2}}


def with_recipe(cfg: CfgNode, recipe: str) -> CfgNode:
    """A copy of ``cfg`` with the overrides of TRAIN_RECIPES[recipe]."""
    cfg = cfg.clone()
    for key, value in TRAIN_RECIPES[recipe].items():
        section, leaf = key.split(".")
        cfg[section][leaf] = value
    return cfg


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="", help="synthetic dataset folder (created if needed; default: a temp dir)")
    p.add_argument("--videos-train", type=int, default=24, help="training videos")
    p.add_argument("--videos-test", type=int, default=3, help="test videos")
    p.add_argument("--height", type=int, default=256)
    p.add_argument("--width", type=int, default=340)
    p.add_argument("--video-frames", type=int, default=300, help="frames per video (10 s at 30 fps)")
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--arch", default="slowfast", help="MODEL.ARCH (slow: one pathway; slowfast: two)")
    p.add_argument("--num-frames", type=int, default=32, help="DATA.NUM_FRAMES")
    p.add_argument("--sampling-rate", type=int, default=2, help="DATA.SAMPLING_RATE")
    p.add_argument("--torch-threads", type=int, default=1, help="torch.set_num_threads in the main process")
    p.add_argument("--views", type=int, default=10, help="TEST.NUM_ENSEMBLE_VIEWS")
    p.add_argument("--crops", type=int, default=3, help="TEST.NUM_SPATIAL_CROPS")
    p.add_argument("--batch-size", type=int, default=8, help="training clips per batch")
    p.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--train-recipes", nargs="+", default=["plain"], choices=sorted(TRAIN_RECIPES),
                   help="training-clip recipes to compare: plain (short-side jitter), augment (RandAugment, "
                        "random erasing, random-resized crops), augment_x2 (augment with AUG.NUM_SAMPLE 2)")
    p.add_argument("--threads", nargs="+", default=["none"], help="DATA.DECODE_THREADS values to compare")
    p.add_argument("--skip-per-view", action="store_true",
                   help="do not time the per-view decoding test path (else timed with the first --threads value)")
    return p.parse_args(argv)


def make_cfg(args: argparse.Namespace, data_dir: str) -> CfgNode:
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    cfg.TRAIN.DATASET = cfg.TEST.DATASET = "kinetics"
    cfg.DATA.PATH_TO_DATA_DIR = data_dir
    cfg.MODEL.ARCH = args.arch
    cfg.SLOWFAST.ALPHA = 4
    cfg.DATA.NUM_FRAMES = args.num_frames
    cfg.DATA.SAMPLING_RATE = args.sampling_rate
    cfg.DATA.TRAIN_JITTER_SCALES = [256, 320]
    cfg.DATA.TRAIN_CROP_SIZE = 224
    cfg.DATA.TEST_CROP_SIZE = 256
    cfg.TEST.NUM_ENSEMBLE_VIEWS = args.views
    cfg.TEST.NUM_SPATIAL_CROPS = args.crops
    cfg.TRAIN.BATCH_SIZE = args.batch_size
    cfg.TEST.BATCH_SIZE = args.views * args.crops  # one video per test batch
    cfg.DATA_LOADER.PIN_MEMORY = False
    return cfg


def time_loader(cfg: CfgNode, split: str, decode_once: bool = True, recipe: str = "") -> Row:
    dataset = Kinetics(cfg, split) if decode_once else PerViewKinetics(cfg, split)
    loader = construct_loader(cfg, split, dataset=dataset)
    items = clips = decoded = 0
    start = time.perf_counter()
    for inputs, _, _, meta in loader:
        batch = inputs[0].shape[0]
        items += batch
        clips += batch * (inputs[0].shape[1] if split == "test" else 1)
        decoded += int(meta["decoded_frames"].sum())
    elapsed = time.perf_counter() - start
    return Row(
        split=split,
        decoding=recipe or ("decode once" if decode_once else "per view"),
        workers=cfg.DATA_LOADER.NUM_WORKERS,
        threads=str(cfg.DATA.DECODE_THREADS),
        items_s=items / elapsed,
        clips_s=clips / elapsed,
        decoded_per_clip=decoded / max(clips, 1),
    )


def check_equal(cfg: CfgNode, num_videos: int) -> bool:
    once, per_view = Kinetics(cfg, "test"), PerViewKinetics(cfg, "test")
    return all(torch.equal(once.load_test_views(i)[0], per_view.load_test_views(i)[0])
               for i in range(num_videos))


def print_table(rows: List[Row]) -> None:
    header = f"{'loader':<6} {'decoding':<11} {'workers':>7} {'threads':>7} {'items/s':>9} {'clips/s':>9} " \
             f"{'decoded frames/clip':>20}"
    print(header)
    print("-" * len(header))
    for r in rows:
        unit = "videos" if r.split == "test" else "clips"
        print(f"{r.split:<6} {r.decoding:<11} {r.workers:>7} {r.threads:>7} {r.items_s:>9.2f} {r.clips_s:>9.1f} "
              f"{r.decoded_per_clip:>20.2f}   ({unit})")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark and print its table; returns the exit code."""
    args = parse_args(argv)
    torch.set_num_threads(args.torch_threads)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or os.path.join(tmp, "synthetic")
        spec = SyntheticSpec(num_train=args.videos_train, num_val=1, num_test=args.videos_test,
                             height=args.height, width=args.width, num_frames=args.video_frames, fps=args.fps)
        start = time.perf_counter()
        ensure_synthetic_dataset(data_dir, spec)
        print(f"dataset: {spec.num_train} train / {spec.num_test} test videos, {spec.height}x{spec.width}, "
              f"{spec.num_frames} frames at {spec.fps} fps ({time.perf_counter() - start:.1f} s to make or check)")
        cfg = make_cfg(args, data_dir)
        print(f"clips: {args.arch} {args.num_frames}x{args.sampling_rate}, train crop 224 (jitter 256-320), "
              f"test {args.views} clips x {args.crops} crops at 256; torch threads {torch.get_num_threads()}")
        rows: List[Row] = []
        for threads in args.threads:
            cfg.DATA.DECODE_THREADS = threads
            for workers in args.workers:
                cfg.DATA_LOADER.NUM_WORKERS = workers
                for recipe in args.train_recipes:
                    rows.append(time_loader(with_recipe(cfg, recipe), "train", recipe=recipe))
                rows.append(time_loader(cfg, "test"))
                if not args.skip_per_view and threads == args.threads[0]:
                    rows.append(time_loader(cfg, "test", decode_once=False))
        cfg.DATA.DECODE_THREADS = args.threads[0]
        equal = check_equal(cfg, min(2, args.videos_test))
    print_table(rows)
    print(f"decode-once views equal to per-view decoding: {equal}")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
