"""Fuzz of the activations and the pooling ops against PyTorch: activations over any shape (0-d
and empty too) and their parameters; max/avg pooling over kernel, stride, padding, dilation,
ceil_mode and count_include_pad, windows that do not fit included; adaptive pooling to any size.

Values, gradients and raise-or-not, as ``fuzz_harness`` states; ``CNNLAB_FUZZ=long`` searches
longer.
"""

import pytest
import torch
from fuzz_harness import FUZZ, arrays, functional, same_as_torch, shapes
from hypothesis import assume, given
from hypothesis import strategies as st

ACTIVATIONS = {
    "relu": {}, "relu6": {}, "sigmoid": {}, "tanh": {}, "silu": {}, "hardswish": {},
    "gelu": {"approximate": st.sampled_from(["none", "tanh"])},
    "leaky_relu": {"negative_slope": st.floats(-1, 1)},
    "elu": {"alpha": st.floats(0, 2)},
    "hardtanh": {"min_val": st.floats(-2, 0), "max_val": st.floats(0, 2)},
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@FUZZ
@given(data=st.data(), shape=shapes(), seed=st.integers(0, 2**16))
def test_activation(name, data, shape, seed):
    kwargs = {k: data.draw(v) for k, v in ACTIVATIONS[name].items()}
    same_as_torch(lambda m, x: getattr(functional(m), name)(x, **kwargs), [arrays(shape, seed)],
                  seed=seed)


def _pair(low, high):
    return st.one_of(st.integers(low, high), st.tuples(st.integers(low, high),
                                                       st.integers(low, high)))


@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
@FUZZ
@given(data=st.data(), shape=shapes(min_dims=3, max_dims=4, min_side=1, max_side=6),
       seed=st.integers(0, 2**16))
def test_pool(name, data, shape, seed):
    kwargs = {"kernel_size": data.draw(_pair(1, 4)), "padding": data.draw(_pair(0, 2)),
              "ceil_mode": data.draw(st.booleans())}
    if data.draw(st.booleans()):
        kwargs["stride"] = data.draw(_pair(1, 3))
    if name == "max_pool2d":
        kwargs["dilation"] = data.draw(_pair(1, 2))
    else:
        kwargs["count_include_pad"] = data.draw(st.booleans())
    x = arrays(shape, seed)
    if name == "max_pool2d":
        # A dilated window that overhangs in ceil mode can miss every input pixel: PyTorch gives
        # -inf there and then aborts the process in backward, so such draws are left out.
        try:
            out = torch.nn.functional.max_pool2d(torch.tensor(x), **kwargs)
        except RuntimeError:
            out = None
        assume(out is None or not torch.isinf(out).any())
    same_as_torch(lambda m, x: getattr(functional(m), name)(x, **kwargs), [x], seed=seed)


@pytest.mark.parametrize("name", ["adaptive_avg_pool2d", "adaptive_max_pool2d"])
@FUZZ
@given(data=st.data(), shape=shapes(min_dims=3, max_dims=4, min_side=1, max_side=7),
       seed=st.integers(0, 2**16))
def test_adaptive_pool(name, data, shape, seed):
    size = data.draw(_pair(1, 8))
    same_as_torch(lambda m, x: getattr(functional(m), name)(x, size), [arrays(shape, seed)],
                  seed=seed)
