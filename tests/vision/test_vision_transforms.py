"""cnnlab.vision.transforms on Pillow images (against Pillow's own operations and hand-worked values)
and on Tensors (against torch where torch has the maths)."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance

import cnnlab
from cnnlab.vision import transforms as T


def rgb(h=6, w=10, seed=0):
    a = np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    return Image.fromarray(a), a


def test_resize_pil_follows_the_shorter_side_rule_and_pillow():
    img, _ = rgb(6, 10)
    out = T.Resize(3)(img)
    assert out.size == (5, 3)  # shorter side 6 -> 3, longer int(3 * 10 / 6) = 5
    np.testing.assert_array_equal(np.asarray(out), np.asarray(img.resize((5, 3), Image.BILINEAR)))
    out = T.Resize((4, 7), interpolation=T.InterpolationMode.BICUBIC)(img)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(img.resize((7, 4), Image.BICUBIC)))
    assert T.Resize(6)(img) is img
    assert T.Resize(4, max_size=5)(img).size == (5, 3)


def test_resize_tensor_matches_torch_antialiased_bilinear():
    x = np.random.default_rng(1).random((3, 12, 16)).astype(np.float32)
    ours = T.Resize((5, 7))(cnnlab.tensor(x))
    theirs = torch.nn.functional.interpolate(torch.tensor(x)[None], size=(5, 7), mode="bilinear",
                                             antialias=True, align_corners=False)[0]
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-5)


def test_center_crop_pil_hand_worked():
    img, a = rgb(5, 7)
    np.testing.assert_array_equal(np.asarray(T.CenterCrop(3)(img)), a[1:4, 2:5])      # round(1.0), round(2.0)
    np.testing.assert_array_equal(np.asarray(T.CenterCrop(4)(img)), a[0:4, 2:6])      # round(0.5)=0, round(1.5)=2
    big = np.asarray(T.CenterCrop((8, 9))(img))                                        # padded: top 1, left 1
    expected = np.zeros((8, 9, 3), np.uint8)
    expected[1:6, 1:8] = a
    np.testing.assert_array_equal(big, expected)
    np.testing.assert_array_equal(T.CenterCrop(3)(T.ToTensor()(img)).numpy(), T.ToTensor()(a[1:4, 2:5]).numpy())


def test_random_crop_with_padding_is_a_window_of_the_padded_image():
    img, a = rgb(8, 8)
    padded = np.pad(a, ((2, 2), (2, 2), (0, 0)))
    cnnlab.manual_seed(0)
    seen = set()
    for _ in range(20):
        out = np.asarray(T.RandomCrop(8, padding=2)(img))
        hits = [(i, j) for i in range(5) for j in range(5) if np.array_equal(padded[i:i + 8, j:j + 8], out)]
        assert hits
        seen.add(hits[0])
    assert len(seen) > 3
    cnnlab.manual_seed(0)
    again = np.asarray(T.RandomCrop(8, padding=2)(img))
    cnnlab.manual_seed(0)
    np.testing.assert_array_equal(np.asarray(T.RandomCrop(8, padding=2)(img)), again)
    small, _ = rgb(3, 3)
    assert T.RandomCrop(5, pad_if_needed=True)(small).size == (5, 5)
    with pytest.raises(ValueError, match=r"RandomCrop: the crop size \(5, 5\) is larger than the \(padded\) image"):
        T.RandomCrop(5)(small)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_pad_matches_numpy(mode):
    img, a = rgb(4, 5)
    out = np.asarray(T.Pad((1, 2, 3, 1), padding_mode=mode)(img))
    np.testing.assert_array_equal(out, np.pad(a, ((2, 1), (1, 3), (0, 0)), mode=mode))
    x = cnnlab.tensor(a.transpose(2, 0, 1).astype(np.float32))
    np.testing.assert_array_equal(T.Pad((1, 2, 3, 1), padding_mode=mode)(x).numpy(),
                                  np.pad(x.numpy(), ((0, 0), (2, 1), (1, 3)), mode=mode))


def test_flips():
    img, a = rgb()
    np.testing.assert_array_equal(np.asarray(T.RandomHorizontalFlip(1.0)(img)), a[:, ::-1])
    np.testing.assert_array_equal(np.asarray(T.RandomVerticalFlip(1.0)(img)), a[::-1])
    assert T.RandomHorizontalFlip(0.0)(img) is img
    x = T.ToTensor()(img)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(x).numpy(), x.numpy()[:, :, ::-1])


def test_rotation_by_a_quarter_turn_is_rot90():
    img, a = rgb(6, 6)
    out = np.asarray(T.RandomRotation((90, 90))(img))
    np.testing.assert_array_equal(out, np.rot90(a))                                  # counter-clockwise
    x = T.ToTensor()(img)
    np.testing.assert_allclose(T.RandomRotation((90, 90))(x).numpy(), np.rot90(x.numpy(), axes=(1, 2)), atol=1e-6)
    expanded = T.RandomRotation((45, 45), expand=True)(img)
    np.testing.assert_array_equal(np.asarray(expanded), np.asarray(img.rotate(45, Image.NEAREST, expand=True)))
    assert expanded.size[0] > 6


def test_random_resized_crop_of_the_whole_image_is_a_resize():
    img, _ = rgb(8, 8)
    out = T.RandomResizedCrop(4, scale=(1.0, 1.0), ratio=(1.0, 1.0))(img)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(img.resize((4, 4), Image.BILINEAR)))
    assert T.RandomResizedCrop((3, 5))(T.ToTensor()(img)).shape == (3, 3, 5)


def test_color_jitter_single_factors_are_pillows_enhancers():
    img, a = rgb()
    np.testing.assert_array_equal(np.asarray(T.ColorJitter(brightness=(1.5, 1.5))(img)),
                                  np.asarray(ImageEnhance.Brightness(img).enhance(1.5)))
    np.testing.assert_array_equal(np.asarray(T.ColorJitter(contrast=(0.5, 0.5))(img)),
                                  np.asarray(ImageEnhance.Contrast(img).enhance(0.5)))
    np.testing.assert_array_equal(np.asarray(T.ColorJitter(saturation=(0.0, 0.0))(img)),
                                  np.asarray(ImageEnhance.Color(img).enhance(0.0)))
    # hue: the H band of HSV shifted by trunc(0.25 * 255) = 63, wrapping at 256
    h, s, v = img.convert("HSV").split()
    shifted = ((np.asarray(h).astype(np.int64) + 63) % 256).astype(np.uint8)
    expected = Image.merge("HSV", (Image.fromarray(shifted, "L"), s, v)).convert("RGB")
    np.testing.assert_array_equal(np.asarray(T.ColorJitter(hue=(0.25, 0.25))(img)), np.asarray(expected))
    assert T.ColorJitter(0.4, 0.4, 0.4, 0.1)(T.ToTensor()(img)).shape == (3, 6, 10)


def test_grayscale_pil_and_tensor():
    img, a = rgb()
    gray = T.Grayscale()(img)
    assert gray.mode == "L"
    # Pillow's L = 0.299 R + 0.587 G + 0.114 B, in its 16-bit fixed point, rounded
    w = a.astype(np.int64)
    expected = (w[..., 0] * 19595 + w[..., 1] * 38470 + w[..., 2] * 7471 + 0x8000) >> 16
    np.testing.assert_array_equal(np.asarray(gray), expected)
    assert T.Grayscale(3)(img).mode == "RGB"
    x = T.ToTensor()(img)
    out = T.Grayscale(3)(x).numpy()
    luma = 0.2989 * x.numpy()[0] + 0.587 * x.numpy()[1] + 0.114 * x.numpy()[2]                # torchvision's weights
    assert out.shape == (3, 6, 10)
    for c in range(3):
        np.testing.assert_allclose(out[c], luma, rtol=1e-6)


def test_to_tensor_normalize_compose_lambda_and_back():
    img, a = rgb()
    pipeline = T.Compose([T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25)), T.Lambda(lambda t: t * 2)])
    out = pipeline(img)
    np.testing.assert_allclose(out.numpy(), (a.transpose(2, 0, 1) / 255.0 - 0.5) / 0.25 * 2, rtol=1e-5, atol=1e-5)
    assert T.ToTensor()(img.convert("L")).shape == (1, 6, 10)
    np.testing.assert_array_equal(np.asarray(T.ToPILImage()(T.ToTensor()(img))), a)    # k/255*255 truncates back
    np.testing.assert_array_equal(T.PILToTensor()(img).numpy(), a.transpose(2, 0, 1))
    with pytest.raises(TypeError, match=r"Normalize: expected an image .* Received an object of type Image"):
        T.Normalize((0.5,), (0.5,))(img)


def test_argument_errors():
    with pytest.raises(ValueError, match=r"Resize: `interpolation` must be one of nearest, .* Received: "
                                         r"interpolation='cubic'"):
        T.Resize(3, interpolation="cubic")
    with pytest.raises(ValueError, match=r"Grayscale: `num_output_channels` must be 1 or 3. Received: "
                                         r"num_output_channels=2"):
        T.Grayscale(2)
    with pytest.raises(ValueError, match=r"RandomRotation: `degrees` must be non-negative"):
        T.RandomRotation(-3)
    with pytest.raises(ValueError, match=r"RandomHorizontalFlip: `p` must be a probability in \[0, 1\]"):
        T.RandomHorizontalFlip(2)
