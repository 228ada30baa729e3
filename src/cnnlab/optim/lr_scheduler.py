"""Learning-rate schedules, as ``torch.optim.lr_scheduler``: they rewrite each group's ``lr``.

Call ``scheduler.step()`` once per epoch (or per batch for ``OneCycleLR``), after
``optimizer.step()``. ``ReduceLROnPlateau.step(metric)`` takes the monitored value instead.
Each scheduler reproduces PyTorch's learning rates, including its recursive (chainable) forms.
Every scheduler takes the optimizer first and ``last_epoch`` last, as :class:`LRScheduler` does;
each class's Args list only its own.
"""

import math
import types
import warnings
from bisect import bisect_right
from collections import Counter

from ..validation import int_arg, is_int, real_arg, set_count_args, set_real_args
from .optimizer import Optimizer

__all__ = ["LRScheduler", "LambdaLR", "StepLR", "MultiStepLR", "ExponentialLR", "LinearLR", "CosineAnnealingLR",
           "CosineAnnealingWarmRestarts", "OneCycleLR", "SequentialLR", "ReduceLROnPlateau"]

_EPOCH_DEPRECATED = ("scheduler.step(epoch) is deprecated (as in PyTorch): call scheduler.step() without an epoch. "
                     "With an epoch, the closed-form schedule is used where one exists.")


def _check_optimizer(owner, optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner}: `optimizer` must be a cnnlab.optim.Optimizer. "
                        f"Received an object of type {type(optimizer).__name__}")


def _per_group(owner, name, value, optimizer):
    """One value per parameter group: a scalar is repeated, a list must have one entry per group."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"{owner}: `{name}` must have one value per parameter group "
                             f"({len(optimizer.param_groups)}). Received {len(value)} values: {name}={value!r}")
        return list(value)
    return [value] * len(optimizer.param_groups)


class LRScheduler:
    """Base class of the schedules: ``step()`` advances ``last_epoch`` and sets each group's ``lr``.

    Building a scheduler sets ``initial_lr`` in every parameter group (the base rate the schedule
    starts from) and applies the schedule's value for epoch 0. When resuming, build the scheduler
    before ``optimizer.load_state_dict``, which restores the saved rates.

    Args:
        optimizer: the ``Optimizer`` whose learning rates are scheduled.
        last_epoch: index of the last epoch seen; -1 to start fresh. A resumed run may pass the
            saved epoch, provided the groups already hold ``initial_lr``.
    """

    _is_initial = False

    def __init__(self, optimizer, last_epoch=-1):
        owner = type(self).__name__
        _check_optimizer(owner, optimizer)
        int_arg(owner, "last_epoch", last_epoch, minimum=-1)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise ValueError(f"{owner}: resuming with last_epoch={last_epoch} needs 'initial_lr' in every "
                                     f"parameter group, but param_groups[{i}] has none (load the optimizer's "
                                     f"saved state first, or start with last_epoch=-1)")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self):
        """The learning rate of each group for epoch ``last_epoch`` (subclasses implement it)."""
        raise NotImplementedError(f"{type(self).__name__}.get_lr is not implemented")

    def get_last_lr(self):
        """The learning rates the last ``step()`` set, one per parameter group."""
        return list(self._last_lr)

    def step(self, epoch=None):
        """Advance one epoch and set each group's ``lr``; call after ``optimizer.step()``.

        ``epoch`` is deprecated (as in PyTorch); it jumps to that epoch using the closed form.
        """
        self._count_step()
        if epoch is not None:
            warnings.warn(_EPOCH_DEPRECATED, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _count_step(self):
        """Count a ``step()`` call; warn if the first real one comes before ``optimizer.step()``."""
        if self._step_count == 1 and getattr(self.optimizer, "_step_calls", 1) == 0:
            warnings.warn(f"{type(self).__name__}.step() was called before optimizer.step(): call "
                          f"optimizer.step() first, or the schedule's first value is skipped", UserWarning,
                          stacklevel=3)
        self._step_count += 1

    def _update_lr(self, epoch=None):
        """Advance one epoch, or jump to ``epoch`` by the closed form where one exists; set the rates."""
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        self._set_lrs(values)

    def _set_lrs(self, values):
        groups = self.optimizer.param_groups
        if len(values) != len(groups):
            raise ValueError(f"{type(self).__name__}.step: the optimizer has {len(groups)} parameter groups but "
                             f"the scheduler was built for {len(values)} (was a group added after building it?)")
        for group, lr in zip(groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in groups]

    def _group_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self):
        """The scheduler's state (every attribute but the optimizer) as numbers, lists and dicts."""
        return {key: _plain(value) for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore a state saved by ``state_dict()`` (load the optimizer's state too)."""
        if not isinstance(state_dict, dict):
            raise TypeError(f"{type(self).__name__}.load_state_dict: expected a dict. "
                            f"Received an object of type {type(state_dict).__name__}")
        own = self.state_dict()   # the saved form of each entry (MultiStepLR's milestones: a list)
        for key, value in state_dict.items():
            _check_saved(type(self).__name__, key, value, own.get(key, _UNKNOWN))
        self.__dict__.update(_plain(state_dict))


_UNKNOWN = object()


def _check_saved(owner, path, saved, current, counts=True):
    """Refuse a saved entry that the scheduler could not compute with (a crafted or edited state):
    unknown names, another kind of value than the built scheduler holds, non-finite numbers, and a
    count that was positive (or non-negative) when the scheduler was built but is not now
    (``T_max=0`` would divide by zero)."""
    def refuse(what):
        return ValueError(f"{owner}.load_state_dict: `{path}` must be {what}. "
                          f"Received: {path}={saved!r:.60}")

    if current is _UNKNOWN:
        raise refuse("one of the scheduler's own entries (it has no such entry)")
    if callable(current) or current is None:
        return
    number = (int, float)
    if isinstance(current, bool) or isinstance(current, str):
        if type(saved) is not type(current):
            raise refuse(f"a {type(current).__name__}")
    elif isinstance(current, number):
        if isinstance(saved, bool) or not isinstance(saved, number):
            raise refuse("a number")
        if math.isnan(saved) or (math.isinf(saved) and not math.isinf(current)):
            raise refuse("a finite number")
        count = counts and isinstance(current, int)   # T_max, step_size, last_epoch, patience, ...
        if count and not isinstance(saved, int):
            raise refuse("an int")
        if count and current > 0 and not saved > 0:
            raise refuse("a positive int")
        if count and current == 0 and not saved >= 0:
            raise refuse("a non-negative int")
    elif isinstance(current, (list, tuple, dict)):
        if not isinstance(saved, (list, tuple, dict)):
            raise refuse("a list")
        if isinstance(saved, (list, tuple)) and isinstance(current, (list, tuple)) and current:
            for i, value in enumerate(saved):   # each entry like the built scheduler's first
                _check_saved(owner, f"{path}[{i}]", value, current[0], counts=False)


def _plain(value):
    """Copy lists and dicts (tuples become lists, so the state dict survives JSON unchanged)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class LambdaLR(LRScheduler):
    """Set each group's rate to ``initial_lr * lr_lambda(epoch)``.

    Args:
        lr_lambda: a function of the epoch giving the factor, or a list of them, one per group.

    ``state_dict`` saves the attributes of callable objects, not plain functions or lambdas.

    Example:
        >>> warmup = LambdaLR(opt, lambda epoch: min(1.0, (epoch + 1) / 5))
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        _check_optimizer("LambdaLR", optimizer)
        lambdas = _per_group("LambdaLR", "lr_lambda", lr_lambda, optimizer)
        for fn in lambdas:
            if not callable(fn):
                raise TypeError(f"LambdaLR: `lr_lambda` must be a function of the epoch or a list of them. "
                                f"Received an object of type {type(fn).__name__}")
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * fn(self.last_epoch) for fn, base_lr in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self):
        state = {key: _plain(value) for key, value in self.__dict__.items() if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else dict(fn.__dict__)
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        state = dict(state_dict)
        lambdas = state.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        super().load_state_dict(state)
        for fn, saved in zip(self.lr_lambdas, lambdas):
            if saved is not None:
                fn.__dict__.update(saved)


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    ``lr = initial_lr * gamma ** (epoch // step_size)``; the AlexNet/VGG "divide by 10 every 30
    epochs" is ``StepLR(opt, step_size=30, gamma=0.1)``.

    Args:
        step_size: period of the decay, in epochs.
        gamma: multiplicative factor. Default: 0.1.
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        set_count_args(self, "StepLR", step_size=step_size)
        set_real_args(self, "StepLR", gamma=gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each milestone epoch.

    ``lr = initial_lr * gamma ** (number of milestones <= epoch)``; ResNet's "divide by 10 at
    32k and 48k iterations" is ``MultiStepLR(opt, milestones=[...], gamma=0.1)``.

    Args:
        milestones: epoch indices (a milestone listed twice decays twice).
        gamma: multiplicative factor. Default: 0.1.
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        try:
            milestones = list(milestones)
        except TypeError:
            raise TypeError(f"MultiStepLR: `milestones` must be a list of epoch indices. "
                            f"Received: milestones={milestones!r}") from None
        for m in milestones:
            if not is_int(m) or m < 0:
                raise ValueError(f"MultiStepLR: `milestones` must be non-negative ints. "
                                 f"Received: milestones={milestones!r}")
        self.milestones = Counter(milestones)
        set_real_args(self, "MultiStepLR", gamma=gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return self._group_lrs()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._group_lrs()]

    def _get_closed_form_lr(self):
        milestones = sorted(self.milestones.elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch) for base_lr in self.base_lrs]

    def state_dict(self):
        state = super().state_dict()
        state["milestones"] = sorted(self.milestones.elements())  # a list: JSON would stringify int keys
        return state

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        milestones = self.milestones
        if isinstance(milestones, dict):  # a PyTorch-style Counter {epoch: count}
            milestones = Counter({int(k): v for k, v in milestones.items()})
        self.milestones = Counter(milestones)


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch: ``lr = initial_lr * gamma ** epoch``.

    Args:
        gamma: multiplicative factor.
    """

    def __init__(self, optimizer, gamma, last_epoch=-1):
        set_real_args(self, "ExponentialLR", gamma=gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:  # resuming must not step one epoch ahead
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the learning rate by a factor going linearly from ``start_factor`` to ``end_factor``.

    A warm-up: ``lr = initial_lr * (start + (end - start) * min(epoch, total_iters) / total_iters)``.

    Args:
        start_factor: factor at epoch 0, in (0, 1]. Default: 1/3.
        end_factor: factor from epoch ``total_iters`` on, in [0, 1]. Default: 1.0.
        total_iters: number of epochs of the ramp. Default: 5.
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        set_real_args(self, "LinearLR", start_factor=start_factor, end_factor=end_factor)
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: `start_factor` must be in (0, 1]. Received: start_factor={start_factor!r}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: `end_factor` must be in [0, 1]. Received: end_factor={end_factor!r}")
        set_count_args(self, "LinearLR", total_iters=total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._group_lrs()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._group_lrs()
        # ratio of consecutive factors: (s + (e-s) t/T) / (s + (e-s)(t-1)/T)
        ratio = 1.0 + (self.end_factor - self.start_factor) / (
            self.total_iters * self.start_factor + (self.last_epoch - 1) * (self.end_factor - self.start_factor))
        return [lr * ratio for lr in self._group_lrs()]

    def _get_closed_form_lr(self):
        return [base_lr * (self.start_factor + (self.end_factor - self.start_factor)
                           * min(self.total_iters, self.last_epoch) / self.total_iters)
                for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Anneal the learning rate along a half cosine from ``initial_lr`` to ``eta_min`` over ``T_max`` epochs.

    ``lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2`` (SGDR without
    restarts). Like PyTorch it is computed recursively from the current rate, so it composes
    with other changes to the rate; alone it gives the closed form. Past ``T_max`` the rate
    climbs back along the cosine.

    Args:
        T_max: number of epochs of the half period.
        eta_min: the minimum learning rate. Default: 0.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        set_count_args(self, "CosineAnnealingLR", T_max=T_max)
        set_real_args(self, "CosineAnnealingLR", eta_min=eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._group_lrs()
        if self._step_count == 1 and t > 0:  # resumed at epoch t: closed form
            return [eta_min + (base_lr - eta_min) * (1 + math.cos(t * math.pi / T)) / 2 for base_lr in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:  # leaving the minimum: the recursion below would divide by zero
            return [lr + (base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base_lr, lr in zip(self.base_lrs, self._group_lrs())]
        return [(1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (lr - eta_min) + eta_min
                for lr in self._group_lrs()]

    def _get_closed_form_lr(self):
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base_lr in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing restarted every ``T_i`` epochs, each period ``T_mult`` times the last (SGDR).

    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2``, where ``T_cur``
    counts epochs since the last restart; ``T_i`` starts at ``T_0``. ``step(epoch)`` takes a
    fractional epoch (``epoch + i / iters`` per batch), as in PyTorch, without a warning.

    Args:
        T_0: epochs before the first restart, a positive int.
        T_mult: growth factor of the period after each restart, an int >= 1. Default: 1.
        eta_min: lowest learning rate. Default: 0.
    """

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0, last_epoch=-1):
        set_count_args(self, "CosineAnnealingWarmRestarts", T_0=T_0)
        self.T_i = T_0                      # the current period (attributes in PyTorch's state order)
        set_count_args(self, "CosineAnnealingWarmRestarts", T_mult=T_mult)
        set_real_args(self, "CosineAnnealingWarmRestarts", eta_min=eta_min)
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base_lr in self.base_lrs]

    def step(self, epoch=None):
        """Advance one epoch, or go to ``epoch`` (may be fractional); call after ``optimizer.step()``."""
        self._count_step()
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur %= self.T_i
                self.T_i *= self.T_mult
        else:
            real_arg("CosineAnnealingWarmRestarts.step", "epoch", epoch, low=0)
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    # restarts so far: the largest n with T_0 * (T_mult^n - 1) / (T_mult - 1) <= epoch
                    n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult ** n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        self._set_lrs(self.get_lr())


class SequentialLR(LRScheduler):
    """Run ``schedulers[i]`` between ``milestones[i - 1]`` and ``milestones[i]`` (e.g. warm-up, then decay).

    At each milestone the next schedule starts from its own epoch 0. PyTorch's semantics: building
    the inner schedulers stepped each once; that step is undone and only the first one's epoch 0
    is applied.

    Args:
        optimizer: the wrapped optimizer (every scheduler must wrap it).
        schedulers: the schedules, in order.
        milestones: the epochs at which the next schedule takes over; one fewer than schedulers.
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        _check_optimizer("SequentialLR", optimizer)
        schedulers = list(schedulers)
        milestones = list(milestones)
        if not schedulers:
            raise ValueError("SequentialLR: `schedulers` must hold at least one scheduler. Received: []")
        for i, sched in enumerate(schedulers):
            if isinstance(sched, ReduceLROnPlateau):
                raise ValueError(f"SequentialLR: schedulers[{i}] is a ReduceLROnPlateau, whose step() needs the "
                                 f"metric; it cannot run inside SequentialLR")
            if getattr(sched, "optimizer", None) is not optimizer:
                raise ValueError(f"SequentialLR: every scheduler must wrap the same optimizer; schedulers[{i}] "
                                 f"({type(sched).__name__}) wraps another")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: `milestones` must have one entry fewer than `schedulers` "
                             f"({len(schedulers)}). Received: milestones={milestones!r}")
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        self._step_count = 0
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._undo_steps(self)
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    @classmethod
    def _undo_steps(cls, sched):
        """Take back the step each inner scheduler made when it was built (recursively)."""
        if hasattr(sched, "_schedulers"):
            for inner in sched._schedulers:
                cls._undo_steps(inner)
        elif hasattr(sched, "last_epoch"):
            sched.last_epoch -= 1

    def step(self):
        """Advance one epoch in whichever schedule owns it; a schedule starts at its milestone."""
        self._step_count += 1
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        sched = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            sched._update_lr(0)
        else:
            sched.step()
        self._last_lr = sched.get_last_lr()

    def state_dict(self):
        """This scheduler's counters plus each inner scheduler's state, under ``_schedulers``."""
        state = {key: _plain(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [sched.state_dict() for sched in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        """Restore a state saved by ``state_dict()``, the inner schedulers' included."""
        if not isinstance(state_dict, dict):
            raise TypeError(f"SequentialLR.load_state_dict: expected a dict. "
                            f"Received an object of type {type(state_dict).__name__}")
        state = dict(state_dict)
        inner = state.pop("_schedulers", [])
        if len(inner) != len(self._schedulers):
            raise ValueError(f"SequentialLR.load_state_dict: the saved state has {len(inner)} schedulers "
                             f"but this one has {len(self._schedulers)}")
        self.__dict__.update(_plain(state))
        for sched, saved in zip(self._schedulers, inner):
            sched.load_state_dict(saved)


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2018): warm up to ``max_lr``, then anneal far below the start.

    Stepped once per batch. The rate goes from ``max_lr / div_factor`` up to ``max_lr`` over the
    first ``pct_start`` of ``total_steps``, then down to ``initial_lr / final_div_factor``; the
    momentum (or Adam's ``beta1``) moves the opposite way between ``max_momentum`` and
    ``base_momentum``. ``three_phase`` adds a symmetric descent back to the initial rate before
    the final annealing.

    Args:
        max_lr: peak learning rate, or one per group.
        total_steps: number of steps in the cycle; else ``epochs * steps_per_epoch``.
        epochs: number of epochs (with ``steps_per_epoch``).
        steps_per_epoch: batches per epoch (with ``epochs``).
        pct_start: fraction of the cycle spent increasing the rate. Default: 0.3.
        anneal_strategy: ``"cos"`` or ``"linear"``. Default: ``"cos"``.
        cycle_momentum: cycle the momentum inversely to the rate. Default: True.
        base_momentum: lowest momentum, or one per group. Default: 0.85.
        max_momentum: highest momentum, or one per group. Default: 0.95.
        div_factor: ``initial_lr = max_lr / div_factor``. Default: 25.
        final_div_factor: ``min_lr = initial_lr / final_div_factor``. Default: 1e4.
        three_phase: use the three-phase schedule. Default: False.
        last_epoch: index of the last batch. Default: -1.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1):
        _check_optimizer("OneCycleLR", optimizer)
        if total_steps is not None:
            int_arg("OneCycleLR", "total_steps", total_steps, minimum=1)
        elif epochs is not None and steps_per_epoch is not None:
            int_arg("OneCycleLR", "epochs", epochs, minimum=1)
            int_arg("OneCycleLR", "steps_per_epoch", steps_per_epoch, minimum=1)
            total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("OneCycleLR: give `total_steps`, or both `epochs` and `steps_per_epoch`. "
                             f"Received: total_steps=None, epochs={epochs!r}, steps_per_epoch={steps_per_epoch!r}")
        self.total_steps = total_steps
        real_arg("OneCycleLR", "pct_start", pct_start, 0, 1)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: `anneal_strategy` must be 'cos' or 'linear'. "
                             f"Received: anneal_strategy={anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        up = float(pct_start * total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                {"end_step": up, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": float(2 * pct_start * total_steps) - 2, "start_lr": "max_lr", "end_lr": "initial_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
                {"end_step": total_steps - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
                 "start_momentum": "max_momentum", "end_momentum": "max_momentum"},
            ]
        else:
            self._schedule_phases = [
                {"end_step": up, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": total_steps - 1, "start_lr": "max_lr", "end_lr": "min_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
            ]
        max_lrs = _per_group("OneCycleLR", "max_lr", max_lr, optimizer)
        if last_epoch == -1:
            for group, lr in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = lr / div_factor
                group["max_lr"] = lr
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"OneCycleLR: cycle_momentum=True needs an optimizer with `momentum` or `betas`; "
                                 f"{type(optimizer).__name__} has neither (pass cycle_momentum=False)")
            self.use_beta1 = "betas" in optimizer.defaults
            max_momenta = _per_group("OneCycleLR", "max_momentum", max_momentum, optimizer)
            base_momenta = _per_group("OneCycleLR", "base_momentum", base_momentum, optimizer)
            if last_epoch == -1:
                for high, low, group in zip(max_momenta, base_momenta, optimizer.param_groups):
                    if self.use_beta1:
                        group["betas"] = (high, *group["betas"][1:])
                    else:
                        group["momentum"] = high
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: stepped {step} times but `total_steps` is {self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    lr = self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        momentum = self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                    break
                start_step = phase["end_step"]
            lrs.append(lr)
            if self.cycle_momentum:
                if self.use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        return lrs


class ReduceLROnPlateau(LRScheduler):
    """Reduce the learning rate when a monitored metric stops improving.

    The AlexNet recipe, "divide the learning rate by 10 when the validation accuracy stops
    improving", is ``ReduceLROnPlateau(opt, mode='max', factor=0.1)`` stepped with the validation
    accuracy each epoch: ``scheduler.step(val_accuracy)``. For a loss use ``mode='min'``.

    After more than ``patience`` epochs in a row without improvement, each group's rate becomes
    ``max(lr * factor, min_lr)`` (skipped when the change would be below ``eps``), then
    ``cooldown`` epochs pass before bad epochs count again. An epoch improves when the metric
    beats the best so far by the threshold: ``best * (1 - threshold)`` for min/rel,
    ``best * (1 + threshold)`` for max/rel, ``best -/+ threshold`` in abs mode.

    Args:
        mode: ``'min'`` (lower is better) or ``'max'`` (higher is better). Default: ``'min'``.
        factor: multiplies the rate on a plateau; < 1. Default: 0.1.
        patience: bad epochs tolerated before reducing. Default: 10.
        threshold: the least significant change. Default: 1e-4.
        threshold_mode: ``'rel'`` or ``'abs'``. Default: ``'rel'``.
        cooldown: epochs to wait after a reduction. Default: 0.
        min_lr: lower bound of the rate, or one per group. Default: 0.
        eps: smallest change of the rate worth applying. Default: 1e-8.
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0, eps=1e-8):
        owner = "ReduceLROnPlateau"
        _check_optimizer(owner, optimizer)
        real_arg(owner, "factor", factor)
        if factor >= 1.0:
            raise ValueError(f"{owner}: `factor` must be < 1 (the rate is multiplied by it). "
                             f"Received: factor={factor!r}")
        int_arg(owner, "patience", patience, minimum=0)
        int_arg(owner, "cooldown", cooldown, minimum=0)
        real_arg(owner, "threshold", threshold)
        real_arg(owner, "eps", eps)
        self.factor = factor
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            self.default_min_lr = None
            self.min_lrs = _per_group(owner, "min_lr", min_lr, optimizer)
        else:
            real_arg(owner, "min_lr", min_lr)
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = self._group_lrs()
        self._init_is_better(mode, threshold, threshold_mode)
        self._reset()

    def _init_is_better(self, mode, threshold, threshold_mode):
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: `mode` must be 'min' or 'max'. Received: mode={mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: `threshold_mode` must be 'rel' or 'abs'. "
                             f"Received: threshold_mode={threshold_mode!r}")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def _reset(self):
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def _is_better(self, a, best):
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics, epoch=None):
        """Record this epoch's metric (a number or one-element Tensor) and reduce the rate on a plateau."""
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise TypeError(f"ReduceLROnPlateau.step: `metrics` must be a number or a one-element Tensor. "
                            f"Received an object of type {type(metrics).__name__}") from None
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(_EPOCH_DEPRECATED, UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._group_lrs()

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise ValueError(f"ReduceLROnPlateau: the optimizer has {len(groups)} parameter groups but "
                                 f"`min_lrs` has {len(self.min_lrs)} (a group was added after building the "
                                 f"scheduler); set `scheduler.min_lrs` to one value per group")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)
