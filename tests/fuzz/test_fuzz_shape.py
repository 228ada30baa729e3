"""Fuzz of the shape ops against PyTorch: cat, stack, transpose, permute, flatten, squeeze,
unsqueeze, over every dim (out-of-range ones too), 0-d and empty tensors, mismatched shapes.

Values, gradients and raise-or-not, as ``fuzz_harness`` states; ``CNNLAB_FUZZ=long`` searches
longer.
"""

from fuzz_harness import FUZZ, arrays, dim_for, functional, same_as_torch, shapes
from hypothesis import given
from hypothesis import strategies as st


def _module_fn(module, name):
    """``torch.<name>`` or ``cnnlab.functional.<name>`` (cnnlab keeps these in functional)."""
    return getattr(module, name) if module.__name__ == "torch" else getattr(functional(module), name)


@FUZZ
@given(data=st.data(), shape=shapes(), count=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_cat(data, shape, count, seed):
    dim = data.draw(dim_for(len(shape)))
    parts = []
    for i in range(count):
        part = list(shape)
        if shape and -len(shape) <= dim < len(shape):
            part[dim] = data.draw(st.integers(0, 3))       # any length along the joined dim
        if part and data.draw(st.integers(0, 9)) == 0:
            part = part[:-1]                                # now and then a tensor that does not fit
        parts.append(arrays(tuple(part), seed + i))
    same_as_torch(lambda m, ts: m.cat(ts, dim=dim), [parts], seed=seed)


@FUZZ
@given(data=st.data(), shape=shapes(), count=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_stack(data, shape, count, seed):
    dim = data.draw(dim_for(len(shape), extra=1))
    parts = [arrays(shape, seed + i) for i in range(count)]
    if count > 1 and data.draw(st.integers(0, 9)) == 0:
        parts[-1] = arrays(shape + (2,), seed)              # a shape that does not match
    same_as_torch(lambda m, ts: m.stack(ts, dim=dim), [parts], seed=seed)


@FUZZ
@given(data=st.data(), shape=shapes(), seed=st.integers(0, 2**16))
def test_transpose(data, shape, seed):
    d0, d1 = data.draw(dim_for(len(shape))), data.draw(dim_for(len(shape)))
    same_as_torch(lambda m, x: x.transpose(d0, d1), [arrays(shape, seed)], seed=seed)
    same_as_torch(lambda m, x: _module_fn(m, "transpose")(x, d0, d1), [arrays(shape, seed)],
                  seed=seed)


@FUZZ
@given(data=st.data(), shape=shapes(), seed=st.integers(0, 2**16))
def test_permute(data, shape, seed):
    n = len(shape)
    dims = data.draw(st.one_of(st.permutations(range(n)).map(tuple),
                               st.lists(dim_for(n), min_size=max(n - 1, 0), max_size=n + 1)
                               .map(tuple)))
    same_as_torch(lambda m, x: x.permute(*dims), [arrays(shape, seed)], seed=seed)


@FUZZ
@given(data=st.data(), shape=shapes(), seed=st.integers(0, 2**16))
def test_flatten(data, shape, seed):
    start, end = data.draw(dim_for(len(shape))), data.draw(dim_for(len(shape)))
    same_as_torch(lambda m, x: _module_fn(m, "flatten")(x, start, end), [arrays(shape, seed)],
                  seed=seed)
    same_as_torch(lambda m, x: x.flatten(start, end), [arrays(shape, seed)], seed=seed)


@FUZZ
@given(data=st.data(), shape=shapes(max_side=2), seed=st.integers(0, 2**16))
def test_squeeze_unsqueeze(data, shape, seed):
    n = len(shape)
    dim = data.draw(st.one_of(st.none(), dim_for(n),
                              st.lists(dim_for(n), min_size=1, max_size=2, unique=True)
                              .map(tuple)))
    same_as_torch(lambda m, x: x.squeeze() if dim is None else x.squeeze(dim),
                  [arrays(shape, seed)], seed=seed)
    new = data.draw(dim_for(n, extra=1))
    same_as_torch(lambda m, x: x.unsqueeze(new), [arrays(shape, seed)], seed=seed)


@FUZZ
@given(data=st.data(), shape=shapes(min_dims=1), seed=st.integers(0, 2**16))
def test_softmax_family(data, shape, seed):
    """softmax and log_softmax take a dim too (activation family, same dim rule)."""
    dim = data.draw(dim_for(len(shape)))
    for name in ("softmax", "log_softmax"):
        same_as_torch(lambda m, x: getattr(functional(m), name)(x, dim=dim),
                      [arrays(shape, seed)], seed=seed)
