"""Write a tiny Charades- or SSv2-format frame tree (JPEG frames, frame lists, SSv2 JSONs), or tiny ImageNet
class folders.

    python tools/make_tiny_frame_dataset.py --dataset charades --out /tmp/tiny_charades
    python tools/run_net.py --cfg configs/Charades/SLOWFAST_16x8_R50.yaml \
        DATA.PATH_TO_DATA_DIR /tmp/tiny_charades DATA.PATH_PREFIX /tmp/tiny_charades/frames ...
    python tools/make_tiny_frame_dataset.py --dataset imagenet --out /tmp/tiny_imagenet
    python tools/run_net.py --cfg configs/ImageNet/MVITv2_T.yaml DATA.PATH_TO_DATA_DIR /tmp/tiny_imagenet ...
"""

import argparse
import os
import sys
from typing import List, Optional

try:
    import slowfast  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from slowfast.datasets.tiny_frames import write_charades_tree, write_imagenet_tree, write_ssv2_tree  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["charades", "ssv2", "imagenet"], required=True)
    parser.add_argument("--out", required=True, help="output folder (DATA.PATH_TO_DATA_DIR; frames in OUT/frames)")
    parser.add_argument("--num-classes", type=int, default=3)
    parser.add_argument("--num-train", type=int, default=6, help="train videos (imagenet: images per class)")
    parser.add_argument("--num-val", type=int, default=3, help="val videos (imagenet: images per class)")
    args = parser.parse_args(argv)
    if args.dataset == "imagenet":
        write_imagenet_tree(args.out, num_classes=args.num_classes,
                            images_per_class={"train": args.num_train, "val": args.num_val})
        print(f"imagenet tree in {args.out} (DATA.PATH_TO_DATA_DIR {args.out})")
        return 0
    write = write_charades_tree if args.dataset == "charades" else write_ssv2_tree
    write(args.out, num_classes=args.num_classes, videos_per_split={"train": args.num_train, "val": args.num_val})
    print(f"{args.dataset} tree in {args.out} (DATA.PATH_PREFIX {os.path.join(args.out, 'frames')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
