"""The test loop."""

from fvcore.common.config import CfgNode


def test(cfg: CfgNode) -> None:
    """Run the test job of `cfg` in this process."""
    raise NotImplementedError("The test loop is not implemented yet (engine issue #5).")
