"""MODEL.ARCH values: which ones this code builds, and which take one clip or ``[slow, fast]``."""

from typing import Sequence, Tuple

from fvcore.common.config import CfgNode

# PySlowFast's defaults of MODEL.SINGLE_PATHWAY_ARCH and MODEL.MULTI_PATHWAY_ARCH.
SINGLE_PATHWAY_ARCH = ("2d", "c2d", "i3d", "slow", "x3d", "mvit", "maskmvit", "c2d_nopool", "i3d_nopool")
MULTI_PATHWAY_ARCH = ("slowfast",)
# The architectures the registered models implement.
SUPPORTED_ARCHS = ("2d", "c2d", "i3d", "slow", "slowfast", "c2d_nopool", "i3d_nopool", "x3d", "mvit")


def pathway_arch_lists(cfg: CfgNode) -> Tuple[Sequence[str], Sequence[str]]:
    """(single-pathway, multi-pathway) arch lists: cfg.MODEL's when set, else the defaults above."""
    single = cfg.MODEL.get("SINGLE_PATHWAY_ARCH", None) or SINGLE_PATHWAY_ARCH
    multi = cfg.MODEL.get("MULTI_PATHWAY_ARCH", None) or MULTI_PATHWAY_ARCH
    return single, multi
