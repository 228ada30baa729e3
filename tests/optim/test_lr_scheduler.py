"""Learning-rate schedules against torch.optim.lr_scheduler: the same rates, epoch for epoch."""

import json
import types
import warnings

import numpy as np
import pytest
import torch

import cnnlab
from cnnlab.optim import SGD, Adam, Optimizer, RMSprop, lr_scheduler

EPOCHS = 40
LRS = (0.1, 0.01)
OPTIMIZERS = {"SGD": (SGD, torch.optim.SGD, {"momentum": 0.9}), "Adam": (Adam, torch.optim.Adam, {})}


def build(optimizer="SGD", lrs=LRS):
    """Our optimizer and torch's, each with one parameter group per learning rate."""
    ours_cls, theirs_cls, options = OPTIMIZERS[optimizer]
    arrays = [np.linspace(-1, 1, 6).reshape(2, 3) * (i + 1) for i in range(len(lrs))]
    ours = [cnnlab.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    opt = ours_cls([{"params": [p], "lr": lr} for p, lr in zip(ours, lrs)], **options)
    ref = theirs_cls([{"params": [p], "lr": lr} for p, lr in zip(theirs, lrs)], **options)
    return ours, theirs, opt, ref


def group_values(optimizer, key):
    return [g[key] for g in optimizer.param_groups]


def assert_same_lrs(sched, ref_sched, opt, ref, what):
    assert sched.get_last_lr() == ref_sched.get_last_lr(), what
    assert group_values(opt, "lr") == group_values(ref, "lr"), what


SCHEDULES = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("StepLR", dict(step_size=1)),
    ("MultiStepLR", dict(milestones=[5, 12, 12, 25], gamma=0.3)),
    ("MultiStepLR", dict(milestones=[30, 10])),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10)),  # 40 epochs: down, back up past T_max, down again
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.5, total_iters=8)),
    ("LambdaLR", dict(lr_lambda=lambda epoch: 0.95 ** epoch)),
    ("LambdaLR", dict(lr_lambda=[lambda epoch: 1 / (epoch + 1), lambda epoch: epoch % 3])),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=EPOCHS)),
    ("OneCycleLR", dict(max_lr=[1.0, 0.1], epochs=4, steps_per_epoch=10, anneal_strategy="linear",
                        three_phase=True, pct_start=0.25, base_momentum=[0.8, 0.7], max_momentum=0.9)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=45, cycle_momentum=False, div_factor=10.0, final_div_factor=100.0)),
    ("CosineAnnealingWarmRestarts", dict(T_0=7)),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2, eta_min=0.001)),
]
SCHEDULE_IDS = [f"{name}-{i}" for i, (name, _) in enumerate(SCHEDULES)]


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
@pytest.mark.parametrize("name, kwargs", SCHEDULES, ids=SCHEDULE_IDS)
def test_matches_torch_epoch_for_epoch(name, kwargs, optimizer):
    _, _, opt, ref = build(optimizer)
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    ref_sched = getattr(torch.optim.lr_scheduler, name)(ref, **kwargs)
    assert group_values(opt, "initial_lr") == group_values(ref, "initial_lr")
    assert_same_lrs(sched, ref_sched, opt, ref, "epoch 0")
    for epoch in range(1, EPOCHS):
        opt.step()
        ref.step()
        sched.step()
        ref_sched.step()
        assert sched.last_epoch == ref_sched.last_epoch == epoch
        assert_same_lrs(sched, ref_sched, opt, ref, f"epoch {epoch}")
        if name == "OneCycleLR" and kwargs.get("cycle_momentum", True):
            key = "momentum" if optimizer == "SGD" else "betas"
            assert [tuple(v) if key == "betas" else v for v in group_values(opt, key)] == group_values(ref, key)


@pytest.mark.parametrize("name, kwargs", [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[4, 9], gamma=0.2)),
    ("CosineAnnealingLR", dict(T_max=12, eta_min=0.001)),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=30)),
])
def test_chained_with_sgd_updates_like_torch(name, kwargs):
    ours, theirs, opt, ref = build("SGD")
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    ref_sched = getattr(torch.optim.lr_scheduler, name)(ref, **kwargs)
    rng = np.random.default_rng(0)
    for epoch in range(30):
        for o, t in zip(ours, theirs):
            g = rng.standard_normal(o.shape)
            o.grad = cnnlab.tensor(g)
            t.grad = torch.tensor(g)
        opt.step()
        ref.step()
        sched.step()
        ref_sched.step()
        for o, t in zip(ours, theirs):
            np.testing.assert_allclose(o.data, t.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=f"epoch {epoch}")


# ---------------------------------------------------------------------- ReduceLROnPlateau
LOSSES = [1.0, 0.8, 0.7, 0.69995, 0.7, 0.71, 0.6, 0.6, 0.61, 0.62, 0.63, 0.59, 0.5899, 0.5898, 0.5897, 0.58,
          0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.55, 0.56, 0.57, 0.58, 0.54, 0.54, 0.54, 0.54, 0.54, 0.54, 0.54, 0.53,
          0.53, 0.53, 0.53, 0.53, 0.53, 0.52]
ACCURACIES = [1.0 - x for x in LOSSES]
PLATEAUS = [
    ("min", dict(patience=2)),
    ("max", dict(mode="max", factor=0.1, patience=3)),  # the AlexNet recipe on validation accuracy
    ("min", dict(patience=1, threshold=0.01, threshold_mode="abs", cooldown=2)),
    ("max", dict(mode="max", factor=0.5, patience=0, threshold_mode="abs", min_lr=[0.002, 0.0005])),
    ("min", dict(factor=0.5, patience=1, min_lr=0.02, cooldown=1)),
    ("max", dict(mode="max", factor=0.9, patience=0, eps=0.002)),  # changes below eps are skipped
    ("min", dict(patience=0, threshold=0.0)),
]


@pytest.mark.parametrize("metric, kwargs", PLATEAUS, ids=[f"{m}-{i}" for i, (m, _) in enumerate(PLATEAUS)])
def test_reduce_on_plateau_matches_torch(metric, kwargs):
    _, _, opt, ref = build("SGD")
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    ref_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(ref, **kwargs)
    values = LOSSES if metric == "min" else ACCURACIES
    reductions = 0
    for epoch, value in enumerate(values):
        before = group_values(opt, "lr")
        if epoch % 2:  # one-element tensors, as a validation loop would pass them
            sched.step(cnnlab.tensor(value, dtype="float64"))
            ref_sched.step(torch.tensor(value, dtype=torch.float64))
        else:
            sched.step(value)
            ref_sched.step(value)
        reductions += group_values(opt, "lr") != before
        assert_same_lrs(sched, ref_sched, opt, ref, f"epoch {epoch}")
        for attr in ("best", "num_bad_epochs", "cooldown_counter", "last_epoch"):
            assert getattr(sched, attr) == getattr(ref_sched, attr), f"epoch {epoch}: {attr}"
    assert reductions >= 2, "the scripted metrics should trigger several reductions"


def test_reduce_on_plateau_needs_min_lrs_for_a_new_group():
    _, _, opt, _ = build("SGD")
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=[0.0, 0.0])
    opt.add_param_group({"params": [cnnlab.tensor(np.ones(2), requires_grad=True)]})
    sched.step(1.0)
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau: the optimizer has 3 parameter groups but `min_lrs` "
                                         r"has 2"):
        sched.step(2.0)
    scalar = lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=0.0)
    opt.add_param_group({"params": [cnnlab.tensor(np.ones(2), requires_grad=True)], "lr": 1.0})
    scalar.step(1.0)
    scalar.step(2.0)
    assert opt.param_groups[-1]["lr"] == pytest.approx(0.1)


# ---------------------------------------------------------------------- state dict
class Halving:
    """A callable object: its attributes are saved by LambdaLR.state_dict (plain functions are not)."""

    def __init__(self):
        self.base = 0.5

    def __call__(self, epoch):
        return self.base ** (epoch // 4)


ROUND_TRIPS = [
    ("StepLR", dict(step_size=4, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 12, 12, 20])),
    ("ExponentialLR", dict(gamma=0.8)),
    ("CosineAnnealingLR", dict(T_max=8, eta_min=0.001)),
    ("LinearLR", dict(start_factor=0.2, total_iters=15)),
    ("LambdaLR", dict(lr_lambda=Halving())),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=30, three_phase=True)),
    ("ReduceLROnPlateau", dict(mode="max", patience=1, cooldown=1)),
    ("CosineAnnealingWarmRestarts", dict(T_0=4, T_mult=2, eta_min=0.001)),
]


@pytest.mark.parametrize("name, kwargs", ROUND_TRIPS, ids=[n for n, _ in ROUND_TRIPS])
def test_state_dict_round_trip_through_json_resumes_exactly(name, kwargs):
    cls = getattr(lr_scheduler, name)
    plateau = name == "ReduceLROnPlateau"

    def advance(opt, sched, epoch):
        opt.step()
        sched.step(ACCURACIES[epoch]) if plateau else sched.step()

    _, _, opt, _ = build("SGD")
    sched = cls(opt, **kwargs)
    for epoch in range(10):
        advance(opt, sched, epoch)
    saved = json.loads(json.dumps({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}))
    expected = []
    for epoch in range(10, 28):
        advance(opt, sched, epoch)
        expected.append((sched.get_last_lr(), group_values(opt, "lr"), group_values(opt, "momentum")))

    _, _, resumed_opt, _ = build("SGD", lrs=(1.0, 1.0))
    resumed = cls(resumed_opt, **kwargs)  # build the scheduler first, then restore the saved rates
    resumed_opt.load_state_dict(saved["optimizer"])
    resumed.load_state_dict(saved["scheduler"])
    got = []
    for epoch in range(10, 28):
        advance(resumed_opt, resumed, epoch)
        got.append((resumed.get_last_lr(), group_values(resumed_opt, "lr"), group_values(resumed_opt, "momentum")))
    assert got == expected
    assert "optimizer" not in sched.state_dict()


def test_lambda_state_dict_saves_callable_objects_only():
    _, _, opt, _ = build("SGD")
    fn = Halving()
    sched = lr_scheduler.LambdaLR(opt, [fn, lambda epoch: 1.0])
    fn.base = 0.25
    saved = sched.state_dict()
    assert saved["lr_lambdas"] == [{"base": 0.25}, None]
    fn.base = 0.5
    sched.load_state_dict(saved)
    assert fn.base == 0.25


def test_multistep_loads_a_torch_style_counter():
    _, _, opt, _ = build("SGD")
    sched = lr_scheduler.MultiStepLR(opt, milestones=[1])
    saved = sched.state_dict()
    saved["milestones"] = {"3": 1, "5": 2}
    sched.load_state_dict(saved)
    assert sched.milestones == {3: 1, 5: 2}


# ---------------------------------------------------------------------- deprecated epoch argument, warnings
@pytest.mark.parametrize("name, kwargs", [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5])),
    ("ExponentialLR", dict(gamma=0.7)),
    ("CosineAnnealingLR", dict(T_max=9, eta_min=0.001)),
    ("LinearLR", dict(start_factor=0.25, total_iters=6)),
])
def test_step_with_an_epoch_uses_the_closed_form_like_torch(name, kwargs):
    _, _, opt, ref = build("SGD")
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    ref_sched = getattr(torch.optim.lr_scheduler, name)(ref, **kwargs)
    for epoch in (4, 2, 11, 7, 20):
        opt.step()
        ref.step()
        with pytest.warns(UserWarning, match=r"scheduler.step\(epoch\) is deprecated"):
            sched.step(epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref_sched.step(epoch)
        assert sched.get_last_lr() == pytest.approx(ref_sched.get_last_lr(), rel=1e-12)


def test_warns_when_the_scheduler_steps_before_the_optimizer():
    _, _, opt, _ = build("SGD")
    sched = lr_scheduler.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match=r"StepLR.step\(\) was called before optimizer.step\(\)"):
        sched.step()
    _, _, opt, _ = build("SGD")
    sched = lr_scheduler.StepLR(opt, step_size=2)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()

    class Custom(Optimizer):  # a user's optimizer: its step is counted without any help
        def step(self, closure=None):
            return None

    custom = Custom([cnnlab.tensor(np.ones(2), requires_grad=True)], {"lr": 0.1})
    sched = lr_scheduler.ExponentialLR(custom, gamma=0.5)
    custom.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()
    assert custom.param_groups[0]["lr"] == 0.05


def test_resuming_with_last_epoch_uses_initial_lr():
    _, _, opt, ref = build("SGD")
    for group, ref_group in zip(opt.param_groups, ref.param_groups):
        group["initial_lr"] = ref_group["initial_lr"] = group["lr"] * 2
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10, last_epoch=4)
    ref_sched = torch.optim.lr_scheduler.CosineAnnealingLR(ref, T_max=10, last_epoch=4)
    for _ in range(6):
        opt.step()
        ref.step()
        sched.step()
        ref_sched.step()
        assert_same_lrs(sched, ref_sched, opt, ref, f"epoch {sched.last_epoch}")


# ---------------------------------------------------------------------- errors
def sgd():
    return build("SGD")[2]


@pytest.mark.parametrize("make_sched, error, message", [
    (lambda: lr_scheduler.StepLR(build("SGD")[3], 3), TypeError,
     r"StepLR: `optimizer` must be a cnnlab.optim.Optimizer. Received an object of type SGD"),
    (lambda: lr_scheduler.ReduceLROnPlateau("sgd"), TypeError,
     r"ReduceLROnPlateau: `optimizer` must be a cnnlab.optim.Optimizer. Received an object of type str"),
    (lambda: lr_scheduler.StepLR(sgd(), 0), ValueError, r"StepLR: `step_size` must be a positive int. Received: step_size=0"),
    (lambda: lr_scheduler.StepLR(sgd(), 2.5), TypeError, r"StepLR: `step_size` must be an int. Received: step_size=2.5"),
    (lambda: lr_scheduler.StepLR(sgd(), 3, gamma="0.1"), TypeError, r"StepLR: `gamma` must be a real number. Received: gamma='0.1'"),
    (lambda: lr_scheduler.StepLR(sgd(), 3, last_epoch=-2), ValueError,
     r"StepLR: `last_epoch` must be an int >= -1. Received: last_epoch=-2"),
    (lambda: lr_scheduler.StepLR(sgd(), 3, last_epoch=3), ValueError,
     r"StepLR: resuming with last_epoch=3 needs 'initial_lr' in every parameter group, but param_groups\[0\] has none"),
    (lambda: lr_scheduler.MultiStepLR(sgd(), milestones=[3, -1]), ValueError,
     r"MultiStepLR: `milestones` must be non-negative ints. Received: milestones=\[3, -1\]"),
    (lambda: lr_scheduler.MultiStepLR(sgd(), milestones=5), TypeError,
     r"MultiStepLR: `milestones` must be a list of epoch indices. Received: milestones=5"),
    (lambda: lr_scheduler.ExponentialLR(sgd(), gamma=None), TypeError, r"ExponentialLR: `gamma` must be a real number"),
    (lambda: lr_scheduler.CosineAnnealingLR(sgd(), T_max=0), ValueError,
     r"CosineAnnealingLR: `T_max` must be a positive int. Received: T_max=0"),
    (lambda: lr_scheduler.CosineAnnealingLR(sgd(), T_max=5, eta_min="0"), TypeError,
     r"CosineAnnealingLR: `eta_min` must be a real number"),
    (lambda: lr_scheduler.LinearLR(sgd(), start_factor=0), ValueError,
     r"LinearLR: `start_factor` must be in \(0, 1\]. Received: start_factor=0"),
    (lambda: lr_scheduler.LinearLR(sgd(), start_factor=1.5), ValueError, r"LinearLR: `start_factor` must be in \(0, 1\]"),
    (lambda: lr_scheduler.LinearLR(sgd(), end_factor=-0.1), ValueError,
     r"LinearLR: `end_factor` must be in \[0, 1\]. Received: end_factor=-0.1"),
    (lambda: lr_scheduler.LinearLR(sgd(), total_iters=0), ValueError, r"LinearLR: `total_iters` must be a positive int"),
    (lambda: lr_scheduler.LambdaLR(sgd(), [lambda e: 1.0]), ValueError,
     r"LambdaLR: `lr_lambda` must have one value per parameter group \(2\). Received 1 values"),
    (lambda: lr_scheduler.LambdaLR(sgd(), 0.5), TypeError,
     r"LambdaLR: `lr_lambda` must be a function of the epoch or a list of them. Received an object of type float"),
    (lambda: lr_scheduler.OneCycleLR(sgd(), max_lr=0.1), ValueError,
     r"OneCycleLR: give `total_steps`, or both `epochs` and `steps_per_epoch`"),
    (lambda: lr_scheduler.OneCycleLR(sgd(), max_lr=0.1, total_steps=0), ValueError,
     r"OneCycleLR: `total_steps` must be a positive int. Received: total_steps=0"),
    (lambda: lr_scheduler.OneCycleLR(sgd(), max_lr=0.1, epochs=2, steps_per_epoch=0), ValueError,
     r"OneCycleLR: `steps_per_epoch` must be a positive int"),
    (lambda: lr_scheduler.OneCycleLR(sgd(), max_lr=0.1, total_steps=10, pct_start=1.5), ValueError,
     r"OneCycleLR: `pct_start` must be in \[0, 1\]. Received: pct_start=1.5"),
    (lambda: lr_scheduler.OneCycleLR(sgd(), max_lr=0.1, total_steps=10, anneal_strategy="exp"), ValueError,
     r"OneCycleLR: `anneal_strategy` must be 'cos' or 'linear'. Received: anneal_strategy='exp'"),
    (lambda: lr_scheduler.OneCycleLR(sgd(), max_lr=[0.1, 0.2, 0.3], total_steps=10), ValueError,
     r"OneCycleLR: `max_lr` must have one value per parameter group \(2\). Received 3 values"),
    (lambda: lr_scheduler.OneCycleLR(Optimizer([cnnlab.tensor(np.ones(2), requires_grad=True)], {"lr": 0.1}),
                                     max_lr=0.1, total_steps=10), ValueError,
     r"OneCycleLR: cycle_momentum=True needs an optimizer with `momentum` or `betas`; Optimizer has neither"),
    (lambda: lr_scheduler.ReduceLROnPlateau(sgd(), factor=1.0), ValueError,
     r"ReduceLROnPlateau: `factor` must be < 1 \(the rate is multiplied by it\). Received: factor=1.0"),
    (lambda: lr_scheduler.ReduceLROnPlateau(sgd(), mode="avg"), ValueError,
     r"ReduceLROnPlateau: `mode` must be 'min' or 'max'. Received: mode='avg'"),
    (lambda: lr_scheduler.ReduceLROnPlateau(sgd(), threshold_mode="pct"), ValueError,
     r"ReduceLROnPlateau: `threshold_mode` must be 'rel' or 'abs'. Received: threshold_mode='pct'"),
    (lambda: lr_scheduler.ReduceLROnPlateau(sgd(), min_lr=[0.1]), ValueError,
     r"ReduceLROnPlateau: `min_lr` must have one value per parameter group \(2\). Received 1 values"),
    (lambda: lr_scheduler.ReduceLROnPlateau(sgd(), patience=-1), ValueError,
     r"ReduceLROnPlateau: `patience` must be a non-negative int. Received: patience=-1"),
    (lambda: lr_scheduler.ReduceLROnPlateau(sgd(), cooldown=1.5), TypeError, r"ReduceLROnPlateau: `cooldown` must be an int. Received: cooldown=1.5"),
    (lambda: lr_scheduler.ReduceLROnPlateau(sgd()).step("high"), TypeError,
     r"ReduceLROnPlateau.step: `metrics` must be a number or a one-element Tensor. Received an object of type str"),
    (lambda: lr_scheduler.ReduceLROnPlateau(sgd()).load_state_dict([1]), TypeError,
     r"ReduceLROnPlateau.load_state_dict: expected a dict. Received an object of type list"),
])
def test_invalid_arguments(make_sched, error, message):
    with pytest.raises(error, match=message):
        make_sched()


def test_stepping_past_the_end_of_one_cycle():
    opt = sgd()
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match=r"OneCycleLR: stepped 4 times but `total_steps` is 3"):
        sched.step()


def test_a_group_added_after_building_the_scheduler():
    opt = sgd()
    sched = lr_scheduler.LambdaLR(opt, lambda epoch: 0.5)
    opt.add_param_group({"params": [cnnlab.tensor(np.ones(2), requires_grad=True)]})
    opt.step()
    with pytest.raises(ValueError, match=r"LambdaLR.step: the optimizer has 3 parameter groups but the scheduler was "
                                         r"built for 2"):
        sched.step()


def test_rmsprop_is_accepted_by_one_cycle():
    p = cnnlab.tensor(np.ones(2), requires_grad=True)
    opt = RMSprop([p], lr=0.01, momentum=0.9)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10)
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.95)
    assert sched.get_last_lr() == [pytest.approx(0.1 / 25)]


# ---------------------------------------------------------------------- warm restarts, sequences
def test_warm_restarts_with_fractional_epochs_match_torch():
    _, _, opt, ref = build("SGD")
    sched = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.01)
    ref_sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(ref, T_0=3, T_mult=2, eta_min=0.01)
    iters = 4
    for epoch in range(12):
        for i in range(iters):
            opt.step()
            ref.step()
            sched.step(epoch + i / iters)
            ref_sched.step(epoch + i / iters)
            assert sched.get_last_lr() == pytest.approx(ref_sched.get_last_lr(), rel=1e-12), (epoch, i)
            assert (sched.T_i, sched.last_epoch) == (ref_sched.T_i, ref_sched.last_epoch)


def sequences(module, opt):
    """Three SequentialLR set-ups: warm-up then cosine, three phases, and a nested sequence."""
    s = module
    return [
        (s.SequentialLR(opt, [s.LinearLR(opt, start_factor=0.1, total_iters=5),
                              s.CosineAnnealingLR(opt, T_max=20, eta_min=0.001)], milestones=[5])),
        (s.SequentialLR(opt, [s.LambdaLR(opt, lambda e: 0.5 if e < 3 else 1.0),
                              s.ExponentialLR(opt, gamma=0.9), s.StepLR(opt, step_size=4, gamma=0.5)],
                        milestones=[6, 15])),
        (s.SequentialLR(opt, [s.MultiStepLR(opt, milestones=[2, 4], gamma=0.5),
                              s.CosineAnnealingWarmRestarts(opt, T_0=5)], milestones=[8])),
    ]


@pytest.mark.parametrize("which", [0, 1, 2])
def test_sequential_matches_torch(which):
    _, _, opt, ref = build("SGD")
    ours = sequences(lr_scheduler, opt)[which]
    ref_module = types.SimpleNamespace(**{n: getattr(torch.optim.lr_scheduler, n) for n in
                                          ("SequentialLR", "LinearLR", "CosineAnnealingLR", "LambdaLR",
                                           "ExponentialLR", "StepLR", "MultiStepLR",
                                           "CosineAnnealingWarmRestarts")})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = sequences(ref_module, ref)[which]
    assert_same_lrs(ours, theirs, opt, ref, "epoch 0")
    for epoch in range(1, EPOCHS):
        opt.step()
        ref.step()
        ours.step()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about the milestone's step(0)
            theirs.step()
        assert ours.last_epoch == theirs.last_epoch == epoch
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12), f"epoch {epoch}"
        assert group_values(opt, "lr") == pytest.approx(group_values(ref, "lr"), rel=1e-12), f"epoch {epoch}"


def test_sequential_state_dict_round_trip_through_json_resumes_exactly():
    _, _, opt, _ = build("SGD")
    sched = sequences(lr_scheduler, opt)[0]
    for _ in range(7):
        opt.step()
        sched.step()
    saved = json.loads(json.dumps({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}))
    assert len(saved["scheduler"]["_schedulers"]) == 2
    expected = []
    for _ in range(15):
        opt.step()
        sched.step()
        expected.append(sched.get_last_lr())

    _, _, resumed_opt, _ = build("SGD", lrs=(1.0, 1.0))
    resumed = sequences(lr_scheduler, resumed_opt)[0]
    resumed_opt.load_state_dict(saved["optimizer"])
    resumed.load_state_dict(saved["scheduler"])
    got = []
    for _ in range(15):
        resumed_opt.step()
        resumed.step()
        got.append(resumed.get_last_lr())
    assert got == expected


@pytest.mark.parametrize("make_sched, error, message", [
    (lambda opt: lr_scheduler.SequentialLR(opt, [], []), ValueError,
     r"SequentialLR: `schedulers` must hold at least one scheduler"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2)], [3]), ValueError,
     r"SequentialLR: `milestones` must have one entry fewer than `schedulers` \(1\). Received: milestones=\[3\]"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.ReduceLROnPlateau(opt)], []), ValueError,
     r"SequentialLR: schedulers\[0\] is a ReduceLROnPlateau"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(build("SGD")[2], 2)], []), ValueError,
     r"SequentialLR: every scheduler must wrap the same optimizer; schedulers\[0\] \(StepLR\)"),
    (lambda opt: lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=0), ValueError,
     r"CosineAnnealingWarmRestarts: `T_0` must be a positive int. Received: T_0=0"),
    (lambda opt: lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=1.5), TypeError,
     r"CosineAnnealingWarmRestarts: `T_mult` must be an int. Received: T_mult=1.5"),
    (lambda opt: lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2).step(-1) if opt.step() is None else 0,
     ValueError,
     r"CosineAnnealingWarmRestarts.step: `epoch` must be >= 0. Received: epoch=-1"),
])
def test_sequence_and_restart_errors(make_sched, error, message):
    _, _, opt, _ = build("SGD")
    with pytest.raises(error, match=message):
        make_sched(opt)
