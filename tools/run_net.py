"""Train, test or run the demo of a video model: `python tools/run_net.py --cfg X.yaml [KEY VALUE ...]`."""

import os
import sys

try:
    import slowfast  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from slowfast.engine.run import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
