"""The AVA meter over two Gloo processes: gathered, de-duplicated, evaluated once, mAP on every rank."""

import json
import os
import socket

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp
from test_detection import TINY, Truth, feed, make_cfg

from slowfast.datasets.ava_synthetic import ensure_synthetic_ava
from slowfast.evaluation.ava_meter import AVAMeter


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, world: int, port: int, root: str, out_dir: str, scores) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        truth = Truth(root)
        keys = sorted(truth.keyframe_of, key=truth.keyframe_of.get)
        # A DistributedSampler's split: every other keyframe, padded by repeating the first ones.
        padded = keys + keys[: (-len(keys)) % world + world]
        mine = set(padded[rank::world])
        rows = [r for r in truth.rows if r[:2] in mine]
        meter = AVAMeter(make_cfg(root), "test", truth.videos, len(keys))
        feed(meter, truth, rows, per_batch=2, scores=scores)
        result = meter.finalize(out_dir if rank == 0 else None)
        with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
            json.dump({"map": result["map"], "csv": result.get("detections_csv"), "boxes": result["num_boxes"]}, f)
    finally:
        dist.destroy_process_group()


def test_two_processes_match_one(tmp_path_factory, tmp_path):
    scores = [0.3, 0.6, 0.2, 0.9, 0.5]  # the same for every box: ties, decided by the row order
    root = ensure_synthetic_ava(str(tmp_path_factory.mktemp("det_ava_dist")), TINY)
    truth = Truth(root)
    single = AVAMeter(make_cfg(root), "test", truth.videos, len(truth.keyframe_of))
    feed(single, truth, truth.rows, scores=scores)
    expected = single.finalize()
    mp.spawn(_rank, args=(2, _free_port(), root, str(tmp_path), scores), nprocs=2, join=True)
    results = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert [r["map"] for r in results] == [pytest.approx(expected["map"])] * 2
    assert results[0]["boxes"] == expected["num_boxes"] == len(truth.rows)
    assert results[0]["csv"] and os.path.exists(results[0]["csv"]) and results[1]["csv"] is None
