"""The convolution trace: its sums are conv2d's outputs, its windows and products are what they claim."""

import io

import numpy as np
import pytest

import cnnlab
import cnnlab.functional as F
from cnnlab.cli import main
from cnnlab.inspect import images
from cnnlab.inspect.trace import random_trace, trace_conv2d

rng = np.random.default_rng(0)
# (channels, out_channels, size (H, W), kernel (kH, kW), stride, padding, dilation, bias)
CONFIGS = [
    (1, 1, (5, 5), (3, 3), 1, 0, 1, False),
    (1, 1, (6, 7), (3, 2), 2, 1, 1, True),
    (3, 1, (5, 6), (3, 3), 1, 1, 1, True),
    (2, 3, (7, 7), (2, 2), (2, 1), (0, 1), 1, True),
    (1, 2, (8, 8), (3, 3), 1, "same", 2, False),
    (2, 1, (6, 5), (3, 3), 1, "valid", 1, True),
    (1, 1, (4, 4), (5, 5), 3, 2, 1, False),
]


@pytest.mark.parametrize("c,o,size,kernel,stride,padding,dilation,bias", CONFIGS)
def test_trace_sums_equal_conv2d(c, o, size, kernel, stride, padding, dilation, bias):
    x = rng.standard_normal((c,) + size)
    w = rng.standard_normal((o, c) + kernel)
    b = rng.standard_normal(o) if bias else None
    t = trace_conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
    ref = F.conv2d(cnnlab.tensor(x[None]), cnnlab.tensor(w), None if b is None else cnnlab.tensor(b),
                   stride=stride, padding=padding, dilation=dilation).numpy()[0]
    np.testing.assert_allclose(t.output, ref, rtol=1e-12, atol=1e-12)
    # every step's sum is its own products' sum plus the bias, and its products are window * kernel
    for s in t.steps():
        np.testing.assert_allclose(s.products, s.window * w[s.out_channel], atol=1e-15)
        assert s.value == pytest.approx(s.products.sum() + s.bias, abs=1e-12)
        assert s.value == pytest.approx(ref[s.out_channel, s.row, s.col], abs=1e-12)


def test_windows_are_the_input_under_the_kernel():
    x = np.arange(1.0, 26.0).reshape(5, 5)
    t = trace_conv2d(x, np.ones((3, 3)), stride=2, padding=1, dilation=1)
    s = t.step(0, 1, 2)                     # rows 2*1-1 .. +2, cols 2*2-1 .. +2
    assert s.rows == (1, 2, 3) and s.cols == (3, 4, 5)
    expected = np.zeros((3, 3))
    expected[:, :2] = x[1:4, 3:5]           # column 5 is padding: zeros
    np.testing.assert_array_equal(s.window[0], expected)
    d = trace_conv2d(x, np.ones((2, 2)), dilation=2).step(0, 0, 1)
    assert d.rows == (0, 2) and d.cols == (1, 3)
    np.testing.assert_array_equal(d.window[0], x[np.ix_([0, 2], [1, 3])])


def test_hand_computed_example_and_text():
    # The lectures' kind of example: 3x3 input, 2x2 kernel [[1, 0], [0, -1]] (top-left minus bottom-right).
    x = [[1, 2, 0], [0, 1, 3], [2, 1, 0]]
    t = trace_conv2d(x, [[1, 0], [0, -1]], bias=1)
    np.testing.assert_array_equal(t.output[0], [[1 - 1 + 1, 2 - 3 + 1], [0 - 1 + 1, 1 - 0 + 1]])
    text = t.text()
    assert "output[0, 1]: window over input rows 0..1, cols 1..2" in text
    assert "sum = 2 + 0 + 0 + (-3) + bias 1 = 0" in text
    assert text.endswith("output:\n      1     0\n      0     2")
    assert "window" in text and "kernel" in text and "products" in text
    short = random_trace(6, 3).text(max_steps=2)
    assert "... 14 more windows" in short


def test_picture_shape_range_and_png(tmp_path):
    t = random_trace(4, 3, padding=1, channels=2, seed=3)
    pic = t.picture(cell=20)
    assert pic.ndim == 3 and pic.shape[2] == 3 and pic.dtype == np.float32
    assert pic.min() >= 0 and pic.max() <= 1 and pic.std() > 0.05
    Image = pytest.importorskip("PIL.Image")
    path = images.write_png(tmp_path / "trace.png", pic)
    with Image.open(path) as im:
        assert im.size == (pic.shape[1], pic.shape[0])
    assert t.picture(max_steps=3).shape[0] < pic.shape[0]   # three frames fit in one row of four
    with pytest.raises(ValueError, match=r"`out_channel` must be in 0..0"):
        t.picture(out_channel=1)


def test_errors_are_named():
    with pytest.raises(ValueError, match=r"trace_conv2d: input has 2 channels but weight expects 1"):
        trace_conv2d(np.zeros((2, 4, 4)), np.zeros((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="the kernel spans 5x5"):
        trace_conv2d(np.zeros((3, 3)), np.zeros((5, 5)))
    with pytest.raises(ValueError, match=r"`bias` must be a scalar or have one value per output channel \(2,\)"):
        trace_conv2d(np.zeros((1, 4, 4)), np.zeros((2, 1, 3, 3)), bias=[1, 2, 3])
    with pytest.raises(ValueError, match="`stride` must be a positive int"):
        trace_conv2d(np.zeros((4, 4)), np.zeros((3, 3)), stride=0)
    with pytest.raises(ValueError, match=r"`input` must be \(H, W\) or \(C, H, W\)"):
        trace_conv2d(np.zeros((1, 1, 4, 4)), np.zeros((3, 3)))
    with pytest.raises(TypeError, match="`input` must be numeric"):
        trace_conv2d(np.array([["a"]]), np.zeros((1, 1)))


def test_arith_trace_command(tmp_path, capsys):
    assert main(["arith", "--input", "5", "--kernel", "3", "--stride", "2", "--trace"]) == 0
    out = capsys.readouterr().out
    assert "output size: 2" in out and "conv2d trace: input 1x5x5" in out and out.count("sum = ") == 4
    png = tmp_path / "t.png"
    assert main(["arith", "--input", "3", "--kernel", "2", "--trace-input", "1 2 0; 0 1 3; 2 1 0",
                 "--trace-kernel", "1 0; 0 -1", "--trace-out", str(png)]) == 0
    out = capsys.readouterr().out
    assert "sum = 1 + 0 + 0 + (-1) = 0" in out and f"picture: {png}" in out
    Image = pytest.importorskip("PIL.Image")
    with Image.open(io.BytesIO(png.read_bytes())) as im:
        assert im.format == "PNG"
    assert main(["arith", "--input", "4", "--kernel", "2", "--trace-input", "1 2 3; 4 5 6; 7 8 9"]) == 2
    assert "--trace-input is 3x3" in capsys.readouterr().err
    assert main(["arith", "--input", "40", "--kernel", "3", "--trace"]) == 2
    assert "at most 16 wide" in capsys.readouterr().err
