"""ImageNet class-folder dataset: layout, ResNet-recipe transforms, single centre crop, bad images."""

import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from slowfast.config import get_cfg
from slowfast.datasets import build_dataset
from slowfast.datasets.frame_list import FrameReadError
from slowfast.datasets.imagenet import random_resized_crop_box
from slowfast.datasets.kinetics import DatasetFormatError


@pytest.fixture
def imagenet_dir(tmp_path):
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c, name in enumerate(["n002", "n001"]):
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(2):
                Image.fromarray(rng.integers(0, 256, (30 + 4 * i, 40, 3), dtype=np.uint8)).save(
                    tmp_path / split / name / f"img{i}.png")
    (tmp_path / "val" / "README").mkdir()  # not a class folder
    return tmp_path


def _cfg(root, **data):
    cfg = get_cfg()
    cfg.DATA.PATH_TO_DATA_DIR = str(root)
    cfg.DATA.TRAIN_CROP_SIZE, cfg.DATA.TEST_CROP_SIZE = 24, 20
    cfg.DATA.MEAN, cfg.DATA.STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    cfg.DATA.TRAIN_JITTER_SCALES_RELATIVE = [0.08, 1.0]
    cfg.DATA.TRAIN_JITTER_ASPECT_RELATIVE = [0.75, 4 / 3]
    cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS = 1, 1
    for k, v in data.items():
        cfg.DATA[k] = v
    return cfg


def test_classes_are_sorted_class_folders(imagenet_dir):
    ds = build_dataset("imagenet", _cfg(imagenet_dir), "test")
    assert ds.classes == ["n001", "n002"] and len(ds) == 4
    assert [ds[i][1] for i in range(4)] == [0, 0, 1, 1]


def test_test_image_is_short_side_then_centre_crop(imagenet_dir):
    ds = build_dataset("imagenet", _cfg(imagenet_dir), "test")
    (view,), label, index, meta = ds[1]
    assert view.shape[0] == 1
    image = view[0]
    raw = np.asarray(Image.open(imagenet_dir / "val" / "n001" / "img1.png").convert("RGB"), dtype=np.float32) / 255
    x = torch.from_numpy(raw).permute(2, 0, 1)  # 34 x 40 -> 24 x 28
    x = F.interpolate(x[None], size=(24, 28), mode="bilinear", align_corners=False)[0]
    x = x[:, 2:22, 4:24]
    want = (x - torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    assert image.shape == (3, 20, 20) and index == 1 and meta["skipped"] == 0
    torch.testing.assert_close(image, want)


def test_train_image_shape_and_crop_box_bounds(imagenet_dir):
    ds = build_dataset("imagenet", _cfg(imagenet_dir), "train")
    (image,), label, _, _ = ds[0]
    assert image.shape == (3, 24, 24) and label == 0
    rng = random.Random(0)
    for _ in range(200):
        y, x, h, w = random_resized_crop_box(30, 40, (0.08, 1.0), (0.75, 4 / 3), rng)
        assert 0 <= y and y + h <= 30 and 0 <= x and x + w <= 40 and h > 0 and w > 0


def test_refusals_name_their_keys(imagenet_dir, tmp_path):
    with pytest.raises(ValueError, match="TRAIN_JITTER_SCALES_RELATIVE"):
        build_dataset("imagenet", _cfg(imagenet_dir, TRAIN_JITTER_SCALES_RELATIVE=[]), "train")
    with pytest.raises(ValueError, match="TRAIN_JITTER_MOTION_SHIFT"):
        build_dataset("imagenet", _cfg(imagenet_dir, TRAIN_JITTER_MOTION_SHIFT=True), "train")
    cfg = _cfg(imagenet_dir)
    cfg.TEST.NUM_SPATIAL_CROPS = 3
    with pytest.raises(ValueError, match="TEST.NUM_SPATIAL_CROPS 1"):
        build_dataset("imagenet", cfg, "test")
    with pytest.raises(ValueError, match="TEST_CROP_SIZE"):
        build_dataset("imagenet", _cfg(imagenet_dir, TEST_CROP_SIZE=32), "val")
    with pytest.raises(ValueError, match="IN_VAL_CROP_RATIO"):
        build_dataset("imagenet", _aug_cfg(imagenet_dir, IN_VAL_CROP_RATIO=1.5), "val")
    (tmp_path / "empty" / "val" / "cats").mkdir(parents=True)
    with pytest.raises(DatasetFormatError, match="no class folders"):
        build_dataset("imagenet", _cfg(tmp_path / "empty"), "val")


def test_bad_image_replaced_in_training_error_in_testing(imagenet_dir):
    (imagenet_dir / "train" / "n001" / "img0.png").write_bytes(b"broken")
    (imagenet_dir / "val" / "n001" / "img0.png").write_bytes(b"broken")
    train = build_dataset("imagenet", _cfg(imagenet_dir), "train")
    _, _, used, meta = train[0]
    assert used != 0 and meta["skipped"] == 1
    with pytest.raises(FrameReadError, match="img0.png"):
        build_dataset("imagenet", _cfg(imagenet_dir), "test")[0]


# ------------------------------------------------------------------ the AUG.ENABLE (timm) recipe

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def _aug_cfg(root, aa="", re_prob=0.0, jitter=0.0, flip=False, **data):
    """AUG.ENABLE with every random part off unless asked for; the crop ranges left empty (timm's defaults)."""
    cfg = _cfg(root, TRAIN_JITTER_SCALES_RELATIVE=[], TRAIN_JITTER_ASPECT_RELATIVE=[], RANDOM_FLIP=flip, **data)
    cfg.AUG.ENABLE = True
    cfg.AUG.AA_TYPE, cfg.AUG.RE_PROB, cfg.AUG.COLOR_JITTER = aa, re_prob, jitter
    cfg.AUG.RE_MODE = "const"
    return cfg


def _normalised(image: Image.Image) -> torch.Tensor:
    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return (x - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)


class ScriptedRng:
    """A random.Random stand-in returning scripted draws: uniform() from ``uniforms``, randint() from ``ints``."""

    def __init__(self, uniforms, ints):
        self.uniforms, self.ints = list(uniforms), list(ints)

    def uniform(self, a, b):
        return self.uniforms.pop(0)

    def randint(self, a, b):
        value = self.ints.pop(0)
        assert a <= value <= b
        return value

    def random(self):
        return 0.99  # no flip, no erasing


def test_aug_crop_box_by_hand_with_timm_default_ranges(imagenet_dir):
    from slowfast.datasets.imagenet import ImageAugmenter

    augment = ImageAugmenter(_aug_cfg(imagenet_dir))
    assert (augment.scale, augment.aspect) == ((0.08, 1.0), (0.75, 4 / 3))
    image = Image.new("RGB", (40, 30))
    # area 1200 * 0.5 = 600, log-aspect 0 -> 24 x 24 (round(24.49)); offsets drawn in [0, 6] and [0, 16].
    assert augment.crop_box(image, ScriptedRng([0.5, 0.0], [3, 11])) == (3, 11, 24, 24)
    # aspect e^0.2: w = round(sqrt(600 * 1.2214)) = 27, h = round(sqrt(600 / 1.2214)) = 22.
    assert augment.crop_box(image, ScriptedRng([0.5, 0.2], [8, 13])) == (8, 13, 22, 27)
    # Ten draws of the whole area at aspect 3/4 (30 wide, 40 high) never fit: the whole 30 x 40 image,
    # whose aspect 4/3 is inside the range.
    assert augment.crop_box(image, ScriptedRng([1.0, math.log(3 / 4)] * 10, [])) == (0, 0, 30, 40)


def test_aug_train_image_is_the_bicubic_resized_crop_of_its_box(imagenet_dir):
    from slowfast.datasets.imagenet import ImageAugmenter

    augment = ImageAugmenter(_aug_cfg(imagenet_dir))
    path = imagenet_dir / "train" / "n001" / "img1.png"  # 34 x 40
    image = Image.open(path).convert("RGB")
    out = augment(image, rng=ScriptedRng([0.5, 0.0], [4, 9]))  # a 26 x 26 box: round(sqrt(680)) = 26
    want = _normalised(image.crop((9, 4, 35, 30)).resize((24, 24), Image.BICUBIC))
    assert out.shape == (3, 24, 24)
    torch.testing.assert_close(out, want)


@pytest.mark.parametrize("ratio, size, box", [
    (0.8, (33, 25), (6, 2, 26, 22)),  # short side int(20 / 0.8) = 25, long int(25 * 40 / 30) = 33, offsets 6, 2
    (0.0, (20, 20), (0, 0, 20, 20)),  # a plain resize to the crop size
])
def test_aug_test_transform_follows_in_val_crop_ratio(imagenet_dir, ratio, size, box):
    ds = build_dataset("imagenet", _aug_cfg(imagenet_dir, IN_VAL_CROP_RATIO=ratio), "test")
    (view,), _, _, _ = ds[0]  # val/n001/img0.png is 30 x 40
    image = Image.open(imagenet_dir / "val" / "n001" / "img0.png").convert("RGB")
    want = _normalised(image.resize(size, Image.BICUBIC).crop(box))
    assert view.shape == (1, 3, 20, 20)
    torch.testing.assert_close(view[0], want)


def test_in_val_crop_ratio_size_rule():
    from slowfast.datasets.imagenet import centre_crop_pil, resize_short_side_pil

    assert int((1.0 / 0.875) * 224) == 256  # the published configs' test short side
    resized = resize_short_side_pil(Image.new("RGB", (40, 30)), 25)
    assert resized.size == (33, 25)  # long side int(25 * 40 / 30) = 33
    # torchvision's centre offsets round half to even: (33 - 20) / 2 = 6.5 -> 6, (25 - 20) / 2 = 2.5 -> 2.
    marked = Image.new("RGB", (33, 25))
    marked.putpixel((6, 2), (255, 0, 0))
    assert centre_crop_pil(marked, 20).getpixel((0, 0)) == (255, 0, 0)


def test_rand_augment_and_erasing_change_the_train_image_for_the_same_seed(imagenet_dir):
    plain = build_dataset("imagenet", _aug_cfg(imagenet_dir), "train")
    randaug = build_dataset("imagenet", _aug_cfg(imagenet_dir, aa="rand-m9-n6-mstd0.5-inc1"), "train")
    erased = build_dataset("imagenet", _aug_cfg(imagenet_dir, re_prob=1.0), "train")
    jitter = build_dataset("imagenet", _aug_cfg(imagenet_dir, jitter=0.4), "train")
    items = {}
    for name, ds in (("plain", plain), ("randaug", randaug), ("erased", erased), ("jitter", jitter)):
        random.seed(3)
        items[name] = ds[0][0][0]
        assert items[name].shape == (3, 24, 24)
    assert not torch.equal(items["plain"], items["randaug"])
    assert not torch.equal(items["plain"], items["jitter"])
    # Erasing runs after the (identical) crop: the changed pixels form boxes of zeros inside the image.
    changed = (items["plain"] != items["erased"]).any(0)
    assert changed.any() and (items["erased"][:, changed] == 0).all()
    rows, cols = changed.any(1).nonzero(), changed.any(0).nonzero()
    assert 0 <= rows.min() and rows.max() < 24 and 0 <= cols.min() and cols.max() < 24


def test_aug_turns_colour_jitter_off_when_rand_augment_is_set(imagenet_dir):
    from slowfast.datasets.imagenet import ImageAugmenter

    both = ImageAugmenter(_aug_cfg(imagenet_dir, aa="rand-m9-n6-mstd0.5-inc1", jitter=0.4))
    assert both.rand_augment is not None and both.color_jitter == 0.0
    assert both.rand_augment.fill == (124.0, 116.0, 104.0)  # round(255 * DATA.MEAN), timm's img_mean
    assert ImageAugmenter(_aug_cfg(imagenet_dir, jitter=0.4)).color_jitter == 0.4


def test_aug_flip_follows_random_flip(imagenet_dir):
    from slowfast.datasets.imagenet import ImageAugmenter

    image = Image.open(imagenet_dir / "train" / "n001" / "img1.png").convert("RGB")

    class FlipRng(ScriptedRng):
        def random(self):
            return 0.1  # flip; no erasing is configured

    flipped = ImageAugmenter(_aug_cfg(imagenet_dir, flip=True))(image, rng=FlipRng([0.5, 0.0], [4, 9]))
    kept = ImageAugmenter(_aug_cfg(imagenet_dir))(image, rng=FlipRng([0.5, 0.0], [4, 9]))
    torch.testing.assert_close(flipped, kept.flip(-1))


def test_num_sample_gives_n_views_and_collates_to_b_times_n(imagenet_dir):
    from torch.utils.data import DataLoader

    cfg = _aug_cfg(imagenet_dir, aa="rand-m9-n6-mstd0.5-inc1")
    cfg.AUG.NUM_SAMPLE = 2
    ds = build_dataset("imagenet", cfg, "train")
    (views,), label, _, _ = ds[2]
    assert views.shape == (2, 3, 24, 24) and label.tolist() == [1, 1]
    assert not torch.equal(views[0], views[1])
    inputs, labels, index, meta = next(iter(DataLoader(ds, batch_size=2, collate_fn=ds.collate_fn)))
    assert inputs[0].shape == (4, 3, 24, 24) and labels.shape == (4,) and index.shape == (4,)


def test_image_batches_mix_and_feed_the_2d_models(imagenet_dir):
    """[B, C, H, W] batches go through mixup/CutMix and into the 2D ResNet and the 2D-patch MViT."""
    from torch.utils.data import DataLoader

    from slowfast.datasets.mixup import MixUp
    from slowfast.models import build_model

    ds = build_dataset("imagenet", _aug_cfg(imagenet_dir, aa="rand-m9-n6-mstd0.5-inc1", re_prob=0.25,
                                            TRAIN_CROP_SIZE=32), "train")
    inputs, labels, _, _ = next(iter(DataLoader(ds, batch_size=4)))
    assert inputs[0].shape == (4, 3, 32, 32)
    torch.manual_seed(0)
    for switch in (0.0, 1.0):  # mixup, then CutMix
        mixed, targets = MixUp(switch_prob=switch, num_classes=2)([inputs[0].clone()], labels)
        assert mixed[0].shape == (4, 3, 32, 32) and targets.shape == (4, 2)
        torch.testing.assert_close(targets.sum(1), torch.ones(4))
    resnet = get_cfg()
    resnet.merge_from_file("configs/ImageNet/RES_R50.yaml")
    resnet.NUM_GPUS, resnet.MODEL.NUM_CLASSES, resnet.RESNET.WIDTH_PER_GROUP = 0, 2, 4
    resnet.DATA.TRAIN_CROP_SIZE = 32
    mvit = get_cfg()
    mvit.merge_from_file("configs/ImageNet/MVITv2_T.yaml")
    mvit.NUM_GPUS, mvit.MODEL.NUM_CLASSES, mvit.MVIT.EMBED_DIM = 0, 2, 8
    mvit.DATA.TRAIN_CROP_SIZE = mvit.DATA.TEST_CROP_SIZE = 32
    for cfg in (resnet, mvit):
        model = build_model(cfg).eval()
        with torch.no_grad():
            assert model([inputs[0]]).shape == (4, 2)
