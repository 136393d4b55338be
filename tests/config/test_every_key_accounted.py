"""The rule: every config key is read by the code under slowfast/, or listed in
slowfast/config/unsupported.py and refused there when set away from its default."""

import re
from pathlib import Path

import pytest
from fvcore.common.config import CfgNode

from slowfast.config import assert_and_infer_cfg, get_cfg, merge_from_list
from slowfast.config.loading import ConfigError
from slowfast.config.unsupported import UNSUPPORTED

PACKAGE = Path(__file__).resolve().parents[2] / "slowfast"
# The files that only declare or check keys do not count as readers.
DECLARING = {PACKAGE / "config" / f for f in ("defaults.py", "unsupported.py", "recipe_checks.py")}


def _all_keys(node: CfgNode, prefix: str = ""):
    for name, value in node.items():
        if isinstance(value, CfgNode):
            yield from _all_keys(value, f"{prefix}{name}.")
        else:
            yield prefix + name


def _code_without_docs(text: str) -> str:
    text = re.sub(r'"""(.*?)"""', '""', text, flags=re.S)
    return re.sub(r"#[^\n]*", "", text)


@pytest.fixture(scope="module")
def sources():
    return [_code_without_docs(p.read_text()) for p in PACKAGE.rglob("*.py") if p not in DECLARING]


def _referenced(key: str, sources) -> bool:
    """The key's last two parts as written (``AUG.RE_PROB``), or its section and leaf in one file
    (``aug = cfg.AUG`` ... ``aug.RE_PROB``)."""
    parts = key.split(".")
    suffix = re.compile(r"(?<![A-Za-z0-9_])" + re.escape(".".join(parts[-2:])) + r"(?![A-Za-z0-9_])")
    if len(parts) == 1:
        return any(re.search(r"(\.|[\"'])%s\b" % re.escape(key), s) for s in sources)
    section = re.compile(r"\b%s\b" % re.escape(parts[-2]))
    leaf = re.compile(r"(\.|[\"'])%s\b" % re.escape(parts[-1]))
    return any(suffix.search(s) or (section.search(s) and leaf.search(s)) for s in sources)


def test_every_key_is_read_or_listed_as_unsupported(sources):
    orphans = [k for k in _all_keys(get_cfg()) if k not in UNSUPPORTED and not _referenced(k, sources)]
    assert not orphans, (
        f"config keys nothing under slowfast/ reads: {orphans}. Implement them, or list them with a reason in "
        "slowfast/config/unsupported.py."
    )


def test_every_listed_key_exists_in_the_default_tree():
    keys = set(_all_keys(get_cfg()))
    assert not [k for k in UNSUPPORTED if k not in keys]


def _non_default(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "_x"
    if isinstance(value, (list, tuple)):
        return list(value) + [1]
    return 1


@pytest.mark.parametrize("key", ["SOLVER.LARS_ON", "SOLVER.STEP_SIZE", "MODEL.FROZEN_BN", "DATA.DUMMY_LOAD"])
def test_a_listed_key_set_away_from_its_default_is_refused_naming_key_origin_and_reason(key):
    cfg = get_cfg()
    node = cfg
    *parents, leaf = key.split(".")
    for name in parents:
        node = node[name]
    merge_from_list(cfg, [key, str(_non_default(node[leaf])), "NUM_GPUS", "0"])
    with pytest.raises(ConfigError) as err:
        assert_and_infer_cfg(cfg)
    message = str(err.value)
    assert key in message and "command-line overrides" in message and UNSUPPORTED[key].reason in message


def test_every_listed_key_at_its_default_is_accepted():
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    assert_and_infer_cfg(cfg)


def test_refusal_names_the_yaml_file_the_value_came_from(tmp_path):
    from slowfast.config import merge_from_file

    path = tmp_path / "recipe.yaml"
    path.write_text("SOLVER:\n  LARS_ON: True\nNUM_GPUS: 0\n")
    cfg = merge_from_file(get_cfg(), str(path))
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        assert_and_infer_cfg(cfg.clone())


def test_a_key_pyslowfast_never_reads_is_accepted_with_any_value_and_says_so():
    entry = UNSUPPORTED["PREFETCH.NUM_LOADERS"]
    assert not entry.refused and "reads it nowhere" in entry.reason
    cfg = merge_from_list(get_cfg(), ["PREFETCH.NUM_LOADERS", "3", "NUM_GPUS", "0"])
    assert_and_infer_cfg(cfg)
    assert [k for k, e in UNSUPPORTED.items() if not e.refused] == ["PREFETCH.NUM_LOADERS"]
