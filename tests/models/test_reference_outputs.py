"""Our models compute what PySlowFast computes: eval outputs under the same deterministic weights.

tests/data/reference_outputs/state_fill_crop64.json holds a few numbers of the reference
implementation's eval output (float64 and float32) for each config at crop 64, with every
state_dict entry set by state_fill.fill_value from its (key, shape, dtype) alone; see
tests/data/README.md for how it was made.
"""

import json

import pytest
import torch
from model_testing import REPO, load_cfg
from state_fill import clip_input, fill_state_dict, output_summary

from slowfast.models import MODEL_REGISTRY

REFERENCE = json.loads((REPO / "tests" / "data" / "reference_outputs" / "state_fill_crop64.json").read_text())
TOLERANCE = {"float64": 1e-9, "float32": 2e-5}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_eval_output_equals_the_reference_under_the_same_fill(name):
    ref = REFERENCE[name]
    cfg = load_cfg(f"{name}.yaml", ref["overrides"])
    torch.set_num_threads(1)
    model = MODEL_REGISTRY.get(cfg.MODEL.MODEL_NAME)(cfg).double().eval()
    fill_state_dict(model)
    for dtype, tag in ((torch.float64, "float64"), (torch.float32, "float32")):
        model.to(dtype)
        with torch.no_grad():
            ours = output_summary(model([clip_input(ref["input_shape"], dtype)]))
        for field, values in ref[tag].items():
            assert ours[field] == pytest.approx(values, abs=TOLERANCE[tag], rel=TOLERANCE[tag]), f"{name} {tag} {field}"
