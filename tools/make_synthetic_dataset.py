"""Write the synthetic motion dataset (Kinetics format: train/val/test.csv + h264 mp4 files).

    python tools/make_synthetic_dataset.py --out /data/synthetic [--num-train 96 --height 112 ...]

Train on it with TRAIN.DATASET kinetics DATA.PATH_TO_DATA_DIR /data/synthetic, or let
TRAIN.DATASET synthetic create it on first use.
"""

import argparse
import os
import sys
import time
from dataclasses import fields
from typing import List, Optional

try:
    import slowfast  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from slowfast.datasets.synthetic import SyntheticSpec, ensure_synthetic_dataset  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output folder")
    for f in fields(SyntheticSpec):
        parser.add_argument("--" + f.name.replace("_", "-"), type=int, default=f.default, help=f"default {f.default}")
    parser.add_argument("--force", action="store_true", help="regenerate even if the folder is complete")
    args = parser.parse_args(argv)
    spec = SyntheticSpec(**{f.name: getattr(args, f.name) for f in fields(SyntheticSpec)})
    start = time.perf_counter()
    out = ensure_synthetic_dataset(args.out, spec, force=args.force)
    print(f"synthetic dataset in {out} ({time.perf_counter() - start:.1f} s): {spec}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
