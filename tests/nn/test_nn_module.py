"""Module machinery: registration, walking, modes, dtype, state dicts, hooks, repr — PyTorch as the oracle."""

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

import cnnlab
from cnnlab import nn


def small_model(lib):
    """The same small CNN built from cnnlab.nn or torch.nn."""
    return lib.Sequential(
        lib.Conv2d(1, 4, 3, padding=1), lib.BatchNorm2d(4), lib.ReLU(), lib.MaxPool2d(2),
        lib.Flatten(), lib.Linear(4 * 4 * 4, 10))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(8, 2)
        self.register_buffer("scale", cnnlab.ones(2))
        self.register_buffer("cache", cnnlab.zeros(3), persistent=False)

    def forward(self, x):
        return self.head(self.pool(self.features(x)).flatten(1)) * self.scale


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU())
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.head = torch.nn.Linear(8, 2)
        self.register_buffer("scale", torch.ones(2))
        self.register_buffer("cache", torch.zeros(3), persistent=False)

    def forward(self, x):
        return self.head(self.pool(self.features(x)).flatten(1)) * self.scale


# ---------------------------------------------------------------------------------------------- registration
def test_parameter_defaults_and_repr():
    p = nn.Parameter(cnnlab.tensor([1.0, 2.0]))
    assert p.requires_grad and isinstance(p, cnnlab.Tensor)
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(np.zeros(2), requires_grad=False).requires_grad
    arr = np.zeros(3)
    assert nn.Parameter(arr)._data is arr  # shares memory, as torch.nn.Parameter does
    empty = nn.Parameter()
    assert empty.shape == (0,) and empty.dtype == cnnlab.get_default_dtype()


def test_parameter_of_integers_is_rejected():
    with pytest.raises(TypeError, match="only floating tensors can require gradients"):
        nn.Parameter(np.arange(3))


def test_setattr_registers_parameters_modules_buffers():
    net = Net()
    assert list(net._parameters) == []
    assert list(net._modules) == ["features", "pool", "head"]
    assert list(net._buffers) == ["scale", "cache"]
    assert net.head.weight is net._modules["head"]._parameters["weight"]
    net.extra = nn.Parameter(cnnlab.zeros(1))
    assert "extra" in net._parameters
    net.extra = None  # a registered parameter may be set to None
    assert net._parameters["extra"] is None
    net.scale = np.full(2, 3.0)  # arrays assigned to a buffer name are wrapped
    assert isinstance(net.scale, cnnlab.Tensor) and net.scale.numpy().tolist() == [3.0, 3.0]
    del net.head
    assert "head" not in net._modules
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'head'"):
        net.head


def test_assignment_errors_name_the_attribute():
    net = Net()
    with pytest.raises(TypeError, match="cannot assign an object of type Tensor as parameter 'weight'"):
        net.head.weight = cnnlab.zeros(2, 8)
    with pytest.raises(TypeError, match="cannot assign an object of type int as child module 'head'"):
        net.head = 3
    with pytest.raises(TypeError, match="cannot assign an object of type str as buffer 'scale'"):
        net.scale = "x"


def test_register_errors():
    m = nn.Module()
    with pytest.raises(ValueError, match=r"register_buffer: buffer name can't contain \"\.\"\. Received: name='a\.b'"):
        m.register_buffer("a.b", cnnlab.zeros(1))
    with pytest.raises(ValueError, match="register_parameter: parameter name can't be empty"):
        m.register_parameter("", None)
    with pytest.raises(TypeError, match="register_buffer: buffer name must be a string. Received: name=3"):
        m.register_buffer(3, None)
    with pytest.raises(TypeError, match="register_parameter: cannot assign an object of type Tensor as parameter 'w'"):
        m.register_parameter("w", cnnlab.zeros(1))
    with pytest.raises(TypeError, match="register_buffer: cannot assign an object of type list as buffer 'b'"):
        m.register_buffer("b", [1, 2])
    with pytest.raises(TypeError, match="register_buffer: cannot register the Parameter 'b' as a buffer"):
        m.register_buffer("b", nn.Parameter(cnnlab.zeros(1)))
    with pytest.raises(TypeError, match="add_module: builtins.int is not a Module subclass"):
        m.add_module("x", 3)
    m.plain = 1
    with pytest.raises(ValueError, match="register_buffer: attribute 'plain' already exists on Module"):
        m.register_buffer("plain", None)
    with pytest.raises(ValueError, match="add_module: attribute 'train' already exists"):
        m.add_module("train", nn.ReLU())


def test_assignment_before_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(cnnlab.zeros(1))

    with pytest.raises(AttributeError, match=r"cannot assign parameters before Module.__init__\(\) call"):
        Bad()


def test_forward_missing_is_a_clear_error():
    with pytest.raises(NotImplementedError, match='Module \\[Module\\] is missing the required "forward" function'):
        nn.Module()(1)


# ---------------------------------------------------------------------------------------------- walking
def test_named_parameters_buffers_modules_match_torch():
    ours, theirs = Net(), TorchNet()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [type(m).__name__ for m in ours.modules()][1:] == [type(m).__name__ for m in theirs.modules()][1:]
    assert [n for n, _ in ours.named_parameters(prefix="net")] == \
        [n for n, _ in theirs.named_parameters(prefix="net")]
    assert [n for n, _ in ours.named_parameters(recurse=False)] == []
    assert len(list(ours.children())) == 3
    assert ours.num_parameters() == sum(p.numel() for p in theirs.parameters())


def test_shared_parameters_and_modules_are_listed_once():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(model.named_parameters(remove_duplicate=False))) == 4
    assert [n for n, _ in model.named_modules()] == ["", "0", "1"]
    # Tied weights (the same Parameter in two layers), as torch lists them.
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    b.weight = a.weight
    tied = nn.Sequential(a, b)
    ta, tb = torch.nn.Linear(3, 3), torch.nn.Linear(3, 3)
    tb.weight = ta.weight
    assert [n for n, _ in tied.named_parameters()] == [n for n, _ in torch.nn.Sequential(ta, tb).named_parameters()]
    assert tied.num_parameters() == 9 + 3 + 3
    # state_dict keeps every name, as torch's does.
    assert list(tied.state_dict()) == list(torch.nn.Sequential(ta, tb).state_dict())


def test_get_submodule_and_parameter():
    net = Net()
    assert net.get_submodule("features.0") is net.features[0]
    assert net.get_submodule("") is net
    assert net.get_parameter("features.0.weight") is net.features[0].weight
    with pytest.raises(AttributeError, match="get_submodule: features has no submodule '7'"):
        net.get_submodule("features.7")
    with pytest.raises(AttributeError, match="get_parameter: Conv2d at 'features.0' has no parameter 'gamma'"):
        net.get_parameter("features.0.gamma")


def test_deep_models_walk_without_recursion_limit():
    model = nn.Sequential()
    inner = model
    for _ in range(1500):
        child = nn.Sequential(nn.Identity())
        inner.append(child)
        inner = child
    assert len(list(model.modules())) == 1 + 2 * 1500
    assert model.state_dict() == OrderedDict()


# ---------------------------------------------------------------------------------------------- modes
def test_train_eval_propagate_to_children():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.features.train(False)
    assert net.training and not net.features[1].training
    with pytest.raises(ValueError, match="train: `mode` must be a bool. Received: mode='no'"):
        net.train("no")


def test_train_calls_overridden_train_of_children():
    class FrozenBN(nn.BatchNorm2d):
        def train(self, mode=True):
            return super().train(False)

    model = nn.Sequential(nn.Conv2d(1, 2, 3), FrozenBN(2))
    model.train()
    assert model.training and model[0].training and not model[1].training


def test_apply_visits_children_first():
    seen = []
    small_model(nn).apply(lambda m: seen.append(type(m).__name__))
    expected = []
    small_model(torch.nn).apply(lambda m: expected.append(type(m).__name__))
    assert seen == expected


def test_zero_grad_and_frozen_parameters():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    model[0].requires_grad_(False)
    x = cnnlab.randn(5, 3)
    model(x).sum().backward()
    assert model[0].weight.grad is None and model[0].bias.grad is None
    assert model[2].weight.grad is not None
    model.zero_grad(set_to_none=False)
    assert np.all(model[2].weight.grad.numpy() == 0)
    model.zero_grad()
    assert model[2].weight.grad is None
    assert model.num_parameters(trainable_only=True) == 4 * 2 + 2
    assert model.requires_grad_() is model and all(p.requires_grad for p in model.parameters())


def test_to_double_keeps_parameter_identity():
    net = Net()
    params = list(net.parameters())
    net(cnnlab.randn(2, 3, 6, 6)).sum().backward()
    assert net.double() is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters())
    assert net.features[1].running_mean.dtype == np.float64
    assert net.features[1].num_batches_tracked.dtype == np.int64  # integer buffers keep their dtype
    assert net(cnnlab.randn(2, 3, 6, 6, dtype="float64")).dtype == np.float64
    net.to("float32")
    assert all(p.dtype == np.float32 for p in net.parameters())
    net.to(dtype=np.float64).float()
    assert net.scale.dtype == np.float32
    assert net.cpu() is net
    with pytest.raises(TypeError, match="Module.to: `dtype` must be a floating dtype such as float32 or "
                                        "float64. Received: dtype=int64"):
        net.to(np.int64)


def test_default_dtype_is_respected():
    cnnlab.set_default_dtype("float64")
    try:
        layer = nn.Conv2d(1, 2, 3)
        bn = nn.BatchNorm2d(2)
        assert layer.weight.dtype == np.float64 and bn.running_var.dtype == np.float64
    finally:
        cnnlab.set_default_dtype("float32")
    assert nn.Linear(2, 2).weight.dtype == np.float32
    assert nn.Linear(2, 2, dtype="float64").bias.dtype == np.float64
    with pytest.raises(TypeError, match="Linear: `dtype` must be a floating dtype such as float32 or float64. "
                                        "Received: dtype=int32"):
        nn.Linear(2, 2, dtype="int32")


def test_deepcopy_and_pickle():
    net = Net()
    clone = copy.deepcopy(net)
    assert isinstance(clone.head.weight, nn.Parameter) and clone.head.weight is not net.head.weight
    np.testing.assert_array_equal(clone.head.weight.numpy(), net.head.weight.numpy())
    restored = pickle.loads(pickle.dumps(net))
    for (n1, a), (n2, b) in zip(net.state_dict().items(), restored.state_dict().items()):
        assert n1 == n2
        np.testing.assert_array_equal(a, b)
    assert restored.head.weight.requires_grad


# ---------------------------------------------------------------------------------------------- state dict
def test_state_dict_keys_shapes_dtypes_match_torch():
    ours, theirs = small_model(nn), small_model(torch.nn)
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == list(tsd)
    assert "1.num_batches_tracked" in sd
    for key in sd:
        assert sd[key].shape == tuple(tsd[key].shape), key
        assert isinstance(sd[key], cnnlab.Tensor) and not sd[key].requires_grad   # as torch
    assert sd["1.num_batches_tracked"].dtype == np.int64
    assert sd["0.weight"].dtype == np.float32
    # Custom module with persistent and non-persistent buffers.
    assert list(Net().state_dict()) == list(TorchNet().state_dict())


def test_state_dict_is_a_copy_and_keep_vars_gives_the_tensors():
    model = nn.Linear(2, 2)
    sd = model.state_dict()
    sd["weight"][...] = 7
    assert not np.any(model.weight.numpy() == 7)
    assert model.state_dict(keep_vars=True)["weight"] is model.weight
    assert list(model.state_dict(prefix="fc.")) == ["fc.weight", "fc.bias"]


def test_state_dict_round_trip_and_torch_interchange():
    cnnlab.manual_seed(1)
    a, b = small_model(nn), small_model(nn)
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for (k, v), (k2, v2) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(v, v2)
    # torch -> cnnlab: same outputs in eval mode after loading torch's weights (and buffers).
    theirs = small_model(torch.nn)
    with torch.no_grad():
        theirs[1].running_mean.uniform_(-1, 1)
        theirs[1].running_var.uniform_(0.5, 2)
    theirs[1].num_batches_tracked.fill_(5)
    params_before = [id(p) for p in b.parameters()]
    b.load_state_dict(theirs.state_dict())
    assert [id(p) for p in b.parameters()] == params_before
    assert int(b[1].num_batches_tracked.item()) == 5
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(b.eval()(cnnlab.tensor(x)).numpy(), theirs.eval()(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)
    # cnnlab -> torch.
    theirs2 = small_model(torch.nn)
    theirs2.load_state_dict({k: torch.tensor(v) for k, v in a.state_dict().items()})
    np.testing.assert_array_equal(theirs2[5].bias.detach().numpy(), a[5].bias.numpy())


def test_load_state_dict_casts_to_the_parameter_dtype():
    model = nn.Linear(2, 3)
    sd = {"weight": np.ones((3, 2), dtype=np.float64), "bias": cnnlab.tensor([1, 2, 3])}
    model.load_state_dict(sd)
    assert model.weight.dtype == np.float32 and model.bias.dtype == np.float32
    assert model.bias.numpy().tolist() == [1.0, 2.0, 3.0]
    sd["weight"][...] = 5  # the model holds a copy
    assert model.weight.numpy()[0, 0] == 1.0


def test_load_state_dict_errors_list_every_key_and_change_nothing():
    model = small_model(nn)
    before = model.state_dict()
    bad = small_model(nn).state_dict()
    del bad["1.running_var"]
    del bad["5.bias"]
    bad["extra.weight"] = np.zeros(2)
    bad["0.weight"] = np.zeros((4, 2, 3, 3), dtype=np.float32)
    bad["5.weight"] = np.zeros((10, 63), dtype=np.float32)
    with pytest.raises(ValueError) as info:
        model.load_state_dict(bad)
    message = str(info.value)
    assert 'Missing key(s) in state_dict: "1.running_var", "5.bias".' in message
    assert 'Unexpected key(s) in state_dict: "extra.weight".' in message
    assert ("size mismatch for 0.weight: copying a param with shape (4, 2, 3, 3) from checkpoint, "
            "the shape in current model is (4, 1, 3, 3).") in message
    assert "size mismatch for 5.weight: copying a param with shape (10, 63)" in message
    assert "for Sequential" in message
    for key, value in model.state_dict().items():  # nothing was changed, not even the good keys
        np.testing.assert_array_equal(value, before[key])
    assert isinstance(info.value, RuntimeError)  # code written for PyTorch still catches it


def test_load_state_dict_non_strict_reports_keys_but_still_checks_shapes():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    partial = {"0.weight": np.ones((3, 2)), "head.weight": np.zeros(1)}
    result = model.load_state_dict(partial, strict=False)
    assert result.missing_keys == ["0.bias", "1.weight", "1.bias"]
    assert result.unexpected_keys == ["head.weight"]
    assert np.all(model[0].weight.numpy() == 1)
    with pytest.raises(nn.LoadStateDictError, match=r"size mismatch for 0.weight: copying a param with shape \(2, 2\)"):
        model.load_state_dict({"0.weight": np.ones((2, 2))}, strict=False)


def test_load_state_dict_type_errors():
    model = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="load_state_dict: `state_dict` must be a dict-like mapping"):
        model.load_state_dict([1, 2])
    with pytest.raises(TypeError, match="load_state_dict: the value for key 'weight' must be numeric"):
        model.load_state_dict({"weight": "abc", "bias": np.zeros(2)})


def test_load_state_dict_assign_replaces_arrays():
    model = nn.Linear(2, 2)
    w = model.weight
    model.load_state_dict({"weight": np.eye(2), "bias": np.zeros(2)}, assign=True)
    assert model.weight is w and model.weight.dtype == np.float32
    np.testing.assert_array_equal(model.weight.numpy(), np.eye(2))


# ---------------------------------------------------------------------------------------------- hooks
def test_forward_hooks_fire_modify_and_remove():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    calls = []
    h1 = model[0].register_forward_hook(lambda m, args, out: calls.append((type(m).__name__, args[0].shape, out.shape)))
    h2 = model[1].register_forward_hook(lambda m, args, out: out * 0)
    x = cnnlab.randn(2, 3)
    y = model(x)
    assert calls == [("Linear", (2, 3), (2, 4))]
    assert np.all(y.numpy() == 0)
    h1.remove()
    h2.remove()
    h2.remove()  # removing twice is harmless
    y = model(x)
    assert len(calls) == 1 and np.any(y.numpy() != 0)


def test_forward_pre_hooks_and_order():
    layer = nn.Identity()
    order = []
    layer.register_forward_pre_hook(lambda m, args: order.append("pre"))
    layer.register_forward_pre_hook(lambda m, args: (args[0] + 1,))
    layer.register_forward_hook(lambda m, args, out: order.append("post"))
    layer.register_forward_hook(lambda m, args, out: order.append("first"), prepend=True)
    assert layer(cnnlab.tensor([1.0])).numpy().tolist() == [2.0]
    assert order == ["pre", "first", "post"]
    with layer.register_forward_pre_hook(lambda m, args: args[0] * 10):
        assert layer(cnnlab.tensor([1.0])).numpy().tolist() == [20.0]
    assert layer(cnnlab.tensor([1.0])).numpy().tolist() == [2.0]


def test_hooks_with_kwargs():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    m = Scale()
    seen = {}
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": 3.0}), with_kwargs=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: seen.update(kwargs), with_kwargs=True)
    assert m(cnnlab.tensor([2.0]), factor=5.0).numpy().tolist() == [6.0]
    assert seen == {"factor": 3.0}
    with pytest.raises(TypeError, match="register_forward_hook: `hook` must be callable"):
        m.register_forward_hook(3)


def test_hooks_record_every_leaf_output_shape():
    """The inspection tools' pattern: a hook on every leaf module records its output shape."""
    model = small_model(nn)
    shapes = []
    handles = [m.register_forward_hook(lambda m, a, o: shapes.append((type(m).__name__, o.shape)))
               for m in model.modules() if not m._modules]
    model(cnnlab.randn(2, 1, 8, 8))
    for h in handles:
        h.remove()
    assert shapes == [("Conv2d", (2, 4, 8, 8)), ("BatchNorm2d", (2, 4, 8, 8)), ("ReLU", (2, 4, 8, 8)),
                      ("MaxPool2d", (2, 4, 4, 4)), ("Flatten", (2, 64)), ("Linear", (2, 10))]


# ---------------------------------------------------------------------------------------------- repr
def test_repr_equals_torch():
    assert repr(small_model(nn)) == repr(small_model(torch.nn))
    assert repr(Net()) == repr(TorchNet()).replace("TorchNet", "Net")


@pytest.mark.parametrize("build", [
    lambda L: L.Conv2d(3, 6, (3, 5), stride=2, padding=(1, 2), dilation=2, groups=3, bias=False,
                       padding_mode="reflect"),
    lambda L: L.Conv2d(1, 16, 5, padding="same"),
    lambda L: L.Conv2d(1, 16, 5, padding="valid"),
    lambda L: L.Linear(3, 4, bias=False),
    lambda L: L.MaxPool2d((2, 3), stride=1, padding=1, ceil_mode=True),
    lambda L: L.AvgPool2d(3, 2, 1),
    lambda L: L.LPPool2d(2, 3),
    lambda L: L.AdaptiveAvgPool2d((2, 3)),
    lambda L: L.AdaptiveMaxPool2d(4),
    lambda L: L.FractionalMaxPool2d(2, output_ratio=0.5),
    lambda L: L.ReLU(inplace=True),
    lambda L: L.ReLU6(),
    lambda L: L.Hardtanh(-2.0, 2.0),
    lambda L: L.LeakyReLU(0.2),
    lambda L: L.ELU(alpha=0.5, inplace=True),
    lambda L: L.Sigmoid(),
    lambda L: L.Tanh(),
    lambda L: L.Softmax(dim=1),
    lambda L: L.LogSoftmax(),
    lambda L: L.Flatten(0, 2),
    lambda L: L.Dropout(0.3),
    lambda L: L.Dropout2d(),
    lambda L: L.BatchNorm1d(5, momentum=None, affine=False),
    lambda L: L.BatchNorm2d(5, eps=1e-3, track_running_stats=False),
    lambda L: L.LocalResponseNorm(5, alpha=1e-3, beta=0.5, k=2.0),
    lambda L: L.CrossEntropyLoss(label_smoothing=0.1),
    lambda L: L.NLLLoss(),
    lambda L: L.MSELoss(reduction="sum"),
    lambda L: L.BCELoss(),
    lambda L: L.BCEWithLogitsLoss(),
    lambda L: L.Identity(54, unused="x"),
    lambda L: L.ModuleList([L.Linear(2, 2), L.Linear(2, 2), L.ReLU(), L.Linear(2, 2)]),
    lambda L: L.ModuleList(),
    lambda L: L.ModuleDict({"a": L.ReLU(), "b": L.Sequential(L.Tanh())}),
    lambda L: L.Sequential(OrderedDict([("conv", L.Conv2d(1, 2, 3)), ("act", L.Sequential(L.ReLU()))])),
], ids=lambda f: "")
def test_layer_repr_equals_torch(build):
    assert repr(build(nn)) == repr(build(torch.nn))
