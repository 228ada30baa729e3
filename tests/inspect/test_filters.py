"""Classic filters: kernels against hand computation, application through conv2d against PyTorch, the command."""

import io
import math

import numpy as np
import pytest

from cnnlab.cli import main
from cnnlab.inspect import filters, images


def _decode(path_or_bytes):
    Image = pytest.importorskip("PIL.Image")
    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    with Image.open(src) as im:
        im.load()
        return np.asarray(im)


# ------------------------------------------------------------------------------------------ kernels
def test_sobel_on_a_step_edge():
    # Dark left half, bright right half (step between columns 2 and 3): the vertical edge.
    x = np.zeros((5, 6))
    x[:, 3:] = 1.0
    gx = filters.apply_filter(x, "sobel-x")
    # Windows centred on columns 2 and 3 straddle the step: (1 + 2 + 1) * (1 - 0) = 4; elsewhere 0
    # (replicate padding continues the flat image at the border, so the border shows no edge).
    expected = np.zeros((5, 6))
    expected[:, 2:4] = 4.0
    np.testing.assert_allclose(gx, expected, atol=1e-12)
    np.testing.assert_allclose(filters.apply_filter(x, "sobel-y"), 0.0, atol=1e-12)
    # The same edge turned by 90 degrees answers to sobel-y; a bright-to-dark step gives -4.
    np.testing.assert_allclose(filters.apply_filter(x.T, "sobel-y"), expected.T, atol=1e-12)
    np.testing.assert_allclose(filters.apply_filter(1 - x, "sobel-x"), -expected, atol=1e-12)
    # Prewitt weights the three rows equally: (1 + 1 + 1) = 3.
    np.testing.assert_allclose(filters.apply_filter(x, "prewitt-x"), expected * 3 / 4, atol=1e-12)


def test_sobel_and_prewitt_kernels_by_hand():
    np.testing.assert_array_equal(filters.sobel_kernel("x"), [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    np.testing.assert_array_equal(filters.sobel_kernel("y"), [[-1, -2, -1], [0, 0, 0], [1, 2, 1]])
    np.testing.assert_array_equal(filters.prewitt_kernel("y"), [[-1, -1, -1], [0, 0, 0], [1, 1, 1]])


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0, 3.3])
def test_gaussian_sums_to_one_and_is_symmetric(sigma):
    k = filters.gaussian_kernel(sigma)
    assert k.shape == (2 * math.ceil(3 * sigma) + 1,) * 2
    assert k.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(k, k[::-1], atol=1e-15)
    np.testing.assert_allclose(k, k.T, atol=1e-15)
    assert k.argmax() == k.size // 2


def test_gaussian_values_by_hand():
    # sigma 1, 3x3: weights 1 (centre), e^-1/2 (edges), e^-1 (corners), over their sum.
    k = filters.gaussian_kernel(1.0, size=3)
    total = 1 + 4 * math.exp(-0.5) + 4 * math.exp(-1)
    assert k[1, 1] == pytest.approx(1 / total)
    assert k[0, 1] == pytest.approx(math.exp(-0.5) / total)
    assert k[0, 0] == pytest.approx(math.exp(-1) / total)


def test_blurs_keep_a_flat_image_and_spread_an_impulse_into_the_kernel():
    flat = np.full((7, 7), 0.3)
    for spec in ("box:3", "gaussian:1", "sharpen", "identity"):
        np.testing.assert_allclose(filters.apply_filter(flat, spec), flat, atol=1e-12)
    impulse = np.zeros((9, 9))
    impulse[4, 4] = 1.0
    k = filters.gaussian_kernel(1.0)                                       # 7x7
    out = filters.apply_filter(impulse, k, padding_mode="zeros")
    np.testing.assert_allclose(out[1:8, 1:8], k, atol=1e-15)
    box = filters.apply_filter(np.arange(9.0).reshape(3, 3), "box", padding_mode="zeros")
    assert box[1, 1] == pytest.approx(36 / 9)                              # mean of 0..8
    assert box[0, 0] == pytest.approx((0 + 1 + 3 + 4) / 9)                 # zeros outside


def test_laplacian_and_sharpen_by_hand():
    ramp = np.add.outer(np.arange(6.0), 2 * np.arange(6.0))               # linear: second derivatives vanish
    lap = filters.apply_filter(ramp, "laplacian", padding_mode="zeros")
    np.testing.assert_allclose(lap[1:-1, 1:-1], 0.0, atol=1e-12)
    np.testing.assert_array_equal(filters.sharpen_kernel(), [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    np.testing.assert_array_equal(filters.laplacian_kernel(diagonal=True), [[1, 1, 1], [1, -8, 1], [1, 1, 1]])
    spot = np.zeros((3, 3))
    spot[1, 1] = 1.0
    assert filters.apply_filter(spot, "sharpen", padding_mode="zeros")[1, 1] == pytest.approx(5.0)
    assert filters.apply_filter(spot, "sharpen", padding_mode="zeros")[0, 1] == pytest.approx(-1.0)


def test_gabor_symmetry():
    even = filters.gabor_kernel(theta=30, wavelength=5, sigma=2, phase=0, aspect=0.7)
    odd = filters.gabor_kernel(theta=30, wavelength=5, sigma=2, phase=90, aspect=0.7)
    np.testing.assert_allclose(even, even[::-1, ::-1], atol=1e-12)          # cosine: symmetric
    np.testing.assert_allclose(odd, -odd[::-1, ::-1], atol=1e-12)           # sine: antisymmetric
    zero = filters.gabor_kernel(theta=0, wavelength=4, sigma=2)
    np.testing.assert_allclose(filters.gabor_kernel(theta=90, wavelength=4, sigma=2), zero.T, atol=1e-12)
    np.testing.assert_allclose(zero, zero[::-1, :], atol=1e-12)             # theta 0: stripes are vertical
    # Centre row of theta 0 by hand: exp(-x^2 / (2 sigma^2)) cos(2 pi x / wavelength).
    r = zero.shape[0] // 2
    xs = np.arange(-r, r + 1)
    np.testing.assert_allclose(zero[r], np.exp(-xs ** 2 / 8) * np.cos(2 * np.pi * xs / 4), atol=1e-12)
    assert zero.shape == (2 * math.ceil(3 * 2 / 0.5) + 1,) * 2


# ------------------------------------------------------------------------------------------ application
def test_apply_filter_is_a_depthwise_conv2d_like_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 11))
    for spec, mode in (("gaussian:1.5", "replicate"), ("sobel-x", "reflect"), ("gabor:45", "zeros"),
                       ("1 2; 3 4", "circular")):
        k = filters.make_kernel(spec)
        ours = filters.apply_filter(x, spec, padding_mode=mode)
        kh, kw = k.shape
        pads = ((kw - 1) // 2, kw - 1 - (kw - 1) // 2, (kh - 1) // 2, kh - 1 - (kh - 1) // 2)
        t = torch.tensor(x)
        t = torch.nn.functional.pad(t, pads, mode="constant" if mode == "zeros" else mode)
        w = torch.tensor(np.broadcast_to(k, (3, 1, kh, kw)).copy())
        ref = torch.nn.functional.conv2d(t, w, groups=3).numpy()
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10, err_msg=spec)
        # each channel on its own, and an unbatched image the same
        np.testing.assert_allclose(filters.apply_filter(x[0, 1], spec, padding_mode=mode), ours[0, 1], atol=1e-10)
        np.testing.assert_allclose(filters.apply_filter(x[1], spec, padding_mode=mode), ours[1], atol=1e-10)


def test_make_kernel_specifications():
    assert filters.make_kernel("box:5").shape == (5, 5)
    np.testing.assert_allclose(filters.make_kernel("gaussian:2"), filters.gaussian_kernel(2))
    np.testing.assert_allclose(filters.make_kernel("gaussian:sigma=1,size=5"), filters.gaussian_kernel(1, 5))
    np.testing.assert_allclose(filters.make_kernel("gabor:theta=45,wavelength=6,sigma=2,phase=90,aspect=1"),
                               filters.gabor_kernel(45, 6, 2, 90, 1))
    np.testing.assert_array_equal(filters.make_kernel("Sobel-Y"), filters.sobel_kernel("y"))
    np.testing.assert_array_equal(filters.make_kernel("1, 0, -1; 2, 0, -2"), [[1, 0, -1], [2, 0, -2]])
    np.testing.assert_array_equal(filters.make_kernel(np.eye(2)), np.eye(2))


@pytest.mark.parametrize("spec,message", [
    ("emboss", "unknown kernel 'emboss'. Known kernels: identity, box"),
    ("sobel-x:3", "kernel 'sobel-x' takes no arguments"),
    ("gabor:width=3", "kernel 'gabor' does not take width. Its arguments: theta, wavelength"),
    ("gaussian:two", "'two' in 'gaussian:two' is not a finite number"),
    ("box:nan", "'nan' in 'box:nan' is not a finite number"),
    ("gabor:theta=inf", "'inf' in 'gabor:theta=inf' is not a finite number"),
    ("1 1e400", "'1e400' in '1 1e400' is not a finite number"),
    ("box:1003", "box_kernel: the kernel side must be at most 1001 pixels. Received: size=1003"),
    ("gaussian:1e6", r"the kernel side must be at most 1001 pixels. Received: size=6000001 "
                     r"\(from sigma=1e\+06\)"),
    ("box:4", "box_kernel: `size` must be odd"),
    ("gaussian:-1", "gaussian_kernel: `sigma` must be a positive number. Received: sigma=-1.0"),
    ("1 2; 3", "rows of equal length"),
])
def test_make_kernel_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        filters.make_kernel(spec)


def test_argument_errors():
    with pytest.raises(ValueError, match="`direction` must be 'x'"):
        filters.sobel_kernel("z")
    with pytest.raises(ValueError, match=r"apply_filter: `image` must be \(H, W\), \(C, H, W\) or \(N, C, H, W\)"):
        filters.apply_filter(np.zeros(5), "box")
    with pytest.raises(ValueError, match="a kernel array must be 2-D"):
        filters.make_kernel(np.zeros((1, 3, 3)))
    with pytest.raises(ValueError, match="filter_picture: `image` must be"):
        filters.filter_picture(np.zeros((2, 5, 5, 5)), "box")


# ------------------------------------------------------------------------------------------ pictures
@pytest.mark.parametrize("spec", ["gaussian:1", "sobel-x", "gabor:theta=45,wavelength=4,sigma=1"])
def test_filter_picture_shape_range_and_png(spec, tmp_path):
    rng = np.random.default_rng(1)
    for image in (rng.random((20, 24)), rng.random((20, 24, 3))):
        pic = filters.filter_picture(image, spec)
        assert pic.shape == (20 + 8, 2 * 24 + 12, 3) and pic.dtype == np.float32
        assert pic.min() >= 0 and pic.max() <= 1
        # left: the original
        np.testing.assert_allclose(pic[4:24, 4:28], images.to_rgb(image), atol=1e-6)
        path = images.write_png(tmp_path / "f.png", pic)
        np.testing.assert_array_equal(_decode(path), images.to_uint8(pic))


def test_display_of_signed_responses_centres_zero_on_grey():
    x = np.zeros((5, 6))
    x[:, 3:] = 1.0
    shown = filters.display_filtered(filters.apply_filter(x, "sobel-x"), "sobel-x")
    assert shown[0, 0] == pytest.approx(0.5) and shown[0, 2] == pytest.approx(1.0)
    assert filters.display_filtered(np.array([[1.5, -0.2]]), "box").tolist() == [[1.0, 0.0]]   # clipped


def test_filter_command_writes_the_side_by_side_png(tmp_path, capsys):
    Image = pytest.importorskip("PIL.Image")
    src = tmp_path / "in.png"
    rgb = (np.random.default_rng(0).random((16, 12, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(src)
    out = tmp_path / "out.png"
    assert main(["filter", str(src), "--kernel", "gaussian:1", "--out", str(out)]) == 0
    assert "gaussian:1 (7x7 kernel, right)" in capsys.readouterr().out
    decoded = _decode(str(out))
    assert decoded.shape == (16 + 8, 2 * 12 + 12, 3)
    np.testing.assert_array_equal(decoded[4:20, 4:16], rgb)                # the original, unchanged
    assert main(["filter", str(src), "--kernel", "blur", "--out", str(out)]) == 2
    assert "unknown kernel 'blur'" in capsys.readouterr().err
    assert main(["filter", str(tmp_path / "missing.png"), "--kernel", "box", "--out", str(out)]) == 2
    assert "no such image file" in capsys.readouterr().err
