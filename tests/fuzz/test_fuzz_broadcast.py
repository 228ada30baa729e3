"""Fuzz of the broadcasting and encoding ops against PyTorch: masked_fill with masks that
broadcast to the input (or the input to the mask), expand, repeat, and one_hot over dtypes,
class counts and empty tensors.

Values, gradients and raise-or-not, as ``fuzz_harness`` states; ``CNNLAB_FUZZ=long`` searches
longer.
"""

import numpy as np
from fuzz_harness import FUZZ, arrays, functional, same_as_torch, shapes
from hypothesis import given
from hypothesis import strategies as st


def _related(data, shape):
    """A shape that broadcasts with ``shape`` most of the time: sides set to 1, leading sides
    dropped or added; now and then an unrelated one."""
    if data.draw(st.integers(0, 9)) == 0:
        return data.draw(shapes())
    out = [1 if data.draw(st.booleans()) else n for n in shape]
    out = out[data.draw(st.integers(0, len(out))):]
    return tuple(data.draw(st.lists(st.integers(1, 2), max_size=1))) + tuple(out)


@FUZZ
@given(data=st.data(), shape=shapes(), seed=st.integers(0, 2**16))
def test_masked_fill(data, shape, seed):
    mask_shape = _related(data, shape)
    if data.draw(st.booleans()):      # the input broadcasts to the mask instead
        shape, mask_shape = mask_shape, shape
    mask = np.random.default_rng(seed).random(mask_shape) > 0.5
    x = arrays(shape, seed)
    if data.draw(st.booleans()):
        value = float(data.draw(st.floats(-3, 3)))
        same_as_torch(lambda m, x, k: x.masked_fill(k, value), [x, np.asarray(mask)], seed=seed)
    else:                             # a 0-d tensor value, which gets a gradient too
        same_as_torch(lambda m, x, k, v: x.masked_fill(k, v),
                      [x, np.asarray(mask), np.asarray(0.5)], seed=seed)


@FUZZ
@given(data=st.data(), shape=shapes(max_dims=3), seed=st.integers(0, 2**16))
def test_expand_and_repeat(data, shape, seed):
    sizes = list(data.draw(st.lists(st.integers(1, 3), max_size=1)))
    sizes += [data.draw(st.sampled_from([-1, n, 2 * n + 1] if n == 1 else [-1, n, 1]))
              for n in shape]
    same_as_torch(lambda m, x: x.expand(*sizes), [arrays(shape, seed)], seed=seed)
    repeats = data.draw(st.lists(st.integers(0, 3), min_size=max(len(shape) - 1, 0),
                                 max_size=len(shape) + 1))
    same_as_torch(lambda m, x: x.repeat(*repeats), [arrays(shape, seed)], seed=seed)


@FUZZ
@given(data=st.data(), shape=shapes(max_dims=3), seed=st.integers(0, 2**16))
def test_one_hot(data, shape, seed):
    dtype = data.draw(st.sampled_from([np.int64, np.int64, np.int32, np.uint8]))
    labels = np.random.default_rng(seed).integers(0, 4, size=shape).astype(dtype)
    num_classes = data.draw(st.integers(-2, 5))
    same_as_torch(lambda m, t: functional(m).one_hot(t, num_classes), [np.asarray(labels)],
                  seed=seed)
