"""PyTorchVideo checkpoints (CHECKPOINT_TYPE pytorchvideo) and PySlowFast's PTV* model names.

The fixtures under tests/data/ptv_layouts/ were made from the pytorchvideo sources (not a
dependency): `<hub model>.json` is the hub model's state_dict, key -> shape, in order;
`small_outputs.json` holds the softmax outputs of width-8 PTV Slow and SlowFast R50 models filled
by `_fill` below (in PTV key order) on the `_clip` input.
"""

import json
import math

import pytest
import torch

from checkpoint_testutils import LAYOUTS, REPO, read_layout
from slowfast.checkpoint import CheckpointMismatchError, load_checkpoint
from slowfast.checkpoint.pytorchvideo import UnsupportedPyTorchVideoModel, pytorchvideo_to_state_dict
from slowfast.config import get_cfg, merge_from_file, merge_from_list
from slowfast.models import build_model

PTV = LAYOUTS.parent / "ptv_layouts"
# hub model -> the layout (PySlowFast model from that config) it must convert to.
HUB_TO_LAYOUT = {
    "slow_r50": "Kinetics/SLOW_8x8_R50",
    "c2d_r50": "Kinetics/C2D_8x8_R50",
    "i3d_r50": "Kinetics/I3D_8x8_R50",
    "slowfast_r50": "Kinetics/SLOWFAST_8x8_R50",
}


def _ptv_layout(name: str) -> dict:
    with open(PTV / f"{name}.json") as f:
        return json.load(f)


def _fake_state(layout: dict) -> dict:
    return {k: torch.zeros(shape, dtype=torch.long if k.endswith("num_batches_tracked") else torch.float32)
            for k, shape in layout.items()}


@pytest.mark.parametrize("hub", sorted(HUB_TO_LAYOUT))
def test_hub_layout_converts_one_to_one_onto_the_pyslowfast_layout(hub):
    ptv = _fake_state(_ptv_layout(hub))
    ours, source = pytorchvideo_to_state_dict(ptv)
    expected = {e["key"]: e["shape"] for e in read_layout(HUB_TO_LAYOUT[hub])["state_dict"]}
    assert len(ours) == len(ptv) == len(expected)
    assert {k: list(v.shape) for k, v in ours.items()} == expected
    assert sorted(source.values()) == sorted(ptv)


def test_slowfast_r101_layout_converts_onto_our_slowfast_r101():
    cfg = get_cfg()
    merge_from_file(cfg, str(REPO / "configs" / "Kinetics" / "SLOWFAST_8x8_R50.yaml"))
    # PySlowFast's configs/Kinetics/pytorchvideo/SLOWFAST_8x8_R101.yaml differs from the R50 one in these keys.
    merge_from_list(cfg, ["NUM_GPUS", "0", "RESNET.DEPTH", "101", "SLOWFAST.FUSION_KERNEL_SZ", "5",
                          "RESNET.NUM_BLOCK_TEMP_KERNEL", "[[3, 3], [4, 4], [23, 23], [3, 3]]",
                          "MODEL.MODEL_NAME", "PTVSlowFast"])
    with torch.device("meta"):
        from slowfast.models.build import MODEL_REGISTRY

        model = MODEL_REGISTRY.get(cfg.MODEL.MODEL_NAME)(cfg)
    ours, _ = pytorchvideo_to_state_dict(_fake_state(_ptv_layout("slowfast_r101")))
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _fill(shape, index: int, key: str) -> torch.Tensor:
    """Deterministic values without a random generator: a sine of the position, scaled per kind."""
    if key.endswith("num_batches_tracked"):
        return torch.zeros(shape, dtype=torch.long)
    w = torch.sin(torch.arange(math.prod(shape), dtype=torch.float64) * 0.37 + index).reshape(shape).float()
    if "running_var" in key or ("norm" in key and key.endswith("weight")):
        return w * 0.25 + 1.0
    if len(shape) > 1:
        return w * (1.0 / max(1, math.prod(shape[1:]))) ** 0.5
    return w * 0.1


def _clip(frames: int) -> torch.Tensor:
    n = 3 * frames * 32 * 32
    return torch.sin(torch.arange(n, dtype=torch.float64) * 0.11).reshape(1, 3, frames, 32, 32).float()


@pytest.mark.parametrize("name,hub", [("slow_r50_w8", "slow_r50"), ("slowfast_r50_w8", "slowfast_r50")])
@pytest.mark.parametrize("form", ["raw", "wrapped"])
def test_small_ptv_model_loaded_through_the_converter_gives_ptv_softmax(tmp_path, name, hub, form):
    case = json.load(open(PTV / "small_outputs.json"))[name]
    cfg = get_cfg()
    merge_from_file(cfg, str(REPO / "configs" / case["config"].replace("pytorchvideo/", "")))
    merge_from_list(cfg, [str(v) for v in case["overrides"]] + ["MODEL.MODEL_NAME", "PTVSlowFast" if "fast" in name else "PTVResNet"])
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    shapes = model.state_dict()
    # The PTV state dict in PTV key order, with this model's (reduced) shapes.
    ptv_keys = list(_ptv_layout(hub))
    _, source = pytorchvideo_to_state_dict(_fake_state(_ptv_layout(hub)))
    ours_name = {ptv: our for our, ptv in source.items()}
    ptv_state = {k: _fill(tuple(shapes[ours_name[k]].shape), i, k) for i, k in enumerate(ptv_keys)}
    obj = ptv_state if form == "raw" else {"epoch": 3, "model_state": {f"model.{k}": v for k, v in ptv_state.items()}}
    path = tmp_path / "ptv.pyth"
    torch.save(obj, path)
    assert load_checkpoint(str(path), model, checkpoint_type="pytorchvideo", strict=True) == -1
    x = _clip(case["num_frames"])
    inputs = [x[:, :, :: cfg.SLOWFAST.ALPHA], x] if "fast" in name else [x]
    with torch.no_grad():
        probs = model(inputs)[0]
    torch.testing.assert_close(probs, torch.tensor(case["probabilities"]), atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "key,family",
    [
        ("blocks.0.conv.conv_t.weight", "X3D"),
        ("blocks.5.pool.pre_conv.weight", "X3D"),
        ("cls_positional_encoding.cls_token", "MViT"),
        ("patch_embed.patch_model.weight", "MViT"),
    ],
)
def test_families_not_converted_yet_are_refused_by_name(key, family):
    state = {key: torch.zeros(2), "blocks.1.res_blocks.0.branch2.conv_a.weight": torch.zeros(2, 2, 1, 1, 1)}
    with pytest.raises(UnsupportedPyTorchVideoModel, match=family):
        pytorchvideo_to_state_dict(state)


def test_a_key_without_rule_is_reported_by_name():
    state = _fake_state(_ptv_layout("slow_r50"))
    state["blocks.5.extra.weight"] = torch.zeros(3)
    with pytest.raises(CheckpointMismatchError, match=r"blocks\.5\.extra\.weight"):
        pytorchvideo_to_state_dict(state)


def test_a_state_dict_of_this_codebase_is_not_taken_for_pytorchvideo():
    with pytest.raises(CheckpointMismatchError, match="CHECKPOINT_TYPE pytorch"):
        pytorchvideo_to_state_dict({"s1.pathway0_stem.conv.weight": torch.zeros(1)})


@pytest.mark.parametrize("name,reason", [("PTVCSN", "CSN"), ("PTVR2plus1D", "R\\(2\\+1\\)D")])
def test_ptv_names_without_an_equivalent_are_refused_with_the_reason(name, reason):
    cfg = get_cfg()
    merge_from_list(cfg, ["NUM_GPUS", "0", "MODEL.MODEL_NAME", name])
    with pytest.raises(NotImplementedError, match=reason):
        build_model(cfg)


def test_pytorchvideo_checkpoint_type_passes_validation():
    from slowfast.config import assert_and_infer_cfg

    cfg = get_cfg()
    merge_from_list(cfg, ["NUM_GPUS", "0", "TRAIN.CHECKPOINT_TYPE", "pytorchvideo", "TEST.CHECKPOINT_TYPE", "pytorchvideo"])
    assert_and_infer_cfg(cfg)
