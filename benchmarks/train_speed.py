"""End-to-end training throughput of a config: the real loader, model, optimizer and train step.

    python tools/benchmark.py train --cfg configs/Synthetic/SLOWFAST_R18_CPU.yaml [--iters 20] [KEY VALUE ...]

Runs `--iters` iterations of the engine's train_epoch on TRAIN.DATASET (after `--warmup` iterations
that are not timed) and prints clips/s and peak memory:
torch.cuda.max_memory_allocated on GPU, the process's peak resident set (ru_maxrss) on the CPU.
"""

import argparse
import itertools
import resource
import sys
import time
from typing import List, Optional

import torch

from slowfast.datasets.loader import construct_loader
from slowfast.engine.setup import setup_job
from slowfast.engine.placement import prepare_model
from slowfast.engine.trainer import train_epoch
from slowfast.evaluation.meters import TrainMeter
from slowfast.models import build_model
from slowfast.solver.optimizer import construct_optimizer
from slowfast.utils.parser import load_config


class _Limited:
    """The first `n` batches of a loader, with the loader's length reported as `n`."""

    def __init__(self, loader, n: int) -> None:
        self.loader, self.n = loader, n

    def __iter__(self):
        return itertools.islice(iter(self.loader), self.n)

    def __len__(self) -> int:
        return self.n


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", required=True, help="config file")
    parser.add_argument("--iters", type=int, default=20, help="timed iterations")
    parser.add_argument("--warmup", type=int, default=3, help="untimed iterations first")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    args.num_shards = args.shard_id = None
    cfg = load_config(args, args.cfg)
    cfg.LOG_PERIOD = 10**9
    cfg.LOG_MODEL_INFO = False
    setup_job(cfg, "benchmark")
    model = prepare_model(cfg, build_model(cfg))
    optimizer = construct_optimizer(model, cfg)
    scaler = torch.amp.GradScaler("cuda" if cfg.NUM_GPUS else "cpu", enabled=False)
    loader = construct_loader(cfg, "train")
    if len(loader) < args.warmup + args.iters:
        print(f"warning: the train loader has only {len(loader)} batches; timing what there is", file=sys.stderr)
    meter = TrainMeter(args.warmup + args.iters, cfg)
    train_epoch(_Limited(loader, args.warmup), model, optimizer, scaler, meter, 0, cfg)
    if cfg.NUM_GPUS:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    iters = min(args.iters, len(loader))
    start = time.perf_counter()
    stats = train_epoch(_Limited(loader, iters), model, optimizer, scaler, meter, 0, cfg)
    if cfg.NUM_GPUS:
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    clips = iters * cfg.TRAIN.BATCH_SIZE
    if cfg.NUM_GPUS:
        memory = f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MiB (GPU, max allocated)"
    else:
        memory = f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (CPU, peak RSS)"
    device = torch.cuda.get_device_name() if cfg.NUM_GPUS else f"CPU, {torch.get_num_threads()} threads"
    print("| config | device | batch | iters | clips/s | peak memory |")
    print("|---|---|---|---|---|---|")
    print(f"| {args.cfg} | {device} | {cfg.TRAIN.BATCH_SIZE} | {iters} | {clips / elapsed:.2f} | {memory} |")
    print(f"final loss {stats['loss']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
