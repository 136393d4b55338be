"""Every published PySlowFast YAML either loads and validates or is refused with a named reason.

Since every key is read or refused (test_every_key_accounted.py), a config that loads carries no
recipe key that does nothing.
"""

import json
from pathlib import Path

import pytest

from slowfast.config import assert_and_infer_cfg, get_cfg, merge_from_file, merge_from_list
from slowfast.config.loading import ConfigError

ROOT = Path(__file__).resolve().parents[1] / "data" / "pyslowfast_configs"
EXPECTED = json.loads((ROOT / "EXPECTED.json").read_text())


def test_the_table_covers_every_copied_config():
    assert sorted(EXPECTED) == sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*.yaml"))
    assert len(EXPECTED) == 109


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_published_config_loads_or_is_refused_with_its_reason(name):
    expected = EXPECTED[name]

    def load():
        cfg = merge_from_file(get_cfg(), str(ROOT / name))
        merge_from_list(cfg, ["NUM_GPUS", "0"])
        return assert_and_infer_cfg(cfg)

    if expected == "loads":
        load()
        return
    assert expected.startswith("refused: ")
    with pytest.raises(ConfigError) as err:
        load()
    assert expected[len("refused: "):] in str(err.value)
