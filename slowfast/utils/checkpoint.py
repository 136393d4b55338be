"""PySlowFast's module path for the checkpoint functions: re-exports `slowfast.checkpoint`."""

import slowfast.checkpoint as _checkpoint
from slowfast.checkpoint import *  # noqa: F401,F403

__all__ = list(_checkpoint.__all__)
