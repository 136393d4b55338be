"""Config tree, loading and validation."""

from slowfast.config.defaults import assert_and_infer_cfg, get_cfg
from slowfast.config.loading import ConfigError, merge_from_file, merge_from_list

__all__ = ["ConfigError", "assert_and_infer_cfg", "get_cfg", "merge_from_file", "merge_from_list"]
