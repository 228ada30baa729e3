"""Sequential, ModuleList, ModuleDict, Identity: indexing, mutation and naming as torch.nn's."""

from collections import OrderedDict

import numpy as np
import pytest
import torch

import cnnlab
from cnnlab import nn
from helpers import gradcheck


def names(module):
    return [n for n, _ in module.named_modules()]


def test_sequential_positional_and_ordered_dict():
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    assert list(seq._modules) == ["0", "1", "2"] and len(seq) == 3
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(3, 4)), ("act", nn.ReLU())]))
    assert list(named._modules) == ["fc", "act"] and named.fc is named[0]
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    x = cnnlab.randn(5, 3)
    np.testing.assert_allclose(seq(x).numpy(), seq[2](seq[1](seq[0](x))).numpy())


def test_sequential_indexing_matches_torch():
    ours = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.Identity())
    theirs = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Tanh(), torch.nn.Sigmoid(), torch.nn.Identity())
    assert ours[-1] is ours[3] and type(ours[1]).__name__ == "Tanh"
    sub = ours[1:3]
    assert isinstance(sub, nn.Sequential) and repr(sub) == repr(theirs[1:3])
    assert sub[0] is ours[1]  # slices share the modules
    assert repr(ours[::2]) == repr(theirs[::2])
    with pytest.raises(IndexError, match="Sequential: index 4 is out of range for a container of length 4"):
        ours[4]
    with pytest.raises(TypeError, match="Sequential: index must be an int or a slice. Received: 'a'"):
        ours["a"]


def test_sequential_mutation_matches_torch():
    def build(L):
        return L.Sequential(L.ReLU(), L.Tanh(), L.Sigmoid())

    ours, theirs = build(nn), build(torch.nn)
    for fn in (lambda s, L: s.append(L.Identity()),
               lambda s, L: s.__delitem__(1),
               lambda s, L: s.insert(1, L.ELU()),
               lambda s, L: s.__setitem__(0, L.LeakyReLU()),
               lambda s, L: s.extend([L.ReLU6(), L.Tanh()]),
               lambda s, L: s.__delitem__(slice(0, 2)),
               lambda s, L: s.pop(0)):
        fn(ours, nn)
        fn(theirs, torch.nn)
        assert repr(ours) == repr(theirs)
        assert list(ours._modules) == list(theirs._modules)
    assert repr(ours + nn.Sequential(nn.ReLU())) == repr(theirs + torch.nn.Sequential(torch.nn.ReLU()))
    with pytest.raises(TypeError, match="Sequential: can only add another Sequential"):
        ours + [nn.ReLU()]
    with pytest.raises(TypeError, match="add_module: builtins.str is not a Module subclass"):
        nn.Sequential("relu")


def test_sequential_state_dict_names():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)))
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.0.weight", "1.0.bias", "1.1.weight", "1.1.bias",
                                        "1.1.running_mean", "1.1.running_var", "1.1.num_batches_tracked"]


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and names(layers) == ["", "0", "1", "2"]
    assert len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    layers += [nn.Sigmoid()]
    assert [type(m).__name__ for m in layers] == ["Linear"] * 3 + ["ReLU", "Tanh", "Sigmoid"]
    assert isinstance(layers[1:3], nn.ModuleList) and layers[-1] is layers[5]
    del layers[0]
    assert list(layers._modules) == ["0", "1", "2", "3", "4"]
    layers.insert(0, nn.ELU())
    layers[1] = nn.Identity()
    assert [type(m).__name__ for m in layers][:3] == ["ELU", "Identity", "Linear"]
    assert type(layers.pop(0)).__name__ == "ELU" and len(layers) == 5
    with pytest.raises(IndexError, match="ModuleList: index 9 is out of range"):
        layers[9]
    with pytest.raises(TypeError, match="ModuleList.extend: `modules` must be an iterable of modules"):
        layers.extend(3)
    with pytest.raises(NotImplementedError, match="missing the required \"forward\""):
        layers(cnnlab.randn(1, 2))


def test_deleting_renumbers_both_indexed_containers_as_torch():
    # Sequential and ModuleList share deletion: by position or slice, then children renamed "0", "1", ...
    for L in (nn, torch.nn):
        named = L.Sequential(OrderedDict([("a", L.ReLU()), ("b", L.Tanh()), ("c", L.Sigmoid())]))
        del named[-3]
        listed = L.ModuleList([L.ReLU(), L.Tanh(), L.Sigmoid(), L.ELU()])
        del listed[1:3]
        listed[-1] = L.Identity()
        assert list(named._modules) == ["0", "1"] and [type(m).__name__ for m in named] == ["Tanh", "Sigmoid"]
        assert list(listed._modules) == ["0", "1"] and [type(m).__name__ for m in listed] == ["ReLU", "Identity"]
    with pytest.raises(IndexError, match="ModuleList: index -3 is out of range for a container of length 2"):
        del nn.ModuleList([nn.ReLU(), nn.Tanh()])[-3]


def test_module_dict():
    d = nn.ModuleDict({"conv": nn.Conv2d(1, 2, 3), "act": nn.ReLU()})
    assert list(d) == ["conv", "act"] and "act" in d and len(d) == 2
    d["pool"] = nn.MaxPool2d(2)
    d.update([("fc", nn.Linear(2, 2))])
    assert list(d.keys()) == ["conv", "act", "pool", "fc"]
    assert [k for k, _ in d.items()] == list(d.keys()) and len(list(d.values())) == 4
    assert list(d.state_dict()) == ["conv.weight", "conv.bias", "fc.weight", "fc.bias"]
    assert type(d.pop("act")).__name__ == "ReLU" and "act" not in d
    del d["pool"]
    d.clear()
    assert len(d) == 0
    with pytest.raises(ValueError, match=r"ModuleDict.update: element 0 of `modules` must be a \(name, module\) pair"):
        d.update([nn.ReLU()])
    with pytest.raises(TypeError, match="ModuleDict.update: `modules` must be a mapping or an iterable"):
        d.update(3)


def test_identity_passes_through_and_keeps_the_graph():
    x = cnnlab.randn(2, 3, requires_grad=True)
    y = nn.Identity(3, foo=1)(x)
    (y * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0))


def test_gradcheck_through_a_composed_model():
    """Finite differences through Sequential(Conv2d, BatchNorm2d, Tanh, AvgPool2d, Flatten, Linear) in float64."""
    cnnlab.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.Tanh(), nn.AvgPool2d(2),
                          nn.Flatten(), nn.Linear(3 * 2 * 2, 2)).double()
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4))
    gradcheck(lambda t: model(t), [x])
