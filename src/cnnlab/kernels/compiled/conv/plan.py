"""The convolution's one table: which formulation computes an op for a shape, with which tiles.

Every number the formulations are tuned by lives here, each with the measurement behind it
(benchmarks/RESULTS.md); ``choose`` reads the table and returns one ``Plan``.

Formulations (modules of this package, one shared signature per op, see ``__init__``):

- ``direct`` (stride 1): register tile of ``direct_block`` output channels x ``DIRECT_TILE``
  positions on padded rows laid end to end; narrow outputs (LeNet's 6 channels), a first layer's
  input gradient, and the weight gradient of layers with few input channels.
- ``columns`` (16+ outputs, any stride): register tiles read straight from the padded channels-last
  input for float32 with 16, 32 or 64 outputs (``TILES``) or wider in blocks of 64 (given a task for
  every thread: ``tile_tasks``), else cache-sized chunks of im2col columns times the kernel matrix
  through the in-kernel GEMM.
- ``pixels`` (forward, float32, FEW_PIXELS times fewer output pixels than output channels: a batch-1
  network's last stages): the kernels as they lie times transposed columns, in register tiles.
- ``depthwise`` (groups = channels, one or more filters per channel): plane tasks on NCHW memory,
  loops over the channels on channels-last memory (chosen by layout in the module); at stride 1 its
  backward computes the three gradients in one pass over the gradient's planes.
"""

from collections import namedtuple

import numpy as np

# -------------------------------------------------------------------------------- thresholds
DIRECT_WGRAD_MAX_CHANNELS = 4   # the direct weight gradient up to this many input channels a group
COLUMNS_MIN_WIDTH = 16          # the columns' formulation wants 16+ outputs (measured, RESULTS.md)

# -------------------------------------------------------------------------------- tiles
DIRECT_TILE = 64     # output positions per direct register tile: the vector loop's length
# Output channels per direct register tile (6 x 64 float32: 24 registers). A tile computes a whole
# block, so 6 outputs in blocks of 4 computed 8 (LeNet's layers: 1.3-1.5x slower than blocks of 6).
DIRECT_BLOCKS = (6, 4, 3)

# Register tiles of the columns' products, (rows R, vectors V of 16 float32) per output width: R*V
# accumulators plus V kernel vectors and a broadcast stay within 32 vector registers.
TILES = {16: (14, 1), 32: (7, 2), 64: (6, 4)}
# The weight gradient's tiles (R input channels of one tap x 16V outputs), per output width.
WGRAD_TILES = {16: (16, 1), 32: (8, 2), 64: (4, 4)}
# A narrower one for 16 outputs from channels in sixes (LeNet's 6 -> 16 layer): 0.27 against 0.87 ms
# through the columns' GEMM (N128, 12x12, 5x5, 2 threads).
WGRAD_NARROW_ROWS = 6
# From one input channel, the 5 taps of a kernel row are 5 consecutive values of the padded input (no
# dilation): the tile takes them as its rows (fashion_cnn's first layer, 1 -> 16, 5x5: 0.53 against
# 0.89 ms through the direct kernel).
WGRAD_TAP_ROWS = 5
# The weight gradient reads the unpadded input, listing each tap's pixels inside the image, from
# input x output channels of WGRAD_UNPADDED_MIN on: it saves the padded copy and the border's
# products (3x3, N128, 2 threads, min ms, padded -> unpadded: 64 -> 64 at 8x8 2.8 -> 2.4, at 32x32
# 45.8 -> 42.7, 128 -> 128 at 28x28 (N32) 34.7 -> 32.4, 32 -> 32 at 16x16 2.9 -> 2.8); narrower
# layers spend more on the lists than the copy costs (16 -> 16 at 32x32 3.1-3.4 -> 3.6, 5x5 16 -> 32
# at 28x28 (N64) 6.0 -> 6.3).
WGRAD_UNPADDED_MIN = 1024
TILE_GROUP = 168              # output rows sharing one block of the kernel panel (12-28 tiles)
TILED_PANEL_BYTES = 256 << 10  # a block of the kernel panel (taps x C x 64 float32) stays in L2
WGRAD_PIXELS = 256            # output pixels whose gradient rows a weight-gradient tile streams
COLUMN_BYTES = 1 << 20        # im2col columns a thread builds and multiplies at a time (its cache)
MIN_ROWS = 128                # fewer rows per product spend their time packing the kernel matrix
PANEL_BLOCK = 16              # output channels a kernel-matrix copy moves together (a cache line)

# ``pixels`` takes a forward with FEW_PIXELS times fewer output pixels than output channels: resnet18
# at batch 1, 49 pixels x 512 channels: 1.85 against 3.2-5.7 ms a layer through the columns (whose
# panel copy alone took 1.6), the network 27.0-28.0 against 30.3-34.1 ms (2 threads). Taking the
# 196 x 256 layers too measured the same (27.3 ms both ways, alternated).
FEW_PIXELS = 4
PIXELS_GROUP = 8     # its tiles per task, sharing each chunk of columns from cache
PIXELS_DEPTH = 128   # rows of its columns per chunk: 128 x 64 float32 = 32 KB, within L1

MIN_TILED_ROWS = 14 * 64       # output rows per thread, at least, for the register-tiled forward
MIN_SPLIT_CHANNELS = 64        # output channels per task, at least, when too few rows go round

Plan = namedtuple("Plan", "formulation path")
Plan.__doc__ = """One op's plan: the formulation (a module of this package) and its path in it:
"direct", "depthwise", "tiles" (register tiles straight from the input), "gemm" (im2col chunks
through the in-kernel GEMM), "col2im" (the strided input gradient) or "fused" (the backward's three
gradients in one pass)."""


def tiled(width, dtype, groups, rows=0, threads=1):
    """True when a product into ``width`` outputs of ``rows`` output pixels runs in register tiles
    straight from the input: float32, no groups, 16, 32 or 64 outputs, or a multiple of 64 when
    ``tile_tasks`` gives each of ``threads`` a task. On this AVX-512 host the tiles beat the threaded
    GEMM at 128-512 channels by 5-17% (forward and input gradient, N8-128, 6,272-32,768 rows: 200-222
    against 185-196 GFLOP/s, ``benchmarks/tiles_vs_gemm.py`` in ``benchmarks/RESULTS.md``)."""
    if not _tile_width(width, dtype, groups):
        return False
    runs, splits = tile_tasks(rows, width, threads)
    return width in TILES or runs * splits >= threads


def tile_tasks(rows, width, threads):
    """(runs, splits): the tiled product's tasks, runs of at least MIN_TILED_ROWS output rows, each
    run's blocks of 64 outputs shared out over ``splits`` tasks when there are fewer runs than threads
    (batch 1: 784 rows of 128 channels in two tasks of 64 channels, where one task took them all)."""
    runs = max(1, min(threads, -(-rows // MIN_TILED_ROWS)))
    return runs, max(1, min(threads // runs, width // 64))


def _tile_width(width, dtype, groups):
    """float32 without groups, into 16, 32 or 64 outputs or blocks of 64: what the tiles compute."""
    return groups == 1 and np.dtype(dtype) == np.float32 and (width in TILES or width % 64 == 0)


def wgrad_tiled(width, channels, dtype, groups, kernel_width=0, dilation=1, rows=0, threads=1):
    """``tiled`` for the weight gradient, whose tile takes R input channels at a time and whose tasks
    are runs of WGRAD_PIXELS pixels (wide outputs: one for each of ``threads``, else the GEMM: batch 1's
    196 rows at 256 channels ran at 91 against 140 GFLOP/s); for 16 outputs also WGRAD_NARROW_ROWS
    channels, or one channel's WGRAD_TAP_ROWS taps of a kernel row."""
    if not _tile_width(width, dtype, groups):
        return False
    if width not in TILES and -(-rows // WGRAD_PIXELS) < threads:
        return False
    if channels % WGRAD_TILES[min(width, 64)][0] == 0:
        return True
    return width == 16 and (channels % WGRAD_NARROW_ROWS == 0
                            or channels == 1 and kernel_width == WGRAD_TAP_ROWS and dilation == 1)


def few_pixels(x_shape, outputs, stride, dtype, groups):
    """True when a float32 forward without groups has FEW_PIXELS times fewer output pixels (the
    batch's, counted as for 'same' padding) than output channels: the weight is then the large
    operand, read in place by ``pixels`` instead of copied into the columns' panel."""
    n, _, h, w = x_shape
    pixels = n * -(-h // stride[0]) * -(-w // stride[1])
    return (groups == 1 and np.dtype(dtype) == np.float32 and outputs >= COLUMNS_MIN_WIDTH
            and pixels * FEW_PIXELS <= outputs)


def direct_block(channels, min_blocks=1):
    """The direct tile's block for ``channels`` outputs a group: of those that come nearest to
    ``min_blocks`` blocks (where blocks are the tasks, as in the weight gradient), the one that
    computes the fewest channels in all (a last, partial block repeats channels), the larger on a tie."""
    def cost(block):
        blocks = -(-channels // block)
        return max(0, min_blocks - blocks), blocks * block, -block
    return min(DIRECT_BLOCKS, key=cost)


def choose(op, x_shape, weight_shape, stride, groups, dtype=np.float32, threads=1):
    """The plan of ``op`` ("forward", "input_grad", "weight_grad") for a shape, on ``threads``
    threads (output pixels counted as for 'same' padding, as ``few_pixels`` counts them); for
    "backward", the plan of a formulation that computes all three gradients in one pass (its
    ``fuses`` says for which arrays), or None: then each gradient takes its own plan. Chosen from
    training-step timings of every formulation (benchmarks/RESULTS.md): the columns' formulation
    wins wherever the product has 16+ outputs, even from one input channel; the direct kernel keeps
    narrower outputs (LeNet's 6 channels, a first layer's input gradient) and the weight gradient of
    the first layers."""
    c, o = x_shape[1], weight_shape[0]
    rows = x_shape[0] * -(-x_shape[2] // stride[0]) * -(-x_shape[3] // stride[1])
    depthwise = groups == c and weight_shape[1] == 1 and groups > 1
    if op == "backward":
        return Plan("depthwise", "fused") if depthwise and stride == (1, 1) else None
    if depthwise:
        return Plan("depthwise", "depthwise")
    if stride == (1, 1):
        if op == "weight_grad" and c // groups <= DIRECT_WGRAD_MAX_CHANNELS \
                and not wgrad_tiled(o, c, dtype, groups, weight_shape[3], 1, rows, threads):
            return Plan("direct", "direct")
        width = o // groups if op == "forward" else c // groups
        if op != "weight_grad" and width < COLUMNS_MIN_WIDTH:
            return Plan("direct", "direct")
    if op == "forward" and few_pixels(x_shape, o, stride, dtype, groups):
        return Plan("pixels", "pixels")
    if op == "forward" or op == "input_grad" and stride == (1, 1):
        width = o if op == "forward" else c          # the stride-1 input gradient: the same product
        return Plan("columns", "tiles" if tiled(width, dtype, groups, rows, threads) else "gemm")
    if op == "input_grad":
        return Plan("columns", "col2im")
    tiles = wgrad_tiled(o, c, dtype, groups, weight_shape[3], 1, rows, threads)
    return Plan("columns", "tiles" if tiles else "gemm")
