"""Merge YAML files and command-line overrides into a config, with errors a user can act on.

yacs' own merge reports an unknown key as "Non-existent config key" without the file
or a suggestion, and refuses an integer where a float is expected. This module walks
the YAML itself so every error names the key, the file (or the command line) and the
closest known key, and it accepts ints for float keys.
"""

import ast
import difflib
import os
from typing import Any, Dict, Iterable, List, Optional, Sequence

import yaml
from fvcore.common.config import CfgNode

BASE_KEY = "_BASE_"

# Types a config value may hold; None-valued defaults accept any of them.
_VALID_TYPES = (tuple, list, str, int, float, bool, type(None))


class ConfigError(ValueError):
    """A config file or override that cannot be applied; the message says where and why."""


def _all_keys(cfg: CfgNode, prefix: str = "") -> List[str]:
    keys = []
    for name, value in cfg.items():
        full = prefix + name
        keys.append(full)
        if isinstance(value, CfgNode):
            keys.extend(_all_keys(value, full + "."))
    return keys


def _unknown_key_error(cfg_root: CfgNode, full_key: str, source: str) -> ConfigError:
    known = _all_keys(cfg_root)
    close = difflib.get_close_matches(full_key, known, n=1, cutoff=0.5)
    if not close:
        leaf = full_key.split(".")[-1]
        leaf_matches = [k for k in known if k.split(".")[-1] == leaf]
        close = leaf_matches[:1] or difflib.get_close_matches(
            leaf, [k.split(".")[-1] for k in known], n=1, cutoff=0.6
        )
        if close and close[0] not in known:
            close = [k for k in known if k.split(".")[-1] == close[0]][:1]
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return ConfigError(f"Unknown config key '{full_key}' in {source}.{hint}")


def _type_name(value: Any) -> str:
    name = type(value).__name__
    return ("an " if name[0] in "aeiou" else "a ") + name


def coerce_value(original: Any, replacement: Any, full_key: str, source: str) -> Any:
    """Return `replacement` converted to the type of `original`, or raise a ConfigError."""
    if isinstance(replacement, dict):
        raise ConfigError(
            f"Config key '{full_key}' in {source} expects {_type_name(original)}, "
            f"got a mapping {replacement!r}."
        )
    if not isinstance(replacement, _VALID_TYPES):
        raise ConfigError(
            f"Config key '{full_key}' in {source} got a value of unsupported type "
            f"{type(replacement).__name__}: {replacement!r}."
        )
    if original is None or replacement is None:
        return replacement
    if type(original) is type(replacement):
        return replacement
    if isinstance(original, (list, tuple)) and isinstance(replacement, (list, tuple)):
        return type(original)(replacement)
    # bool is a subclass of int: an int key never takes True/False silently, and vice versa.
    if isinstance(original, float) and isinstance(replacement, int) and not isinstance(replacement, bool):
        return float(replacement)
    raise ConfigError(
        f"Config key '{full_key}' in {source} expects {_type_name(original)} "
        f"(default {original!r}), got {_type_name(replacement)} {replacement!r}."
    )


def merge_dict(cfg: CfgNode, data: Dict[str, Any], source: str, root: Optional[CfgNode] = None, prefix: str = "") -> None:
    """Merge a nested dict into `cfg`, checking every key and type."""
    root = cfg if root is None else root
    for name, value in data.items():
        full_key = prefix + str(name)
        if name == BASE_KEY and not prefix:
            raise ConfigError(f"'{BASE_KEY}' in {source} must be handled by merge_from_file.")
        if name not in cfg:
            raise _unknown_key_error(root, full_key, source)
        current = cfg[name]
        if isinstance(current, CfgNode):
            if not isinstance(value, dict):
                raise ConfigError(
                    f"Config key '{full_key}' in {source} is a section; expected a mapping of "
                    f"its keys, got {_type_name(value)} {value!r}."
                )
            merge_dict(current, value, source, root, full_key + ".")
        else:
            # Like yacs, strings are read as Python literals: YAML takes `1e-4` for a string.
            cfg[name] = coerce_value(current, _decode(value), full_key, source)
            _record_origin(root, full_key, source)


def _read_yaml(path: str) -> Dict[str, Any]:
    if not os.path.isfile(path):
        raise ConfigError(f"Config file not found: '{path}'. Check the path given to --cfg or {BASE_KEY}.")
    with open(path, "r", encoding="utf-8") as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise ConfigError(f"Config file '{path}' is not valid YAML: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"Config file '{path}' must hold a mapping of keys at its top level, got {_type_name(data)}.")
    return data


def _resolve_base(base: str, path: str) -> str:
    base = os.path.expanduser(base)
    if os.path.isabs(base) or "://" in base:
        return base
    return os.path.join(os.path.dirname(path), base)


def merge_from_file(cfg: CfgNode, path: str, _stack: Sequence[str] = ()) -> CfgNode:
    """Merge a YAML file (and the `_BASE_` files it inherits from, first) into `cfg`."""
    real = os.path.realpath(path)
    if real in _stack:
        raise ConfigError(f"Config file '{path}' inherits from itself through {BASE_KEY}: {' -> '.join(_stack)}.")
    data = _read_yaml(path)
    bases = data.pop(BASE_KEY, None)
    if bases is not None:
        for base in [bases] if isinstance(bases, str) else list(bases):
            merge_from_file(cfg, _resolve_base(str(base), path), tuple(_stack) + (real,))
    merge_dict(cfg, data, f"config file '{path}'")
    return cfg


def _decode(text: str) -> Any:
    """Decode a command-line value the way yacs does: a Python literal, else a string."""
    if not isinstance(text, str):
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def merge_from_list(cfg: CfgNode, opts: Iterable[str]) -> CfgNode:
    """Merge `KEY VALUE` pairs from the command line into `cfg`."""
    opts = list(opts)
    if len(opts) % 2 != 0:
        raise ConfigError(
            f"Command-line overrides must be KEY VALUE pairs; got an odd number of items: {opts}."
        )
    for full_key, raw in zip(opts[0::2], opts[1::2]):
        node = cfg
        parts = full_key.split(".")
        for i, part in enumerate(parts):
            if not isinstance(node, CfgNode) or part not in node:
                raise _unknown_key_error(cfg, full_key, "the command-line overrides")
            if i < len(parts) - 1:
                node = node[part]
        if isinstance(node[parts[-1]], CfgNode):
            raise ConfigError(f"Command-line override '{full_key}' names a section, not a key.")
        node[parts[-1]] = coerce_value(node[parts[-1]], _decode(raw), full_key, "the command-line overrides")
        _record_origin(cfg, full_key, "the command-line overrides")
    return cfg


_ORIGINS = "_key_origins"
# What ``key_origin`` says of a key no config file or override has set.
DEFAULT_ORIGIN = "the defaults or code"


def _record_origin(root: CfgNode, full_key: str, source: str) -> None:
    # Kept in the instance __dict__, not as a key: it survives clone() and stays out of dump().
    root.__dict__.setdefault(_ORIGINS, {})[full_key] = source


def key_origin(cfg: CfgNode, full_key: str) -> str:
    """Where the value of ``full_key`` was last set: a config file, the command line, or the defaults."""
    return cfg.__dict__.get(_ORIGINS, {}).get(full_key, DEFAULT_ORIGIN)
