"""A scheduler refuses a saved state it could not compute with, before changing anything."""

import re

import pytest

from cnnlab import nn, optim
from cnnlab.optim import lr_scheduler as S


def _scheduler(kind="cosine"):
    opt = optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    if kind == "cosine":
        return S.CosineAnnealingLR(opt, T_max=10)
    if kind == "step":
        return S.StepLR(opt, step_size=3)
    return S.ReduceLROnPlateau(opt, mode="max")


@pytest.mark.parametrize("kind, key, value, expected", [
    ("cosine", "T_max", 0, "`T_max` must be a positive int. Received: T_max=0"),
    ("cosine", "T_max", -3, "`T_max` must be a positive int"),
    ("cosine", "T_max", 2.5, "`T_max` must be an int"),
    ("cosine", "eta_min", float("nan"), "`eta_min` must be a finite number"),
    ("cosine", "base_lrs", "0.1", "`base_lrs` must be a list"),
    ("cosine", "base_lrs", [float("inf")], "`base_lrs[0]` must be a finite number"),
    ("cosine", "last_epoch", -5, "`last_epoch` must be a non-negative int"),
    ("cosine", "optimizer", None, "`optimizer` must be one of the scheduler's own entries"),
    ("step", "step_size", 0, "`step_size` must be a positive int"),
    ("step", "gamma", True, "`gamma` must be a number"),
    ("plateau", "mode", 1, "`mode` must be a str"),
    ("plateau", "patience", -1, "`patience` must be a positive int"),
    ("plateau", "cooldown_counter", -1, "`cooldown_counter` must be a non-negative int"),
])
def test_a_crafted_state_is_refused_in_one_line_and_nothing_changes(kind, key, value, expected):
    scheduler = _scheduler(kind)
    before = scheduler.state_dict()
    state = dict(before, **{key: value})
    with pytest.raises(ValueError, match="^" + re.escape(f"{type(scheduler).__name__}"
                                                         f".load_state_dict: {expected}")):
        scheduler.load_state_dict(state)
    assert scheduler.state_dict() == before


def test_a_state_of_the_same_scheduler_loads():
    source, target = _scheduler(), _scheduler()
    for _ in range(4):
        source.optimizer.step()
        source.step()
    target.load_state_dict(source.state_dict())
    assert target.state_dict() == source.state_dict()
    plateau = _scheduler("plateau")
    plateau.step(0.5)
    fresh = _scheduler("plateau")
    fresh.load_state_dict(plateau.state_dict())   # best: -inf when built, 0.5 saved
    assert fresh.best == 0.5
