"""Fuzz of ``interpolate`` against PyTorch: every mode, ``size=`` and non-integer
``scale_factor=`` (one number or a pair), ``align_corners``, ``recompute_scale_factor``, batches
of any size (empty ones too).

Values, gradients and raise-or-not, as ``fuzz_harness`` states; ``CNNLAB_FUZZ=long`` searches
longer.
"""

from fuzz_harness import FUZZ, arrays, functional, same_as_torch
from hypothesis import given
from hypothesis import strategies as st

MODES = ["nearest", "nearest-exact", "bilinear"]


def _scale():
    """Scales as users write them (a few decimals) and as arithmetic makes them (any float)."""
    return st.one_of(st.floats(0.1, 4.0).map(lambda s: round(s, 3)),
                     st.floats(0.1, 4.0, allow_subnormal=False), st.integers(1, 3))


@FUZZ
@given(data=st.data(), n=st.integers(0, 2), c=st.integers(1, 2), h=st.integers(1, 9),
       w=st.integers(1, 9), mode=st.sampled_from(MODES), seed=st.integers(0, 2**16))
def test_interpolate(data, n, c, h, w, mode, seed):
    kwargs = {}
    if data.draw(st.booleans()):
        kwargs["size"] = data.draw(st.one_of(st.integers(1, 20),
                                             st.tuples(st.integers(1, 20), st.integers(1, 20))))
    else:
        kwargs["scale_factor"] = data.draw(st.one_of(_scale(), st.tuples(_scale(), _scale())))
        kwargs["recompute_scale_factor"] = data.draw(st.sampled_from([None, False, True]))
    if mode == "bilinear":
        kwargs["align_corners"] = data.draw(st.sampled_from([None, False, True]))
    same_as_torch(lambda m, x: functional(m).interpolate(x, mode=mode, **kwargs),
                  [arrays((n, c, h, w), seed)], seed=seed)
