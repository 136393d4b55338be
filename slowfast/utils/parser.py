"""Command-line parsing shared by the tools: `--cfg` files, launch options and `KEY VALUE` overrides."""

import argparse
from typing import List, Optional, Sequence

from fvcore.common.config import CfgNode

from slowfast.config.defaults import assert_and_infer_cfg, get_cfg
from slowfast.config.loading import merge_from_file, merge_from_list


def build_parser(description: str = "Train and test video models.") -> argparse.ArgumentParser:
    """The argument parser of tools/run_net.py and friends."""
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  python tools/run_net.py --cfg configs/Kinetics/SLOWFAST_8x8_R50.yaml "
            "DATA.PATH_TO_DATA_DIR /data/kinetics NUM_GPUS 8\n"
            "  python tools/run_net.py --cfg configs/Synthetic/SLOWFAST_R18_CPU.yaml NUM_GPUS 0\n"
            "  multi-node: add --init_method tcp://HOST:PORT --num_shards 2 --shard_id K on each node"
        ),
    )
    parser.add_argument(
        "--cfg",
        dest="cfg_files",
        action="append",
        default=None,
        help="YAML config file; give several times to run several jobs in turn.",
    )
    parser.add_argument(
        "--init_method",
        default=None,
        help=("torch.distributed init method: tcp://HOST:PORT (needed with several shards; one machine picks a "
              "free local port), or env:// under torchrun/SLURM."),
    )
    parser.add_argument("--num_shards", type=int, default=None, help="Number of machines (overrides NUM_SHARDS).")
    parser.add_argument("--shard_id", type=int, default=None, help="Index of this machine (overrides SHARD_ID).")
    parser.add_argument(
        "opts",
        default=None,
        nargs=argparse.REMAINDER,
        help="Config overrides as KEY VALUE pairs, e.g. NUM_GPUS 0 TRAIN.BATCH_SIZE 16.",
    )
    return parser


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line; `--cfg` defaults to no file (the built-in defaults)."""
    args = build_parser().parse_args(argv)
    if args.cfg_files is None:
        args.cfg_files = [None]
    return args


def load_config(args: argparse.Namespace, path_to_config: Optional[str] = None) -> CfgNode:
    """Build the validated config of one job: defaults <- YAML file <- overrides <- launch flags."""
    cfg = get_cfg()
    if path_to_config is not None:
        merge_from_file(cfg, path_to_config)
    opts: List[str] = list(getattr(args, "opts", None) or [])
    merge_from_list(cfg, opts)
    if getattr(args, "num_shards", None) is not None:
        cfg.NUM_SHARDS = args.num_shards
    if getattr(args, "shard_id", None) is not None:
        cfg.SHARD_ID = args.shard_id
    return assert_and_infer_cfg(cfg)
