"""Demo on a video file."""

from fvcore.common.config import CfgNode


def demo(cfg: CfgNode) -> None:
    """Run the model on DEMO.INPUT_VIDEO and write or show its predictions."""
    raise NotImplementedError("The demo (DEMO.ENABLE) is not implemented yet.")
