"""Optimizers against torch.optim: same parameters, same seeded gradients, step for step."""

import io
import json

import numpy as np
import pytest
import torch

import cnnlab
from cnnlab.optim import SGD, Adadelta, Adagrad, Adam, AdamW, NAdam, Optimizer, RMSprop

SHAPES = [(3, 4), (5,), (2, 3, 2)]
STEPS = 20
OURS = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW, "RMSprop": RMSprop, "Adadelta": Adadelta,
        "Adagrad": Adagrad, "NAdam": NAdam}
THEIRS = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW,
          "RMSprop": torch.optim.RMSprop, "Adadelta": torch.optim.Adadelta, "Adagrad": torch.optim.Adagrad,
          "NAdam": torch.optim.NAdam}
TOL = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=1e-5, atol=1e-6)}

CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "dampening": 0.1, "weight_decay": 0.1, "maximize": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "maximize": True}),
    ("SGD", {"lr": 0.05, "weight_decay": 0.1, "maximize": True}),
    ("SGD", {"lr": 0.05, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.05, "maximize": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.05, "decoupled_weight_decay": True}),
    ("Adam", {"lr": 0.01, "betas": (0.3, 0.6)}),  # 1 - beta1 >= 0.5: the other branch of lerp
    ("Adam", {"lr": 0.01, "betas": (0.0, 0.0), "amsgrad": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("AdamW", {"lr": 0.01, "maximize": True, "betas": (0.5, 0.9)}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "centered": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True, "maximize": True, "eps": 1e-4}),
    ("RMSprop", {"lr": 0.001, "alpha": 0.3, "centered": True, "weight_decay": 0.01}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-4, "weight_decay": 0.1}),
    ("Adadelta", {"rho": 0.3, "weight_decay": 0.05, "maximize": True}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1, "initial_accumulator_value": 0.5}),
    ("Adagrad", {"lr": 0.05, "eps": 1e-3, "maximize": True}),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1, "momentum_decay": 0.01}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
]
CONFIG_IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in opts.items()) or 'defaults'}" for name, opts in CONFIGS]


def initial_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in SHAPES]


def gradients(step, seed=1):
    rng = np.random.default_rng([seed, step])
    return [rng.standard_normal(s) for s in SHAPES]


def spec(params, groups):
    """``params`` as one list, or as groups ``[(indices, options), ...]``."""
    if groups is None:
        return list(params)
    return [dict(params=[params[i] for i in idx], **opts) for idx, opts in groups]


def set_grads(ours, theirs, step, dtype):
    for o, t, g in zip(ours, theirs, gradients(step)):
        o.grad = cnnlab.tensor(g.astype(dtype))
        t.grad = torch.tensor(g.astype(dtype))


@pytest.fixture(autouse=True)
def torch_float64_scalars():
    """PyTorch keeps NAdam's ``mu_product`` in its default dtype; float64 makes it a float64 like ours."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def make(name, options, dtype, groups=None):
    arrays = initial_arrays()
    ours = [cnnlab.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    return ours, theirs, OURS[name](spec(ours, groups), **options), THEIRS[name](spec(theirs, groups), **options)


def assert_params_close(ours, theirs, dtype, what):
    for i, (o, t) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(o.data, t.detach().numpy(), **TOL[dtype], err_msg=f"{what}, parameter {i}")


def walk_leaves(value, path="state_dict"):
    """Every leaf of a nested dict/list, with its path."""
    if isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, (int, str)), f"{path}: key {k!r} is a {type(k).__name__}"
            yield from walk_leaves(v, f"{path}[{k!r}]")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk_leaves(v, f"{path}[{i}]")
    else:
        yield path, value


def npz_json_round_trip(state_dict):
    """Save as a checkpoint would (arrays to .npz, the rest to JSON) and read back."""
    arrays = {}

    def strip(x):
        if isinstance(x, np.ndarray):
            key = f"a{len(arrays)}"
            arrays[key] = x
            return {"__array__": key}
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items()}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x

    header = json.dumps(strip(state_dict))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    npz = np.load(buffer, allow_pickle=False)

    def restore(x):
        if isinstance(x, dict):
            return npz[x["__array__"]] if set(x) == {"__array__"} else {k: restore(v) for k, v in x.items()}
        if isinstance(x, list):
            return [restore(v) for v in x]
        return x

    return restore(json.loads(header))


# ---------------------------------------------------------------------- against torch, step for step
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name, options", CONFIGS, ids=CONFIG_IDS)
def test_matches_torch_step_for_step(name, options, dtype):
    ours, theirs, opt, ref = make(name, options, dtype)
    for step in range(STEPS):
        set_grads(ours, theirs, step, dtype)
        grads_before = [o.grad._data.copy() for o in ours]
        opt.step()
        ref.step()
        assert_params_close(ours, theirs, dtype, f"step {step + 1}")
        for i, (o, g) in enumerate(zip(ours, grads_before)):
            assert np.array_equal(o.grad.data, g), f"the gradient of parameter {i} was modified in place"
    for i, o in enumerate(ours):
        assert o.dtype == np.dtype(dtype)
        for key, value in opt.state[o].items():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.dtype(dtype), f"state {key!r} of parameter {i} is {value.dtype}"


@pytest.mark.parametrize("name, options", [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}),
])
def test_parameter_groups_with_their_own_options(name, options):
    # Fine-tuning: the pretrained body at 1/10 and 1/100 of the head's rate, one group with its own decay.
    base = options["lr"]
    groups = [([0], {}), ([1], {"lr": base / 10}), ([2], {"lr": base / 100, "weight_decay": 0.2})]
    ours, theirs, opt, ref = make(name, options, "float64", groups)
    assert [g["lr"] for g in opt.param_groups] == [base, base / 10, base / 100]
    assert opt.param_groups[0]["weight_decay"] == opt.defaults["weight_decay"]
    for step in range(STEPS):
        set_grads(ours, theirs, step, "float64")
        opt.step()
        ref.step()
        assert_params_close(ours, theirs, "float64", f"step {step + 1}")


@pytest.mark.parametrize("name", list(OURS))
def test_add_param_group_mid_training(name):
    arrays = initial_arrays()
    ours = [cnnlab.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    opt, ref = OURS[name](ours[:2], lr=0.01), THEIRS[name](theirs[:2], lr=0.01)
    for step in range(6):
        if step == 3:
            opt.add_param_group({"params": ours[2], "lr": 0.05})
            ref.add_param_group({"params": theirs[2], "lr": 0.05})
        set_grads(ours, theirs, step, "float64")
        opt.step()
        ref.step()
        assert_params_close(ours, theirs, "float64", f"step {step + 1}")


def test_named_parameters_are_accepted_and_names_saved():
    a, b = (cnnlab.tensor(x, requires_grad=True) for x in initial_arrays()[:2])
    opt = SGD([("layer.weight", a), ("layer.bias", b)], lr=0.1)
    assert opt.param_groups[0]["params"][0] is a
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["layer.weight", "layer.bias"]


# ---------------------------------------------------------------------- skipped and frozen parameters
@pytest.mark.parametrize("name, options", [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.1, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.1, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.1, "weight_decay": 0.1, "momentum": 0.5, "centered": True}),
])
def test_parameters_without_grad_and_frozen_parameters_stay_bit_identical(name, options):
    a, b, c = (cnnlab.tensor(x, requires_grad=True) for x in initial_arrays())
    opt = OURS[name]([a, b, c], **options)
    before_b, before_c = b._data.copy(), c._data.copy()
    c.requires_grad = False  # a frozen layer that still holds a stale gradient
    for step in range(3):
        g = gradients(step)
        a.grad = cnnlab.tensor(g[0])
        c.grad = cnnlab.tensor(g[2])
        opt.step()
    assert b.grad is None
    assert np.array_equal(b.data, before_b)
    assert np.array_equal(c.data, before_c)
    assert b not in opt.state and c not in opt.state
    assert list(opt.state_dict()["state"]) == [0]


# ---------------------------------------------------------------------- zero_grad, closure
def test_zero_grad_to_none_and_to_zeros():
    a, b = (cnnlab.tensor(x, requires_grad=True) for x in initial_arrays()[:2])
    opt = SGD([a, b], lr=0.1)
    a.grad = cnnlab.tensor(np.ones(SHAPES[0]))
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    a.grad = grad = cnnlab.tensor(np.ones(SHAPES[0]))
    opt.zero_grad(set_to_none=False)
    assert a.grad is grad and np.array_equal(a.grad.data, np.zeros(SHAPES[0]))
    assert b.grad is None


def test_step_with_closure_returns_its_loss():
    w = cnnlab.tensor(np.array([1.0, -2.0]), requires_grad=True)
    tw = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    opt, ref = SGD([w], lr=0.1, momentum=0.9), torch.optim.SGD([tw], lr=0.1, momentum=0.9)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    def torch_closure():
        ref.zero_grad()
        loss = (tw * tw).sum()
        loss.backward()
        return loss

    for _ in range(4):
        loss = opt.step(closure)
        ref_loss = ref.step(torch_closure)
        assert float(loss.item()) == pytest.approx(float(ref_loss.item()), rel=1e-12)
    assert len(calls) == 4
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-12)
    assert SGD([w]).step() is None


# ---------------------------------------------------------------------- state dict
@pytest.mark.parametrize("name, options, groups", [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}, None),
    ("SGD", {"lr": 0.1}, None),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}, [([0, 1], {}), ([2], {"lr": 0.001})]),
    ("AdamW", {"lr": 0.01, "betas": (0.8, 0.95)}, [([0], {"weight_decay": 0.5}), ([1, 2], {})]),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}, [([0, 2], {"lr": 0.02}), ([1], {})]),
    ("Adadelta", {"rho": 0.8, "weight_decay": 0.01}, [([0, 1], {}), ([2], {"lr": 0.5})]),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1}, None),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.01}, [([0], {"momentum_decay": 0.01}), ([1, 2], {})]),
])
def test_state_dict_round_trip_through_npz_and_json_resumes_exactly(name, options, groups):
    ours, theirs, opt, ref = make(name, options, "float64", groups)
    for step in range(5):
        set_grads(ours, theirs, step, "float64")
        opt.step()
        ref.step()
    saved = opt.state_dict()
    for path, leaf in walk_leaves(saved):
        assert isinstance(leaf, (np.ndarray, bool, int, float, str)), f"{path} is a {type(leaf).__name__}"

    # Same layout as PyTorch: state indexed by position, groups listing indices, same state keys.
    torch_saved = ref.state_dict()
    assert list(saved["state"]) == sorted(torch_saved["state"])
    for index, entry in saved["state"].items():
        assert set(entry) == set(torch_saved["state"][index])
        for key, value in entry.items():
            np.testing.assert_allclose(np.asarray(value, dtype=float), torch_saved["state"][index][key].numpy(),
                                       rtol=1e-10, atol=1e-12, err_msg=f"state[{index}][{key!r}]")
    for group, torch_group in zip(saved["param_groups"], torch_saved["param_groups"]):
        for key, value in group.items():
            expected = torch_group[key]
            assert value == (list(expected) if isinstance(expected, tuple) else expected), key

    # Resume: fresh parameters with the step-5 values, a fresh optimizer built with defaults only.
    copies = [cnnlab.tensor(o._data.copy(), requires_grad=True) for o in ours]
    resumed = OURS[name](spec(copies, None if groups is None else [(idx, {}) for idx, _ in groups]))
    resumed.load_state_dict(npz_json_round_trip(saved))
    for group, saved_group in zip(resumed.param_groups, opt.param_groups):
        assert {k: v for k, v in group.items() if k != "params"} == \
               {k: v for k, v in saved_group.items() if k != "params"}
    for step in range(5, STEPS):
        set_grads(ours, theirs, step, "float64")
        for c, o in zip(copies, ours):
            c.grad = cnnlab.tensor(o.grad._data.copy())
        opt.step()
        resumed.step()
        for i, (c, o) in enumerate(zip(copies, ours)):
            assert np.array_equal(c.data, o.data), f"step {step + 1}, parameter {i} differs after resuming"


def test_state_dict_is_a_snapshot_and_loading_copies():
    a = cnnlab.tensor(np.ones(3), requires_grad=True)
    opt = SGD([a], lr=0.1, momentum=0.9)
    a.grad = cnnlab.tensor(np.ones(3))
    opt.step()
    saved = opt.state_dict()
    opt.step()
    np.testing.assert_array_equal(saved["state"][0]["momentum_buffer"], np.ones(3))
    other = SGD([cnnlab.tensor(np.ones(3), requires_grad=True)], lr=0.1, momentum=0.9)
    other.load_state_dict(saved)
    other.param_groups[0]["params"][0].grad = cnnlab.tensor(np.ones(3))
    other.step()
    np.testing.assert_array_equal(saved["state"][0]["momentum_buffer"], np.ones(3))


def test_loading_casts_state_to_the_parameter_dtype():
    a = cnnlab.tensor(np.ones(3), requires_grad=True)
    opt = Adam([a])
    a.grad = cnnlab.tensor(np.ones(3))
    opt.step()
    b = cnnlab.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    other = Adam([b])
    other.load_state_dict(opt.state_dict())
    assert other.state[b]["exp_avg"].dtype == np.float32
    assert other.state[b]["step"] == 1


def test_loads_a_torch_state_dict_and_continues_like_torch():
    ours, theirs, _, ref = make("Adam", {"lr": 0.01, "amsgrad": True}, "float64")
    for step in range(5):
        set_grads(ours, theirs, step, "float64")
        ref.step()
    torch_saved = ref.state_dict()
    converted = {"state": {k: {f: v.numpy() for f, v in entry.items()} for k, entry in torch_saved["state"].items()},
                 "param_groups": torch_saved["param_groups"]}
    params = [cnnlab.tensor(t.detach().numpy().copy(), requires_grad=True) for t in theirs]
    opt = Adam(params)
    opt.load_state_dict(converted)
    for step in range(5, 10):
        set_grads(params, theirs, step, "float64")
        opt.step()
        ref.step()
        assert_params_close(params, theirs, "float64", f"step {step + 1}")


def test_adamw_stays_decoupled_after_loading():
    a = cnnlab.tensor(np.ones(3), requires_grad=True)
    opt = AdamW([a])
    saved = opt.state_dict()
    saved["param_groups"][0]["decoupled_weight_decay"] = False
    opt.load_state_dict(saved)
    assert opt.param_groups[0]["decoupled_weight_decay"] is True


# ---------------------------------------------------------------------- errors
def param():
    return cnnlab.tensor(np.ones(3), requires_grad=True)


@pytest.mark.parametrize("make_opt, error, message", [
    (lambda: SGD([param()], lr=-0.1), ValueError, r"SGD: `lr` must be >= 0. Received: lr=-0.1"),
    (lambda: SGD([param()], lr="0.1"), TypeError, r"SGD: `lr` must be a real number. Received: lr='0.1'"),
    (lambda: SGD([param()], momentum=-0.9), ValueError, r"SGD: `momentum` must be >= 0. Received: momentum=-0.9"),
    (lambda: SGD([param()], weight_decay=-1e-4), ValueError,
     r"SGD: `weight_decay` must be >= 0. Received: weight_decay=-0.0001"),
    (lambda: SGD([param()], nesterov=True), ValueError,
     r"SGD: nesterov=True needs momentum > 0 and dampening = 0. Received: momentum=0, dampening=0"),
    (lambda: SGD([param()], momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     r"nesterov=True needs momentum > 0 and dampening = 0. Received: momentum=0.9, dampening=0.1"),
    (lambda: SGD([{"params": [param()], "lr": -1.0}], lr=0.1), ValueError, r"SGD: `lr` must be >= 0. Received: lr=-1.0"),
    (lambda: Adam([param()], lr=-1e-3), ValueError, r"Adam: `lr` must be >= 0. Received: lr=-0.001"),
    (lambda: Adam([param()], eps=-1e-8), ValueError, r"Adam: `eps` must be >= 0. Received: eps=-1e-08"),
    (lambda: Adam([param()], betas=(1.0, 0.999)), ValueError,
     r"Adam: `betas\[0\]` must be in \[0, 1\). Received: betas=\(1.0, 0.999\)"),
    (lambda: Adam([param()], betas=(0.9, -0.1)), ValueError,
     r"Adam: `betas\[1\]` must be in \[0, 1\). Received: betas=\(0.9, -0.1\)"),
    (lambda: Adam([param()], betas=0.9), ValueError, r"Adam: `betas` must be a pair \(beta1, beta2\). Received: betas=0.9"),
    (lambda: Adam([param()], betas=(0.9, "x")), TypeError, r"Adam: `betas\[1\]` must be a real number"),
    (lambda: Adam([param()], weight_decay=-0.1), ValueError, r"Adam: `weight_decay` must be >= 0"),
    (lambda: AdamW([param()], lr=-1.0), ValueError, r"AdamW: `lr` must be >= 0. Received: lr=-1.0"),
    (lambda: AdamW([param()], betas=(0.9, 1.0)), ValueError, r"AdamW: `betas\[1\]` must be in \[0, 1\)"),
    (lambda: RMSprop([param()], lr=-0.01), ValueError, r"RMSprop: `lr` must be >= 0. Received: lr=-0.01"),
    (lambda: RMSprop([param()], alpha=-0.5), ValueError, r"RMSprop: `alpha` must be >= 0. Received: alpha=-0.5"),
    (lambda: RMSprop([param()], eps=-1.0), ValueError, r"RMSprop: `eps` must be >= 0"),
    (lambda: RMSprop([param()], momentum=-0.9), ValueError, r"RMSprop: `momentum` must be >= 0"),
    (lambda: RMSprop([param()], weight_decay=-0.9), ValueError, r"RMSprop: `weight_decay` must be >= 0"),
    (lambda: Adadelta([param()], rho=1.5), ValueError, r"Adadelta: `rho` must be in \[0, 1\]. Received: rho=1.5"),
    (lambda: Adadelta([param()], lr=-1.0), ValueError, r"Adadelta: `lr` must be >= 0. Received: lr=-1.0"),
    (lambda: Adagrad([param()], lr_decay=-0.1), ValueError, r"Adagrad: `lr_decay` must be >= 0"),
    (lambda: Adagrad([param()], initial_accumulator_value=-1), ValueError,
     r"Adagrad: `initial_accumulator_value` must be >= 0. Received: initial_accumulator_value=-1"),
    (lambda: NAdam([param()], momentum_decay=-1), ValueError, r"NAdam: `momentum_decay` must be >= 0"),
    (lambda: NAdam([param()], lr=-1.0), ValueError, r"NAdam: `lr` must be >= 0. Received: lr=-1.0"),
    (lambda: Adadelta([param()], rho=-0.1), ValueError, r"Adadelta: `rho` must be >= 0. Received: rho=-0.1"),
    (lambda: Adagrad([{"params": [param()], "eps": -1.0}]), ValueError,
     r"Adagrad: `eps` must be >= 0. Received: eps=-1.0"),              # a group's own options are checked too
    (lambda: NAdam([param()], betas=(0.9, 1.0)), ValueError, r"NAdam: `betas\[1\]` must be in \[0, 1\)"),
    (lambda: SGD(param()), TypeError, r"SGD: `params` must be an iterable of Tensors or of dicts .* single Tensor"),
    (lambda: SGD({"params": [param()]}), TypeError, r"SGD: `params` .* Received a dict"),
    (lambda: SGD(3), TypeError, r"SGD: `params` must be an iterable .* Received an object of type int"),
    (lambda: SGD([]), ValueError, r"SGD: `params` is empty"),
    (lambda: SGD([1.0]), TypeError, r"SGD: can optimize only Tensors, but parameter 0 of the group is .* float"),
    (lambda: SGD([param() * 2]), ValueError, r"SGD: can optimize only leaf Tensors .* shape \(3,\)"),
    (lambda: SGD({param()}), TypeError, r"SGD: parameters must be in an ordered collection"),
    (lambda: SGD([{"params": {param()}}]), TypeError, r"SGD.add_param_group: parameters must be in an ordered collection"),
    (lambda: SGD([("w", param()), param()]), ValueError,
     r"SGD.add_param_group: either every parameter is a \(name, Tensor\) pair or none is"),
    (lambda: SGD([{"params": [param()], "lr": 0.1}, param()]), TypeError,
     r"SGD.add_param_group: a parameter group must be a dict with key 'params'. Received an object of type Tensor"),
    (lambda: SGD([{"lr": 0.1}]), ValueError, r"SGD.add_param_group: the parameter group has no 'params' key"),
])
def test_invalid_arguments(make_opt, error, message):
    with pytest.raises(error, match=message):
        make_opt()


def test_a_parameter_in_two_groups_or_twice_in_one():
    p = param()
    with pytest.raises(ValueError, match=r"Adam.add_param_group: some parameters are already in parameter group 0"):
        Adam([{"params": [p]}, {"params": [param(), p]}])
    with pytest.raises(ValueError, match=r"SGD.add_param_group: the group lists a parameter more than once"):
        SGD([p, p])
    opt = SGD([("a", p)])
    with pytest.raises(ValueError, match=r"every parameter group must have names or none may"):
        opt.add_param_group({"params": [param()]})


def test_gradient_of_the_wrong_shape():
    p = param()
    opt = Adam([p])
    p.grad = cnnlab.tensor(np.ones(4))
    with pytest.raises(ValueError, match=r"Adam.step: parameter 0 of group 0 has shape \(3,\) but its gradient has "
                                         r"shape \(4,\)"):
        opt.step()


def test_load_state_dict_mismatches():
    a, b, c = param(), param(), param()
    opt = SGD([a, b], lr=0.1, momentum=0.9)
    a.grad = cnnlab.tensor(np.ones(3))
    opt.step()
    saved = opt.state_dict()
    with pytest.raises(ValueError, match=r"SGD.load_state_dict: the saved state has 1 parameter groups but this "
                                         r"optimizer has 2"):
        SGD([{"params": [param()]}, {"params": [param()]}]).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"SGD.load_state_dict: parameter group 0 holds 2 parameters in the saved "
                                         r"state but 3 in this optimizer"):
        SGD([param(), param(), param()]).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"SGD.load_state_dict: state 'momentum_buffer' of parameter 0 has shape "
                                         r"\(3,\) but the parameter has shape \(2,\)"):
        SGD([cnnlab.tensor(np.ones(2), requires_grad=True), c]).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"SGD.load_state_dict: expected a dict with keys 'state' and 'param_groups'. "
                                         r"Received: \['state'\]"):
        SGD([a, b]).load_state_dict({"state": {}})
    bad = {"state": {5: saved["state"][0]}, "param_groups": saved["param_groups"]}
    with pytest.raises(ValueError, match=r"the saved state has an entry for parameter 5, which no saved parameter "
                                         r"group lists \(they list \[0, 1\]\)"):
        SGD([a, b]).load_state_dict(bad)
    bad = {"state": {"first": {}}, "param_groups": saved["param_groups"]}
    with pytest.raises(ValueError, match=r"state keys must be parameter indices. Received: 'first'"):
        SGD([a, b]).load_state_dict(bad)
    bad = {"state": {}, "param_groups": [dict(saved["param_groups"][0], lr=-1.0)]}
    with pytest.raises(ValueError, match=r"SGD: `lr` must be >= 0. Received: lr=-1.0"):
        SGD([a, b]).load_state_dict(bad)


def test_base_class_step_is_abstract():
    with pytest.raises(NotImplementedError, match=r"Optimizer.step is not implemented"):
        Optimizer([param()], {"lr": 0.1}).step()
