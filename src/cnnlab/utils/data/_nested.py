"""``map_nested``: a function applied to the leaves of a batch or sample made of lists, tuples and dicts."""


def map_nested(fn, obj):
    """``obj`` with ``fn`` applied to each leaf, rebuilt with the same list, tuple and dict types.

    A leaf is anything that is not a list, tuple or dict (an array, a Tensor, a number, a string).
    """
    if isinstance(obj, (list, tuple)):
        return type(obj)(map_nested(fn, x) for x in obj)
    if isinstance(obj, dict):
        return {k: map_nested(fn, v) for k, v in obj.items()}
    return fn(obj)
