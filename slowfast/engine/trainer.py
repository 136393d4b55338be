"""The train loop."""

from fvcore.common.config import CfgNode


def train(cfg: CfgNode) -> None:
    """Run the train job of `cfg` in this process."""
    raise NotImplementedError("The train loop is not implemented yet (engine issue #5).")
