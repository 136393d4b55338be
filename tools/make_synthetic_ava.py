"""Write the synthetic mini-AVA (JPEG frames, frame lists, annotations in the real AVA layout).

    python tools/make_synthetic_ava.py [--out output/ava_synthetic --num-train-videos 6 ...]
    python tools/run_net.py --cfg configs/Synthetic/AVA_SLOWFAST_R18_CPU.yaml

With another --out, add the printed AVA.* overrides to the run_net.py command.
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

from slowfast.datasets.ava_synthetic import AvaSyntheticSpec, config_overrides, ensure_synthetic_ava  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="output/ava_synthetic", help="output folder (default output/ava_synthetic)")
    for f in fields(AvaSyntheticSpec):
        parser.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default,
                            help=f"default {f.default}")
    parser.add_argument("--force", action="store_true", help="regenerate even if the folder is complete")
    args = parser.parse_args(argv)
    spec = AvaSyntheticSpec(**{f.name: getattr(args, f.name) for f in fields(AvaSyntheticSpec)})
    start = time.perf_counter()
    root = ensure_synthetic_ava(args.out, spec, force=args.force)
    print(f"synthetic AVA in {root} ({time.perf_counter() - start:.1f} s): {spec}")
    print("config overrides: " + " ".join(config_overrides(root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
