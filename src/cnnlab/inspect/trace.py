"""The convolution written out by hand: every window, its element-wise products and the sum.

``trace_conv2d`` takes a small input and kernel and returns a ``ConvTrace`` holding, for every output
position, the input window the kernel covers, the products ``window * kernel`` and their sum (plus the
bias) that lands in the output: the computation the lectures draw on the board, as text
(``ConvTrace.text()``) or as a picture (``ConvTrace.picture()``). It is computed from NumPy's window view,
on its own, and its sums are the values ``F.conv2d`` returns (tested).
"""

from dataclasses import dataclass

import numpy as np

from ..validation import is_int, padding_pairs, pair
from . import images


@dataclass
class TraceStep:
    """One output value: output[out_channel, row, col] = sum(products) + bias."""

    out_channel: int
    row: int
    col: int
    rows: tuple          # input rows the window covers (unpadded coordinates; <0 or >=H is padding)
    cols: tuple          # input columns the window covers
    window: np.ndarray   # (C, kH, kW) input values under the kernel
    products: np.ndarray  # (C, kH, kW) window * kernel
    bias: float
    value: float


def _fmt(v, integral):
    if integral:
        return str(int(round(v)))
    return f"{v:.3g}"


class ConvTrace:
    """Everything a small convolution computes, window by window (see ``trace_conv2d``).

    Attributes:
        input: (C, H, W) the input; ``padded``: (C, Hp, Wp) after zero padding.
        weight: (O, C, kH, kW); ``bias``: (O,) (zeros when none was given).
        windows: (oH, oW, C, kH, kW) the input window of each output position.
        products: (O, oH, oW, C, kH, kW) each window times each kernel, element-wise.
        output: (O, oH, oW) the sums of the products plus the bias.
        stride, dilation: pairs; pads: ((top, bottom), (left, right)).
    """

    def __init__(self, x, padded, weight, bias, windows, stride, pads, dilation):
        self.input, self.padded, self.weight, self.bias = x, padded, weight, bias
        self.windows = windows
        self.stride, self.pads, self.dilation = stride, pads, dilation
        self.products = windows[None] * weight[:, None, None]                # (O, oH, oW, C, kH, kW)
        self.output = self.products.sum(axis=(3, 4, 5)) + bias[:, None, None]  # (O, oH, oW)
        values = [x, weight, bias]
        self._integral = all(np.all(v == np.round(v)) for v in values)

    @property
    def output_shape(self):
        return self.output.shape

    def step(self, out_channel, row, col):
        """The ``TraceStep`` of output[out_channel, row, col]."""
        _, kh, kw = self.weight.shape[1:]
        (top, _), (left, _) = self.pads
        r0 = row * self.stride[0] - top
        c0 = col * self.stride[1] - left
        return TraceStep(out_channel, row, col,
                         tuple(r0 + p * self.dilation[0] for p in range(kh)),
                         tuple(c0 + q * self.dilation[1] for q in range(kw)),
                         self.windows[row, col], self.products[out_channel, row, col],
                         float(self.bias[out_channel]), float(self.output[out_channel, row, col]))

    def steps(self):
        """Every step, output channel by channel, in raster order (row by row, left to right)."""
        o, oh, ow = self.output.shape
        return [self.step(k, i, j) for k in range(o) for i in range(oh) for j in range(ow)]

    # ------------------------------------------------------------------ text
    def _matrix(self, a):
        return [[_fmt(v, self._integral) for v in row] for row in a]

    def _blocks(self, blocks, titles, gap=4):
        """Matrices of strings side by side under their titles, right-aligned columns."""
        cell = max((len(v) for b in blocks for r in b for v in r), default=1)
        blocks = [[" ".join(v.rjust(cell) for v in r) for r in b] for b in blocks]
        widths = [max(len(t), max((len(r) for r in b), default=0)) for b, t in zip(blocks, titles)]
        height = max(len(b) for b in blocks)
        lines = ["  " + (" " * gap).join(t.ljust(w) for t, w in zip(titles, widths))]
        for i in range(height):
            lines.append("  " + (" " * gap).join((b[i] if i < len(b) else "").rjust(w)
                                                  for b, w in zip(blocks, widths)).rstrip())
        return lines

    def step_text(self, s):
        """The lines that explain one step."""
        c = s.window.shape[0]
        name = f"output[{s.out_channel}, {s.row}, {s.col}]" if self.output.shape[0] > 1 else \
            f"output[{s.row}, {s.col}]"
        span = f"rows {s.rows[0]}..{s.rows[-1]}, cols {s.cols[0]}..{s.cols[-1]}"
        lines = [f"{name}: window over input {span}"]
        for ch in range(c):
            prefix = f"channel {ch} " if c > 1 else ""
            lines += self._blocks([self._matrix(s.window[ch]), self._matrix(self.weight[s.out_channel, ch]),
                                   self._matrix(s.products[ch])],
                                  [prefix + "window", "kernel", "products"])
        terms = s.products.ravel()
        total = _fmt(s.value, self._integral)
        if terms.size <= 27:
            text = " + ".join(_fmt(t, self._integral) if t >= 0 else f"({_fmt(t, self._integral)})" for t in terms)
        else:
            text = f"sum of {terms.size} products"
        if s.bias != 0:
            text += f" + bias {_fmt(s.bias, self._integral)}"
        lines.append(f"  sum = {text} = {total}")
        return lines

    def text(self, max_steps=None):
        """The whole trace as text: the setting, every step (up to ``max_steps``), and the output."""
        o, oh, ow = self.output.shape
        c, h, w = self.input.shape
        kh, kw = self.weight.shape[2:]
        lines = [f"conv2d trace: input {c}x{h}x{w}, kernel {o}x{c}x{kh}x{kw}, stride {self.stride}, "
                 f"padding {self.pads}, dilation {self.dilation} -> output {o}x{oh}x{ow}"]
        steps = self.steps()
        for s in steps[:max_steps]:
            lines.append("")
            lines += self.step_text(s)
        if max_steps is not None and len(steps) > max_steps:
            lines += ["", f"... {len(steps) - max_steps} more windows"]
        lines += ["", "output:"]
        for k in range(o):
            if o > 1:
                lines.append(f"  channel {k}")
            lines += ["  " + " ".join(v.rjust(5) for v in row) for row in self._matrix(self.output[k])]
        return "\n".join(lines)

    def __str__(self):
        return self.text()

    # ------------------------------------------------------------------ picture
    def picture(self, out_channel=0, max_steps=36, cell=26):
        """The steps of one output channel as drawn frames in a grid, (H, W, 3) float32 in [0, 1].

        Each frame shows the padded input with the window outlined (padding shaded), the kernel, the
        products, and the output filled in up to this step. Needs Pillow.
        """
        if not 0 <= out_channel < self.output.shape[0]:
            raise ValueError(f"ConvTrace.picture: `out_channel` must be in 0..{self.output.shape[0] - 1}. "
                             f"Received: out_channel={out_channel}")
        _, oh, ow = self.output.shape
        steps = [self.step(out_channel, i, j) for i in range(oh) for j in range(ow)][:max_steps]
        frames = [self._frame(s, cell) for s in steps]
        return images.grid(frames, ncols=min(ow, len(frames)), pad=6, background=0.85)

    def _frame(self, s, cell):
        """One step drawn: the padded input per channel with the window shaded, the kernel, the products,
        and the output filled in up to this step."""
        c, hp, wp = self.padded.shape
        kh, kw = self.weight.shape[2:]
        _, oh, ow = self.output.shape
        gap, title = cell, 2 * cell
        block_h = max(hp, kh) * cell + gap
        canvas = _Canvas((wp + 2 * kw + ow) * cell + 5 * gap, title + c * block_h, cell, self._integral)
        label = (f"out[{s.row},{s.col}] = sum of products"
                 + (f" + bias {_fmt(s.bias, self._integral)}" if s.bias else "")
                 + f" = {_fmt(s.value, self._integral)}")
        canvas.draw.text((gap, cell // 2), label, fill="black", font=canvas.font)
        input_fill = self._input_fill(s)
        for ch in range(c):
            y0 = title + ch * block_h
            x = gap
            canvas.table(x, y0, self.padded[ch].astype(object), fill=input_fill)
            x += wp * cell + gap
            canvas.table(x, y0, self.weight[s.out_channel, ch].astype(object), fill=lambda r, q: (255, 235, 200),
                         outline=(230, 140, 0))
            x += kw * cell + gap
            canvas.table(x, y0, s.products[ch].astype(object), fill=lambda r, q: (200, 235, 200))
        done = np.full((oh, ow), np.nan, dtype=object)
        upto = s.row * ow + s.col + 1
        done.reshape(-1)[:upto] = self.output[s.out_channel].ravel()[:upto]
        y0 = title + max(0, (c * block_h - gap - oh * cell) // 2)
        canvas.table(gap + (wp + 2 * kw) * cell + 3 * gap, y0, done,
                     fill=lambda r, q: (255, 240, 120) if (r, q) == (s.row, s.col) else "white")
        return np.asarray(canvas.image, dtype=np.float32) / 255.0

    def _input_fill(self, s):
        """The colour of each padded-input cell at step ``s``: window blue, padding grey, the rest white."""
        (top, _), (left, _) = self.pads
        h, w = self.input.shape[1:]
        rows = set(r + top for r in s.rows)
        cols = set(q + left for q in s.cols)

        def fill(r, q):
            if (r in rows) and (q in cols):
                return (170, 205, 255)
            inside = top <= r < top + h and left <= q < left + w
            return "white" if inside else (225, 225, 225)

        return fill


class _Canvas:
    """A white Pillow picture on which tables of numbers are drawn, one ``cell`` square per value."""

    def __init__(self, width, height, cell, integral):
        try:  # Pillow is an optional extra, needed only for pictures
            from PIL import Image, ImageDraw, ImageFont
        except ImportError:
            raise ImportError("ConvTrace.picture: drawing needs Pillow: pip install Pillow") from None
        try:
            self.font = ImageFont.load_default(size=max(8, cell * 11 // 26))
        except TypeError:  # Pillow < 10.1: a fixed bitmap font
            self.font = ImageFont.load_default()
        self.image = Image.new("RGB", (width, height), "white")
        self.draw = ImageDraw.Draw(self.image)
        self.cell, self.integral = cell, integral

    def table(self, x0, y0, values, fill=None, outline=None):
        """``values`` (2-D, None or NaN for an empty cell) at (x0, y0); ``fill(r, q)`` colours a cell."""
        cell, d = self.cell, self.draw
        for r in range(values.shape[0]):
            for q in range(values.shape[1]):
                box = [x0 + q * cell, y0 + r * cell, x0 + (q + 1) * cell, y0 + (r + 1) * cell]
                d.rectangle(box, fill=(fill(r, q) if fill else "white"), outline=(150, 150, 150))
                v = values[r, q]
                if v is not None and not (isinstance(v, float) and np.isnan(v)):
                    d.text((box[0] + cell / 2, box[1] + cell / 2), _fmt(float(v), self.integral),
                           fill="black", font=self.font, anchor="mm")
        if outline:
            x1, y1 = x0 + values.shape[1] * cell, y0 + values.shape[0] * cell
            d.rectangle([x0, y0, x1, y1], outline=outline, width=3)


def _array(fn, name, value):
    a = images.as_numpy(value)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{fn}: `{name}` must be numeric. Received dtype {a.dtype}")
    return a.astype(np.float64)


def _image_and_kernel(fn, input, weight):
    """``input`` as (C, H, W) and ``weight`` as (O, C, kH, kW) float64 arrays, checked to match."""
    x = _array(fn, "input", input)
    w = _array(fn, "weight", weight)
    if x.ndim == 2:
        x = x[None]                                                          # (H, W) -> (1, H, W)
    if x.ndim != 3:
        raise ValueError(f"{fn}: `input` must be (H, W) or (C, H, W), one image. Received shape {x.shape}")
    if w.ndim == 2:
        w = w[None, None]                                                    # (kH, kW) -> (1, 1, kH, kW)
    elif w.ndim == 3:
        w = w[None]                                                          # (C, kH, kW) -> (1, C, kH, kW)
    if w.ndim != 4:
        raise ValueError(f"{fn}: `weight` must be (kH, kW), (C, kH, kW) or (O, C, kH, kW). "
                         f"Received shape {w.shape}")
    if w.shape[1] != x.shape[0]:
        raise ValueError(f"{fn}: input has {x.shape[0]} channels but weight expects {w.shape[1]} "
                         f"(input shape {x.shape}, weight shape {w.shape})")
    return x, w


def _bias(fn, bias, o):
    """``bias`` (None, a scalar or one value per output channel) as an (O,) float64 array."""
    if bias is None:
        return np.zeros(o)
    b = _array(fn, "bias", bias).reshape(-1)
    if b.size == 1:
        b = np.repeat(b, o)
    if b.shape != (o,):
        raise ValueError(f"{fn}: `bias` must be a scalar or have one value per output channel ({o},). "
                         f"Received shape {images.as_numpy(bias).shape}")
    return b


def trace_conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1):
    """Trace a small convolution: every window, its products with the kernel and their sum.

    Arguments mean what they mean for ``F.conv2d`` (zero padding, no groups), for one image.

    Args:
        input: (H, W) or (C, H, W), array or Tensor.
        weight: (kH, kW), (C, kH, kW) for one output channel, or (O, C, kH, kW).
        bias: optional scalar or (O,).
        stride, padding, dilation: as ``F.conv2d`` (padding also "same" or "valid").

    Returns:
        ``ConvTrace`` whose ``output`` (O, oH, oW) equals ``F.conv2d(input[None], weight, bias, ...)[0]``.

    Shape:
        oH = floor((H + top + bottom - dH*(kH-1) - 1) / sH) + 1, likewise oW.

    Example:
        >>> t = trace_conv2d([[1, 2, 0], [0, 1, 3], [2, 1, 0]], [[1, 0], [0, -1]])
        >>> t.output[0].tolist()
        [[0.0, -1.0], [-1.0, 1.0]]
    """
    fn = "trace_conv2d"
    x, w = _image_and_kernel(fn, input, weight)
    b = _bias(fn, bias, w.shape[0])
    stride = pair(fn, "stride", stride, minimum=1)
    dilation = pair(fn, "dilation", dilation, minimum=1)
    kernel = w.shape[2:]
    pads = padding_pairs(fn, padding, kernel, stride, dilation)
    padded = np.pad(x, ((0, 0),) + pads)                                     # (C, Hp, Wp), zeros
    span = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel))
    if span[0] > padded.shape[1] or span[1] > padded.shape[2]:
        raise ValueError(f"{fn}: the kernel spans {span[0]}x{span[1]} (kernel {kernel[0]}x{kernel[1]}, dilation "
                         f"{dilation}) but the padded input is only {padded.shape[1]}x{padded.shape[2]}")
    # Every window of the dilated kernel's span, then every stride-th one and every dilation-th tap.
    spans = np.lib.stride_tricks.sliding_window_view(padded, span, axis=(1, 2))   # (C, H', W', spanH, spanW)
    windows = spans[:, ::stride[0], ::stride[1], ::dilation[0], ::dilation[1]]  # (C, oH, oW, kH, kW)
    windows = np.ascontiguousarray(windows.transpose(1, 2, 0, 3, 4))         # (oH, oW, C, kH, kW)
    return ConvTrace(x, padded, w, b, windows, stride, pads, dilation)


def random_trace(size=5, kernel=3, stride=1, padding=0, dilation=1, channels=1, seed=0, low=-1, high=3):
    """A trace of a random small integer image and kernel (what ``cnnlab arith --trace`` shows).

    Image values are drawn from 0..``high``, kernel values from ``low``..1, so sums stay short to read.
    """
    for name, v in (("size", size), ("kernel", kernel), ("channels", channels)):
        if not is_int(v) or v < 1:
            raise ValueError(f"random_trace: `{name}` must be a positive int. Received: {name}={v!r}")
    rng = np.random.default_rng(seed)
    x = rng.integers(0, high + 1, size=(channels, size, size)).astype(np.float64)
    w = rng.integers(low, 2, size=(channels, kernel, kernel)).astype(np.float64)
    return trace_conv2d(x, w, stride=stride, padding=padding, dilation=dilation)

