"""cnnlab.vision.models (architectures only, weights= and pretrained=) and cnnlab.vision.utils
(make_grid and save_image, against hand-worked layouts of torchvision's documented rules)."""

import numpy as np
import pytest
from PIL import Image

import cnnlab
from cnnlab import models as zoo
from cnnlab.vision import models, utils


def test_the_usual_listing_names_architectures_only():
    names = sorted(n for n in models.__dict__ if n.islower() and not n.startswith("__")
                   and callable(models.__dict__[n]))
    assert names == models.list_models() == zoo.list_models()
    assert {"resnet18", "vgg16", "lenet5"} <= set(names)
    assert not {"get", "register_model", "list_models", "get_model", "skip_init"} & set(names)
    assert models.list_models(include="vgg1?", exclude="*_bn") == ["vgg11", "vgg13", "vgg16", "vgg19"]


def test_builders_take_weights_none_and_pretrained_false():
    assert models.resnet18(weights=None, num_classes=7).fc.out_features == 7
    assert isinstance(models.lenet5(pretrained=False), cnnlab.nn.Module)
    assert isinstance(zoo.resnet20(weights=None, progress=False), cnnlab.nn.Module)
    assert models.get_model("lenet5", weights=None) is not None


@pytest.mark.parametrize("name", zoo.list_models())
def test_every_builder_refuses_a_weights_name_in_one_line(name):
    with pytest.raises(ValueError) as info:
        getattr(models, name)(weights="IMAGENET1K_V1")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{name}: cnnlab does not download pretrained weights (received "
                              f"weights='IMAGENET1K_V1')")
    assert f"cnnlab.interop.load_torch_state_dict(model, '{name}.safetensors')" in message


def test_weights_enums_and_pretrained_true():
    with pytest.raises(ValueError, match=r"resnet50: .* \(received weights='IMAGENET1K_V2'\)"):
        models.resnet50(weights=models.ResNet50_Weights.IMAGENET1K_V2)
    with pytest.raises(ValueError, match=r"vgg16: .* \(received pretrained=True\)"):
        models.vgg16(pretrained=True)
    with pytest.raises(AttributeError, match=r"cnnlab.vision.models has no `vit_b_16`; its architectures are"):
        models.vit_b_16


# ---------------------------------------------------------------------- make_grid, save_image
def test_make_grid_layout_hand_worked():
    x = np.stack([np.full((1, 3, 3), k, np.float32) for k in range(5)])        # 5 one-channel 3x3 images
    grid = utils.make_grid(cnnlab.tensor(x), nrow=2, padding=1, pad_value=0.5).numpy()
    assert grid.shape == (3, 3 * 4 + 1, 2 * 4 + 1)                             # 3 rows, 2 columns, 3 channels
    for k in range(5):
        r, c = divmod(k, 2)
        np.testing.assert_array_equal(grid[:, 1 + 4 * r:4 + 4 * r, 1 + 4 * c:4 + 4 * c], k)
    mask = np.ones(grid.shape[1:], bool)
    for k in range(5):
        r, c = divmod(k, 2)
        mask[1 + 4 * r:4 + 4 * r, 1 + 4 * c:4 + 4 * c] = False
    assert np.all(grid[:, mask] == 0.5)                                         # padding, and the empty 6th cell
    assert utils.make_grid(cnnlab.tensor(x[:3]), padding=2).shape == (3, 7, 17)  # one row of 3: 3*(3+2)+2
    single = utils.make_grid(cnnlab.tensor(x[1]))
    assert single.shape == (3, 3, 3) and np.all(single.numpy() == 1)               # one image: no padding
    assert utils.make_grid([cnnlab.tensor(x[0]), cnnlab.tensor(x[1])], padding=0).shape == (3, 3, 6)


def test_make_grid_normalize():
    x = np.array([[[[0.0, 2.0]]], [[[4.0, 8.0]]]], np.float32)                  # (2, 1, 1, 2)
    whole = utils.make_grid(cnnlab.tensor(x), normalize=True, padding=0).numpy()[0]
    np.testing.assert_allclose(whole, [[0.0, 0.25, 0.5, 1.0]])                  # by the min 0 and max 8
    each = utils.make_grid(cnnlab.tensor(x), normalize=True, scale_each=True, padding=0).numpy()[0]
    np.testing.assert_allclose(each, [[0.0, 1.0, 0.0, 1.0]])
    ranged = utils.make_grid(cnnlab.tensor(x), normalize=True, value_range=(1.0, 5.0), padding=0).numpy()[0]
    np.testing.assert_allclose(ranged, [[0.0, 0.25, 0.75, 1.0]])                # clamped to [1, 5] first
    np.testing.assert_array_equal(x[0, 0, 0], [0.0, 2.0])                       # the input is untouched
    with pytest.raises(TypeError, match=r"make_grid: `value_range` must be a tuple \(min, max\)"):
        utils.make_grid(cnnlab.tensor(x), normalize=True, value_range=[0, 1])


def test_save_image_rounds_half_up(tmp_path):
    x = np.array([[[[0.0, 0.5, 1.0, 1.7, -0.2, 0.2]]]], np.float32)             # (1, 1, 1, 6)
    path = tmp_path / "grid.png"
    utils.save_image(cnnlab.tensor(x), path)
    pixels = np.asarray(Image.open(path))
    assert pixels.shape == (1, 6, 3)
    np.testing.assert_array_equal(pixels[0, :, 0], [0, 128, 255, 255, 0, 51])  # 0.2*255+0.5 = 51.5 -> 51
