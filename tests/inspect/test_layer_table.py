"""``inspect.layers.LayerTable``: the row access ``summary`` and ``receptive_field`` tables share."""

import json

import pytest

from cnnlab import nn
from cnnlab.inspect import receptive_field, summary


def small_net():
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2))


@pytest.mark.parametrize("build, fn", [(summary, "summary"), (receptive_field, "receptive_field")])
def test_rows_by_name_length_iteration_and_json(build, fn):
    table = build(small_net(), (1, 8, 8))
    assert len(table) == len(table.rows) == 3
    assert list(table) == table.rows
    assert table["2"] is table.rows[2] and table["2"].type == "MaxPool2d"
    assert json.loads(table.to_json()) == table.to_dict()
    assert table.to_json(indent=None).startswith('{"model": ')
    with pytest.raises(KeyError, match=rf"{fn}: no layer named 'nope'; layers: 0, 1, 2"):
        table["nope"]
