"""The written contract between the two kernel sets (src/cnnlab/kernels/README.md): the same functions,
under the same names, with the same signatures, family by family."""

import inspect

import pytest

from cnnlab.kernels import compiled, reference

FAMILIES = ("conv", "pool", "norm", "elementwise")


def _exports(namespace, family):
    return list(getattr(namespace, family).__all__)


@pytest.mark.parametrize("family", FAMILIES)
def test_both_sets_export_the_same_names(family):
    assert sorted(_exports(reference, family)) == sorted(_exports(compiled, family))


@pytest.mark.parametrize("family", FAMILIES)
def test_both_sets_share_every_signature(family):
    for name in _exports(reference, family):
        ours, theirs = getattr(compiled, name), getattr(reference, name)
        assert inspect.signature(ours) == inspect.signature(theirs), name


def test_the_namespaces_offer_every_familys_functions():
    """``kernels.for_arrays`` hands out the package namespace itself: every family's names are there."""
    for family in FAMILIES:
        for name in _exports(reference, family):
            assert callable(getattr(reference, name)) and callable(getattr(compiled, name)), name


def test_the_families_are_all_the_functions_there_are():
    def public(namespace):
        return {n for n, v in vars(namespace).items() if not n.startswith("_") and inspect.isfunction(v)}

    expected = {n for family in FAMILIES for n in _exports(reference, family)}
    assert public(reference) == expected and public(compiled) == expected
