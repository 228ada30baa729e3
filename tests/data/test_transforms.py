"""Transforms: geometry checked against PyTorch, Pillow and SciPy on the same input; colour against colorsys
and hand formulas; batches equal to their images one by one; seeded runs repeat; bad input explains itself."""

import colorsys

import numpy as np
import pytest

import cnnlab
from cnnlab import Tensor
from cnnlab.data import ArrayDataset, DataLoader, Generator
from cnnlab.data import transforms as T
from cnnlab.data.transforms._resample import gaussian_blur_matrix
from cnnlab.data.transforms.geometric import inverse_affine_matrices, resized_crop, warp_affine

torch = pytest.importorskip("torch")
ndimage = pytest.importorskip("scipy.ndimage")


def images(n=3, c=3, h=9, w=11, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).random((n, c, h, w)).astype(dtype)


def close(a, b, tol=1e-10):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=tol, atol=tol)


# ------------------------------------------------------------------------------------------------ shapes, kinds
ALL = [T.RandomHorizontalFlip(), T.RandomVerticalFlip(), T.RandomCrop(6, padding=2), T.CenterCrop(5), T.Resize(6),
       T.RandomResizedCrop(7), T.RandomRotation(20), T.RandomAffine(10, (0.1, 0.1), (0.9, 1.1), 5),
       T.ColorJitter(0.3, 0.3, 0.3, 0.1), T.RandomErasing(p=1.0), T.ElasticTransform(sigma=2.0),
       T.Normalize(0.5, 0.25), T.SubtractMean(np.full((3, 1, 1), 0.5)), T.FiveCrop(4), T.TenCrop(4),
       T.PCALighting(0.1, [0.2, 0.02, 0.01], np.eye(3))]


@pytest.mark.parametrize("t", ALL, ids=lambda t: type(t).__name__)
def test_image_and_batch_in_tensor_or_array_out_the_same_kind(t):
    x = images(dtype=np.float32)
    out = t(x)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape[0] == 3
    one = t(Tensor(x[0]))
    assert isinstance(one, Tensor) and one.shape == out.shape[1:] and one.dtype == np.float32


@pytest.mark.parametrize("t", ALL, ids=lambda t: type(t).__name__)
def test_wrong_rank_says_what_was_expected(t):
    with pytest.raises(ValueError, match=r"expected an image \(C, H, W\) or a batch of images \(N, C, H, W\)\. "
                                         r"Received a 2-D array of shape \(9, 11\)"):
        t(np.zeros((9, 11)))


@pytest.mark.parametrize("t", [T.Resize(4), T.RandomRotation(10), T.ColorJitter(0.2), T.Normalize(0, 1)],
                         ids=lambda t: type(t).__name__)
def test_integer_images_need_to_tensor_first(t):
    with pytest.raises(TypeError, match="expected a floating image .* apply ToTensor\\(\\) first. Received dtype uint8"):
        t(np.zeros((1, 4, 4), dtype=np.uint8))


@pytest.mark.parametrize("t", [T.RandomCrop(6, padding=2), T.RandomResizedCrop(5), T.RandomAffine(30, (0.2, 0.2)),
                               T.ColorJitter(0.5, 0.5, 0.5, 0.2), T.RandomErasing(), T.ElasticTransform(sigma=2.0)],
                         ids=lambda t: type(t).__name__)
def test_seeded_runs_repeat_and_generators_are_independent(t):
    x = images(n=6)
    cnnlab.manual_seed(3)
    a = t(x)
    cnnlab.manual_seed(3)
    b = t(x)
    close(a, b, 0)
    t.generator = Generator(5)
    c = t(x)
    t.generator = Generator(5)
    close(c, t(x), 0)
    t.generator = None


def test_compose_set_generator_and_loader_batch_transform():
    data = np.random.default_rng(0).integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
    ds = ArrayDataset(data, np.arange(10) % 3)
    pipeline = T.Compose([T.RandomCrop(8, padding=2), T.RandomHorizontalFlip(), T.Normalize(0.5, 0.5)])
    runs = []
    for _ in range(2):
        loader = DataLoader(ds, batch_size=4, shuffle=True, seed=1, batch_transform=pipeline)
        pipeline.set_generator(loader.generator)
        runs.append([b[0].numpy() for b in loader])
    assert [r.shape for r in runs[0]] == [(4, 3, 8, 8), (4, 3, 8, 8), (2, 3, 8, 8)]
    for a, b in zip(*runs):
        close(a, b, 0)
    assert "RandomCrop" in repr(pipeline)


# ------------------------------------------------------------------------------------------------ flips, crops
def test_flips_with_p_one_and_zero_and_per_image_choice():
    x = images(n=200, c=1, h=2, w=3)
    close(T.RandomHorizontalFlip(1.0)(x), x[..., ::-1])
    close(T.RandomVerticalFlip(1.0)(x), x[..., ::-1, :])
    close(T.RandomHorizontalFlip(0.0)(x), x)
    out = T.RandomHorizontalFlip(0.5, generator=np.random.default_rng(0))(x)
    flipped = np.all(out == x[..., ::-1], axis=(1, 2, 3))
    assert np.all(flipped | np.all(out == x, axis=(1, 2, 3)))
    assert 70 < flipped.sum() < 130


@pytest.mark.parametrize("mode,torch_mode", [("constant", "constant"), ("edge", "replicate"), ("reflect", "reflect")])
def test_random_crop_is_a_window_of_the_padded_image(mode, torch_mode):
    x = images(n=5, c=2, h=6, w=7)
    padded = torch.nn.functional.pad(torch.tensor(x), (3, 3, 2, 2), mode=torch_mode).numpy()   # (l, r, t, b)
    out = T.RandomCrop((6, 7), padding=(3, 2), padding_mode=mode)(x)
    for n in range(5):
        hits = [(i, j) for i in range(5) for j in range(7)
                if np.array_equal(padded[n, :, i:i + 6, j:j + 7], out[n])]
        assert hits, f"image {n} is no window of the padded image"


def test_random_crop_offsets_cover_every_position_and_pad_if_needed():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4).repeat(400, 0)
    out = T.RandomCrop(2, generator=np.random.default_rng(0))(x)
    corners = {float(o[0, 0, 0]) for o in out}
    assert corners == {float(v) for v in x[0, 0, :3, :3].ravel()}
    small = T.RandomCrop((6, 4), pad_if_needed=True, fill=7)(x[:3])
    padded = np.pad(x[0, 0], ((2, 2), (0, 0)), constant_values=7)              # the shortfall on both sides
    assert small.shape == (3, 1, 6, 4)
    assert all(any(np.array_equal(padded[i:i + 6], s[0]) for i in range(3)) for s in small)
    sym = T.RandomCrop(4, padding=1, padding_mode="symmetric")(x[:50])
    full = np.pad(x[0, 0], 1, mode="symmetric")
    assert all(any(np.array_equal(full[i:i + 4, j:j + 4], s[0]) for i in range(3) for j in range(3)) for s in sym)


def test_random_crop_per_channel_fill_and_errors():
    x = np.zeros((2, 3, 2, 2))
    out = T.RandomCrop(6, padding=2, fill=(1, 2, 3))(x)
    assert set(np.unique(out[:, 1])) == {0.0, 2.0}
    with pytest.raises(ValueError, match=r"RandomCrop: the crop 5x5 is larger than the \(padded\) image 2x2"):
        T.RandomCrop(5)(x)
    with pytest.raises(ValueError, match="RandomCrop: `padding_mode` must be one of"):
        T.RandomCrop(2, padding_mode="wrap")
    with pytest.raises(ValueError, match=r"RandomCrop: `size` must be a positive int or a pair \(h, w\)"):
        T.RandomCrop(0)
    with pytest.raises(ValueError, match="too large for 'reflect' padding of a 2x2 image"):
        T.RandomCrop(2, padding=2, padding_mode="reflect")(x)


def test_center_crop_uses_pythons_rounding_and_pads_small_images():
    x = images(n=1, c=1, h=7, w=8)
    close(T.CenterCrop((4, 5))(x), x[..., 2:6, 2:7])      # round(1.5) = 2, round(1.5) = 2
    close(T.CenterCrop((2, 3))(x), x[..., 2:4, 2:5])      # round(2.5) = 2 (half to even), round(2.5) = 2
    big = T.CenterCrop((9, 11))(x)
    assert big.shape == (1, 1, 9, 11)
    close(big[..., 1:8, 1:9], x)                           # padding (left 1, top 1, right 2, bottom 1)
    assert np.all(big[..., 0, :] == 0) and np.all(big[..., :, 9:] == 0)


# ------------------------------------------------------------------------------------------------ resizing
@pytest.mark.parametrize("size,antialias", [(5, True), (5, False), ((13, 17), True), ((13, 4), False), (3, True)])
def test_resize_equals_torch_interpolate_bilinear(size, antialias):
    x = images(n=2, c=2, h=9, w=11)
    out = T.Resize(size, antialias=antialias)(x)
    target = size if isinstance(size, tuple) else (size, int(size * 11 / 9))
    ref = torch.nn.functional.interpolate(torch.tensor(x), size=target, mode="bilinear", align_corners=False,
                                          antialias=antialias).numpy()
    close(out, ref, 1e-9)


def test_resize_nearest_equals_torch_and_shorter_side_rule():
    x = images(n=1, c=1, h=10, w=6)
    out = T.Resize(4, interpolation="nearest")(x)
    assert out.shape == (1, 1, 6, 4)                       # shorter side 6 -> 4, longer 10 -> int(4 * 10 / 6) = 6
    close(out, torch.nn.functional.interpolate(torch.tensor(x), size=(6, 4), mode="nearest").numpy())
    assert T.Resize(3, max_size=4)(x).shape == (1, 1, 4, 2)


def test_resize_antialiased_equals_pillow_float_images():
    from PIL import Image

    x = images(n=1, c=1, h=23, w=17)
    for size in [(7, 6), (31, 40), (23, 9)]:
        pil = Image.fromarray(x[0, 0].astype(np.float32), mode="F").resize((size[1], size[0]), Image.BILINEAR)
        close(T.Resize(size)(x)[0, 0], np.asarray(pil), 1e-5)


def test_random_resized_crop_equals_crop_then_torch_resize():
    x = images(n=4, c=3, h=20, w=16)
    top, left, hh, ww = np.array([0, 3, 5, 10]), np.array([2, 0, 7, 1]), np.array([20, 9, 6, 10]), np.array([10, 16, 3, 15])
    out = resized_crop(x, top, left, hh, ww, (8, 7))
    for n in range(4):
        crop = torch.tensor(x[n:n + 1, :, top[n]:top[n] + hh[n], left[n]:left[n] + ww[n]])
        ref = torch.nn.functional.interpolate(crop, size=(8, 7), mode="bilinear", antialias=True).numpy()
        close(out[n:n + 1], ref, 1e-9)


def test_random_resized_crop_params_obey_scale_and_ratio():
    rng = np.random.default_rng(0)
    top, left, h, w = T.RandomResizedCrop.get_params(rng, 500, 40, 30, (0.2, 0.6), (0.5, 2.0))
    assert np.all(top >= 0) and np.all(left >= 0) and np.all(top + h <= 40) and np.all(left + w <= 30)
    area = h * w / (40 * 30)
    assert area.min() > 0.17 and area.max() < 0.64
    ratio = w / h
    assert ratio.min() > 0.4 and ratio.max() < 2.3
    # No window of area 4x the image fits: every image falls back to the central crop within the ratio.
    top, left, h, w = T.RandomResizedCrop.get_params(rng, 3, 10, 40, (4.0, 5.0), (1.0, 2.0))
    assert (h.tolist(), w.tolist(), left.tolist(), top.tolist()) == ([10] * 3, [20] * 3, [10] * 3, [0] * 3)


# ------------------------------------------------------------------------------------------------ affine maps
def scipy_warp(x, m, pivot, order=1, cval=0.0):
    """SciPy's affine_transform with the same inverse map, rows/columns swapped to (y, x)."""
    a = np.array([[m[1, 1], m[1, 0]], [m[0, 1], m[0, 0]]])
    p = np.array([pivot[1], pivot[0]])
    offset = np.array([m[1, 2], m[0, 2]]) + p - a @ p
    return np.stack([ndimage.affine_transform(ch, a, offset=offset, order=order, mode="grid-constant", cval=cval)
                     for ch in x])


@pytest.mark.parametrize("angle,translate,scale,shear", [(30.0, (0, 0), 1.0, (0, 0)), (-75.0, (2, -1), 1.3, (10, 0)),
                                                         (12.0, (-3, 2), 0.7, (-20, 15)), (180.0, (0, 0), 1.0, (0, 0))])
def test_affine_warp_equals_scipy_affine_transform(angle, translate, scale, shear):
    x = images(n=1, c=2, h=12, w=9)
    m = inverse_affine_matrices([angle], [translate], [scale], [shear])
    pivot = ((9 - 1) / 2, (12 - 1) / 2)
    close(warp_affine(x, m)[0], scipy_warp(x[0], m[0], pivot), 1e-9)
    close(warp_affine(x, m, fill=0.25)[0], scipy_warp(x[0], m[0], pivot, cval=0.25), 1e-9)
    close(warp_affine(x, m, "nearest")[0], scipy_warp(x[0], m[0], pivot, order=0), 1e-12)


def test_rotation_by_90_degrees_is_counter_clockwise_as_torchvision():
    x = images(n=2, c=1, h=7, w=7)
    out = T.RandomRotation((90, 90))(x)
    close(out, np.rot90(x, k=1, axes=(2, 3)), 1e-9)
    out = T.RandomRotation((-90, -90), interpolation="nearest")(x)
    close(out, np.rot90(x, k=-1, axes=(2, 3)))


def test_affine_translation_moves_pixels_by_whole_pixels():
    x = images(n=1, c=1, h=6, w=8)
    m = inverse_affine_matrices([0.0], [(2, 1)], [1.0], [(0, 0)])
    out = warp_affine(x, m)
    close(out[0, 0, 1:, 2:], x[0, 0, :-1, :-2])
    assert np.all(out[0, 0, 0] == 0) and np.all(out[0, 0, :, :2] == 0)


def test_random_affine_batch_equals_each_image_with_the_same_draws():
    x = images(n=5, c=3, h=10, w=10)
    t = T.RandomAffine(25, translate=(0.2, 0.1), scale=(0.8, 1.2), shear=(-5, 5, -3, 3))
    params = t.get_params(np.random.default_rng(4), 5, 10, 10)
    t.generator = np.random.default_rng(4)
    out = t(x)
    for n in range(5):
        m = inverse_affine_matrices(*[np.asarray(p)[n:n + 1] for p in params])
        close(out[n], scipy_warp(x[n], m[0], (4.5, 4.5)), 1e-9)
    assert np.all(np.abs(params[1][:, 0]) <= 2) and np.all(params[1] == np.round(params[1]))


def test_rotation_and_affine_argument_errors():
    with pytest.raises(ValueError, match="RandomRotation: `degrees` must be non-negative when it is a single number. Received: degrees=-3"):
        T.RandomRotation(-3)
    with pytest.raises(ValueError, match="RandomRotation: `expand=True` is not supported"):
        T.RandomRotation(3, expand=True)
    with pytest.raises(ValueError, match="RandomRotation: `interpolation` must be 'bilinear' or 'nearest'"):
        T.RandomRotation(3, interpolation="bicubic")
    with pytest.raises(ValueError, match="RandomAffine: `translate` must be a pair of fractions"):
        T.RandomAffine(0, translate=(2, 0))
    with pytest.raises(ValueError, match="RandomAffine: `scale` must be a pair"):
        T.RandomAffine(0, scale=(0, 1))


# ------------------------------------------------------------------------------------------------ elastic
@pytest.mark.parametrize("size,sigma", [(30, 1.5), (11, 1.0), (9, 5.0)])
def test_gaussian_blur_matrix_equals_scipy_mirror_filter(size, sigma):
    v = np.random.default_rng(0).random(size)
    close(gaussian_blur_matrix(size, sigma) @ v, ndimage.gaussian_filter1d(v, sigma, mode="mirror", truncate=4.0),
          1e-12)


def test_elastic_transform_samples_at_the_displaced_grid_like_scipy():
    x = images(n=2, c=2, h=12, w=10)
    t = T.ElasticTransform(alpha=8.0, sigma=2.0)
    dy, dx = t.displacement(np.random.default_rng(1), 2, 12, 10)
    t.generator = np.random.default_rng(1)
    out = t(x)
    gy, gx = np.meshgrid(np.arange(12), np.arange(10), indexing="ij")
    for n in range(2):
        for c in range(2):
            ref = ndimage.map_coordinates(x[n, c], [gy + dy[n], gx + dx[n]], order=1, mode="grid-constant")
            close(out[n, c], ref, 1e-9)
    assert 0.05 < np.abs(dx).mean() < 5
    close(T.ElasticTransform(alpha=0.0)(x), x)
    assert T.ElasticDistortion is T.ElasticTransform


# ------------------------------------------------------------------------------------------------ colour
def test_brightness_contrast_saturation_by_hand():
    x = images(n=2, c=3, h=4, w=5)
    f = np.array([0.5, 1.7])
    gray = 0.2989 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]                        # (N, H, W)
    close(T.adjust_brightness(x, f), np.clip(x * f[:, None, None, None], 0, 1))
    mean = gray.mean(axis=(1, 2))[:, None, None, None]
    close(T.adjust_contrast(x, f), np.clip(f[:, None, None, None] * x + (1 - f[:, None, None, None]) * mean, 0, 1))
    close(T.adjust_saturation(x, f), np.clip(f[:, None, None, None] * x + (1 - f[:, None, None, None]) * gray[:, None], 0, 1))


def test_hue_shift_equals_colorsys():
    x = images(n=2, c=3, h=3, w=4)
    x[0, :, 0, 0] = 0.5                                   # a grey pixel keeps its value
    shift = np.array([0.25, -0.4])
    out = T.adjust_hue(x, shift)
    for n in range(2):
        for i in range(3):
            for j in range(4):
                h, s, v = colorsys.rgb_to_hsv(*x[n, :, i, j])
                close(out[n, :, i, j], colorsys.hsv_to_rgb((h + shift[n]) % 1.0, s, v), 1e-9)


def test_color_jitter_ranges_order_and_gray_images():
    t = T.ColorJitter(brightness=0.5, contrast=(0.2, 0.3), hue=0.1)
    assert t.brightness == (0.5, 1.5) and t.contrast == (0.2, 0.3) and t.saturation == (1.0, 1.0)
    assert t.hue == (-0.1, 0.1)
    x = images(n=8, c=1)
    out = T.ColorJitter(0.4, 0.4, 0.4, 0.2)(x)              # saturation and hue leave grey images alone
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match=r"ColorJitter: `hue` values must satisfy -0.5 <= min <= max <= 0.5"):
        T.ColorJitter(hue=0.7)
    with pytest.raises(ValueError, match="ColorJitter: `brightness` must be non-negative"):
        T.ColorJitter(brightness=-1)


def test_color_jitter_brightness_only_scales_each_image():
    x = images(n=6) * 0.5
    out = T.ColorJitter(brightness=0.3)(x)
    ratio = out / x
    per_image = ratio.reshape(6, -1)
    close(per_image, per_image[:, :1].repeat(per_image.shape[1], 1), 1e-9)
    assert np.all((per_image[:, 0] >= 0.7) & (per_image[:, 0] <= 1.3))


def test_pca_lighting_components_and_shift():
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (20, 6, 5, 3), dtype=np.uint8)
    ds = ArrayDataset(data, np.zeros(20, dtype=np.int64))
    eigval, eigvec = T.PCALighting.pixel_pca(ds)
    pixels = data.reshape(-1, 3) / 255.0
    ref_val, ref_vec = np.linalg.eigh(np.cov(pixels, rowvar=False))
    close(eigval, ref_val[::-1])
    close(np.abs(eigvec), np.abs(ref_vec[:, ::-1]), 1e-9)
    t = T.PCALighting(0.1, eigval, eigvec, generator=np.random.default_rng(2))
    x = images(n=4, h=5, w=6)
    shift = (t(x) - x).reshape(4, 3, -1)
    close(shift, shift[:, :, :1].repeat(30, 2), 1e-12)                  # one colour shift per image
    alpha = np.random.default_rng(2).normal(0, 0.1, (4, 3))
    close(shift[:, :, 0], (eigvec @ (alpha * eigval).T).T, 1e-12)      # eigvec @ (alpha * eigval), as the paper
    with pytest.raises(ValueError, match="PCALighting: the components are for 3 channels but the images have 1"):
        t(images(c=1))
    with pytest.raises(ValueError, match="PCALighting: needs `eigval` and `eigvec`"):
        T.PCALighting()


def test_random_erasing_erases_one_rectangle_within_the_scale():
    x = images(n=50, c=2, h=20, w=20) + 1.0
    out = T.RandomErasing(p=1.0, scale=(0.05, 0.2), value=(0.0, -1.0))(x)
    for n in range(50):
        erased = out[n, 0] == 0
        rows, cols = np.flatnonzero(erased.any(1)), np.flatnonzero(erased.any(0))
        assert erased.sum() == rows.size * cols.size                        # a full rectangle
        assert 0.04 * 400 <= erased.sum() <= 0.21 * 400
        assert np.all(out[n, 1][erased] == -1) and np.all(out[n][:, ~erased] == x[n][:, ~erased])
    close(T.RandomErasing(p=0.0)(x), x)
    noisy = T.RandomErasing(p=1.0, value="random")(x)
    assert noisy.shape == x.shape and (noisy < 0).any()


# ------------------------------------------------------------------------------------------------ normalise, mean
def test_normalize_subtract_mean_and_to_tensor():
    x = images(n=2, c=3, h=2, w=2)
    close(T.Normalize((0.1, 0.2, 0.3), (1.0, 2.0, 4.0))(x),
          (x - np.array([0.1, 0.2, 0.3])[:, None, None]) / np.array([1.0, 2.0, 4.0])[:, None, None])
    data = np.random.default_rng(0).integers(0, 256, (7, 4, 5, 3), dtype=np.uint8)
    ds = ArrayDataset(data, np.zeros(7, dtype=np.int64))
    sub = T.SubtractMean.from_dataset(ds)
    close(sub.mean, data.mean(axis=0).transpose(2, 0, 1) / 255.0)
    x = np.ones((7, 3, 4, 5))
    close(sub(x), np.broadcast_to(1.0 - data.mean(axis=0).transpose(2, 0, 1) / 255.0, x.shape))
    with pytest.raises(ValueError, match=r"SubtractMean: the mean image has shape \(3, 4, 5\) but the images are \(3, 5, 5\)"):
        sub(np.ones((1, 3, 5, 5)))
    img = T.ToTensor()(data[0])
    assert isinstance(img, Tensor) and img.shape == (3, 4, 5) and img.dtype == np.float32
    close(img.numpy(), data[0].transpose(2, 0, 1) / 255.0, 1e-7)
    assert T.ToTensor()(data).shape == (7, 3, 4, 5)
    from PIL import Image
    close(T.ToTensor()(Image.fromarray(data[0])).numpy(), img.numpy(), 0)
    with pytest.raises(ValueError, match=r"ToTensor: expected an image \(H, W\) or \(H, W, C\) or a batch"):
        T.ToTensor()(np.zeros((1, 1, 1, 1, 1), dtype=np.uint8))
    with pytest.raises(ValueError, match="Normalize: `mean` must have 1 or 3 values"):
        T.Normalize((0.1, 0.2), (1.0,))(x)


# ------------------------------------------------------------------------------------------------ test-time crops
def test_five_and_ten_crop():
    x = images(n=2, c=1, h=6, w=7)
    five = T.FiveCrop(4)(x)
    assert five.shape == (2, 5, 1, 4, 4)
    for k, (i, j) in enumerate([(0, 0), (0, 3), (2, 0), (2, 3), (1, 2)]):   # tl, tr, bl, br, centre
        close(five[:, k], x[..., i:i + 4, j:j + 4])
    ten = T.TenCrop(4)(x)
    close(ten[:, 5:], T.FiveCrop(4)(x[..., ::-1]))
    with pytest.raises(ValueError, match="FiveCrop: the crop 8x8 is larger than the image 6x7"):
        T.FiveCrop(8)(x)


# ------------------------------------------------------------------------------------------------ --augment names
def test_parse_augment_builds_the_named_pipeline_and_rejects_unknown_names():
    data = np.random.default_rng(0).integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    ds = ArrayDataset(data, np.zeros(6, dtype=np.int64))
    t = T.parse_augment("flip, crop:4, pca", ds)
    kinds = [type(s).__name__ for s in t.transforms]
    assert kinds == ["RandomHorizontalFlip", "RandomCrop", "PCALighting"]
    assert t.transforms[1].size == (8, 8) and t.transforms[1].padding == (4, 4, 4, 4)
    assert T.parse_augment("", ds) is None
    with pytest.raises(ValueError, match="parse_augment: unknown augmentation 'spin'.*Known augmentations: flip"):
        T.parse_augment("flip,spin", ds)
    with pytest.raises(ValueError, match=r"parse_augment: the value of 'crop' must be an int in \[0, 8\]"):
        T.parse_augment("crop:x", ds)
    for spec in ("rotate:nan", "rotate:inf", "rotate:-1", "crop:9", "erase:1.5", "jitter:1e400",
                 "resized-crop:0"):   # every value finite and in range, one line naming the item
        with pytest.raises(ValueError, match=f"parse_augment: the value of .* Received '{spec}'"):
            T.parse_augment(spec, ds)
    with pytest.raises(ValueError, match="parse_augment: 'flip' takes no value"):
        T.parse_augment("flip:2", ds)


def test_random_apply_decides_per_image_and_lambda_passes_through():
    x = images(n=60, c=1, h=2, w=3)
    out = T.RandomApply([T.RandomHorizontalFlip(1.0)], p=0.5, generator=np.random.default_rng(0))(x)
    flipped = np.all(out == x[..., ::-1], axis=(1, 2, 3))
    assert np.all(flipped | np.all(out == x, axis=(1, 2, 3))) and 15 < flipped.sum() < 45
    close(T.RandomApply([T.RandomHorizontalFlip(1.0)], p=1.0)(x), x[..., ::-1])
    close(T.Compose([T.Lambda(lambda a: a * 2)])(x), 2 * x)
    with pytest.raises(ValueError, match=r"RandomApply: `p` must be a probability in \[0, 1\]. Received: p=2"):
        T.RandomApply([], p=2)
    with pytest.raises(TypeError, match="Compose: every transform must be callable. Received transforms\\[1\\] of type int"):
        T.Compose([T.Lambda(abs), 3])
