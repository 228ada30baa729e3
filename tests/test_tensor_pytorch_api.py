"""PyTorch's top-level functions, factories, comparisons, in-place ops and autograd rules, each held
to PyTorch itself (values and, where differentiable, gradients)."""

import copy
import operator

import numpy as np
import pytest
import torch

import cnnlab
import cnnlab.nn.functional as F
from helpers import assert_close, check_against_torch


@pytest.fixture
def a(rng):
    return rng.standard_normal((3, 5, 4))


# ---------------------------------------------------------------------- top-level functions
@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_top_level_max_min_with_dim_give_values_and_indices(a, name, dim, keepdim):
    check_against_torch(lambda x: getattr(cnnlab, name)(x, dim, keepdim)[0],
                        lambda x: getattr(torch, name)(x, dim, keepdim)[0], [a])
    ours = getattr(cnnlab, name)(cnnlab.tensor(a), dim=dim, keepdim=keepdim)
    theirs = getattr(torch, name)(torch.tensor(a), dim=dim, keepdim=keepdim)
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    assert type(ours).__name__ == name and ours.values is ours[0]


@pytest.mark.parametrize("name", ["max", "min"])
def test_top_level_max_min_without_dim_and_elementwise(a, rng, name):
    check_against_torch(lambda x: getattr(cnnlab, name)(x), lambda x: getattr(torch, name)(x), [a])
    b = rng.standard_normal(a.shape)
    check_against_torch(lambda x, y: getattr(cnnlab, name)(x, y),
                        lambda x, y: getattr(torch, name)(x, y), [a, b])
    check_against_torch(lambda x, y: getattr(x, name)(y), lambda x, y: getattr(x, name)(y), [a, b])
    check_against_torch(lambda x, y: getattr(cnnlab, name + "imum")(x, y),
                        lambda x, y: getattr(torch, name + "imum")(x, y), [a, b[0]])


def test_functional_max_is_torch_max_not_amax(rng):
    out = rng.standard_normal((2, 10))          # batch size 2: amax would unpack into two rows
    _, pred = F.max(cnnlab.tensor(out), 1)
    np.testing.assert_array_equal(pred.numpy(), out.argmax(1))


@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, False), ((0, 2), True), (-1, True)])
@pytest.mark.parametrize("name", ["sum", "mean"])
def test_top_level_sum_mean(a, name, dim, keepdim):
    if dim is None:
        check_against_torch(lambda x: getattr(cnnlab, name)(x), lambda x: getattr(torch, name)(x),
                            [a])
    else:
        check_against_torch(lambda x: getattr(cnnlab, name)(x, dim, keepdim),
                            lambda x: getattr(torch, name)(x, dim, keepdim), [a])
        check_against_torch(lambda x: getattr(cnnlab, name)(x, dim=dim, keepdim=keepdim),
                            lambda x: getattr(torch, name)(x, dim=dim, keepdim=keepdim), [a])


def test_sum_of_bools_and_ints_is_int64_like_torch(rng):
    labels = rng.integers(0, 3, 20)
    ours = cnnlab.sum(cnnlab.tensor(labels) == 1)
    theirs = torch.sum(torch.tensor(labels) == 1)
    assert ours.item() == theirs.item() and ours.dtype == np.int64
    assert (cnnlab.tensor(labels) == 1).sum().item() == theirs.item()


@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, False), (0, True)])
def test_argmax_argmin(a, dim, keepdim):
    for name in ("argmax", "argmin"):
        ours = getattr(cnnlab, name)(cnnlab.tensor(a), dim, keepdim)
        theirs = getattr(torch, name)(torch.tensor(a), dim, keepdim)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        assert ours.dtype == np.int64


@pytest.mark.parametrize("start,end", [(0, -1), (1, -1), (1, 2), (0, 1)])
def test_flatten_starts_at_dim_0_like_torch(a, start, end):
    check_against_torch(lambda x: cnnlab.flatten(x, start, end),
                        lambda x: torch.flatten(x, start, end), [a])
    assert cnnlab.flatten(cnnlab.tensor(a)).shape == torch.flatten(torch.tensor(a)).shape


def test_where_with_gradients_and_scalars(a, rng):
    b = rng.standard_normal(a.shape[1:])
    cond = a > 0.2
    check_against_torch(lambda x, y: cnnlab.where(cnnlab.tensor(cond), x, y),
                        lambda x, y: torch.where(torch.tensor(cond), x, y), [a, b])
    check_against_torch(lambda x: cnnlab.where(cnnlab.tensor(cond), x, 0.0),
                        lambda x: torch.where(torch.tensor(cond), x, 0.0), [a])
    ours = cnnlab.where(cnnlab.tensor(cond))
    theirs = torch.where(torch.tensor(cond))
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.numpy(), t.numpy())


def test_where_rejects_a_non_boolean_condition():
    with pytest.raises(TypeError, match="where: `condition` must be a boolean tensor"):
        cnnlab.where(cnnlab.tensor([1.0, 0.0]), cnnlab.zeros(2), cnnlab.ones(2))


def test_equal_exp_log(rng):
    x = rng.random((4, 3)) + 0.1
    assert cnnlab.equal(cnnlab.tensor(x), cnnlab.tensor(x.copy())) is True
    assert cnnlab.equal(cnnlab.tensor(x), cnnlab.tensor(x[:2])) is False
    assert torch.equal(torch.tensor(x), torch.tensor(x[:2])) is False
    y = x.copy()
    y[1, 1] += 1
    assert cnnlab.tensor(x).equal(cnnlab.tensor(y)) is False
    check_against_torch(cnnlab.exp, torch.exp, [x])
    check_against_torch(cnnlab.log, torch.log, [x])


# ---------------------------------------------------------------------- factories
@pytest.mark.parametrize("dtype", [None, "float64", "int64"])
def test_like_factories(a, dtype):
    t = cnnlab.tensor(a.astype(np.float32))
    tt = torch.tensor(a.astype(np.float32))
    tdtype = None if dtype is None else getattr(torch, dtype)
    for name in ("zeros_like", "ones_like"):
        ours = getattr(cnnlab, name)(t, dtype=dtype, device="cpu")
        theirs = getattr(torch, name)(tt, dtype=tdtype, device="cpu")
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")


def test_full_empty_eye_linspace_like_torch():
    for value in (1.5, 3, True):
        ours, theirs = cnnlab.full((2, 3), value), torch.full((2, 3), value)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    assert cnnlab.full((2,), 2, dtype=cnnlab.float64).dtype == np.float64
    e = cnnlab.empty(2, 3, device="cpu")
    assert e.shape == (2, 3) and e.dtype == np.float32 and e.device == "cpu"
    assert cnnlab.empty((4,), dtype=cnnlab.int64).dtype == np.int64
    np.testing.assert_array_equal(cnnlab.eye(3).numpy(), torch.eye(3).numpy())
    np.testing.assert_array_equal(cnnlab.eye(2, 4, dtype="float64").numpy(),
                                  torch.eye(2, 4, dtype=torch.float64).numpy())
    assert_close(cnnlab.linspace(-1, 2, 7).numpy(), torch.linspace(-1, 2, 7).numpy(), "float32")
    assert cnnlab.linspace(0, 1, 5, dtype=cnnlab.float64).dtype == np.float64


def test_randint_randperm_ranges_and_dtypes():
    cnnlab.manual_seed(0)
    r = cnnlab.randint(3, 7, (1000,), device="cpu")
    assert r.dtype == np.int64 and r.shape == (1000,)
    assert set(np.unique(r.numpy())) == {3, 4, 5, 6}
    r2 = cnnlab.randint(5, (2, 3))
    assert r2.shape == (2, 3) and 0 <= int(r2.min()) and int(r2.max()) < 5
    p = cnnlab.randperm(10)
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(10))
    assert cnnlab.randperm(4, dtype=cnnlab.int32).dtype == np.int32


def test_factory_errors_name_the_argument():
    with pytest.raises(ValueError, match="randint: `low` must be below `high`"):
        cnnlab.randint(5, 5, (2,))
    with pytest.raises(ValueError, match="randperm: `n` must be a non-negative int. Received: n=-1"
                       ):
        cnnlab.randperm(-1)
    with pytest.raises(ValueError, match="linspace: `steps`"):
        cnnlab.linspace(0, 1, 2.5)
    with pytest.raises(TypeError, match="zeros_like: `dtype`"):
        cnnlab.zeros_like(cnnlab.zeros(2), dtype="complex128")


def test_device_keyword_on_the_old_factories():
    for make in (cnnlab.zeros, cnnlab.ones, cnnlab.rand, cnnlab.randn):
        assert make(2, 3, device="cpu").device == "cpu"
    assert cnnlab.arange(5, device="cpu").dtype == np.int64
    assert cnnlab.arange(0.0, 1.0, 0.25).dtype == torch.arange(0.0, 1.0, 0.25).numpy().dtype
    assert cnnlab.tensor([1, 2], device="cpu").dtype == np.int64


# ---------------------------------------------------------------------- tensor methods
@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparison_methods_and_functions(rng, name):
    x = rng.integers(0, 3, (4, 5)).astype(np.float64)
    y = rng.integers(0, 3, (4, 5)).astype(np.float64)
    expected = getattr(torch.tensor(x), name)(torch.tensor(y)).numpy()
    ours = getattr(cnnlab.tensor(x), name)(cnnlab.tensor(y))
    np.testing.assert_array_equal(ours.numpy(), expected)
    np.testing.assert_array_equal(getattr(cnnlab, name)(cnnlab.tensor(x), cnnlab.tensor(y)).numpy(),
                                  expected)
    np.testing.assert_array_equal(getattr(cnnlab.tensor(x), name)(1.0).numpy(),
                                  getattr(torch.tensor(x), name)(1.0).numpy())


def test_accuracy_idiom_with_eq_and_view_as(rng):
    out = rng.standard_normal((8, 10))
    target = rng.integers(0, 10, 8)
    pred = cnnlab.tensor(out).argmax(dim=1, keepdim=True)
    correct = pred.eq(cnnlab.tensor(target).view_as(pred)).sum().item()
    tpred = torch.tensor(out).argmax(dim=1, keepdim=True)
    assert correct == tpred.eq(torch.tensor(target).view_as(tpred)).sum().item()


@pytest.mark.parametrize("k,dim,largest", [(3, -1, True), (1, 0, True), (2, 1, False),
                                           (4, -1, False)])
def test_topk_values_indices_and_gradient(a, k, dim, largest):
    check_against_torch(lambda x: x.topk(k, dim, largest).values,
                        lambda x: x.topk(k, dim, largest).values, [a])
    ours = cnnlab.topk(cnnlab.tensor(a), k, dim=dim, largest=largest)
    theirs = torch.topk(torch.tensor(a), k, dim=dim, largest=largest)
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())


def test_topk_accuracy_idiom(rng):
    out, target = rng.standard_normal((16, 10)), rng.integers(0, 10, 16)

    def accuracy(lib, output, target, topk=(1, 5)):
        maxk = max(topk)
        _, pred = output.topk(maxk, 1, True, True)
        pred = pred.t()
        correct = pred.eq(target.view(1, -1).expand_as(pred))
        return [correct[:k].reshape(-1).float().sum(0, keepdim=True).mul_(100.0 / 16).item()
                for k in topk]

    assert accuracy(cnnlab, cnnlab.tensor(out), cnnlab.tensor(target)) == pytest.approx(
        accuracy(torch, torch.tensor(out), torch.tensor(target)))


@pytest.mark.parametrize("dim,descending", [(-1, False), (0, True), (1, False)])
def test_sort_values_indices_and_gradient(a, dim, descending):
    check_against_torch(lambda x: x.sort(dim, descending).values,
                        lambda x: x.sort(dim, descending).values, [a])
    ours = cnnlab.sort(cnnlab.tensor(a), dim=dim, descending=descending)
    theirs = torch.sort(torch.tensor(a), dim=dim, descending=descending)
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    np.testing.assert_array_equal(cnnlab.tensor(a).argsort(dim, descending).numpy(),
                                  torch.tensor(a).argsort(dim, descending).numpy())


@pytest.mark.parametrize("dim,unbiased,keepdim", [(None, True, False), (1, False, False),
                                                  (0, True, True)])
def test_std(a, dim, unbiased, keepdim):
    if dim is None:
        check_against_torch(lambda x: x.std(), lambda x: x.std(), [a])
        check_against_torch(lambda x: cnnlab.std(x), lambda x: torch.std(x), [a])
    else:
        check_against_torch(lambda x: x.std(dim, unbiased, keepdim),
                            lambda x: x.std(dim, unbiased, keepdim), [a])


@pytest.mark.parametrize("p,dim", [("fro", None), (2, 1), (1, None), (1, -1), (3, 0),
                                   (float("inf"), 1)])
def test_norm(a, p, dim):
    check_against_torch(lambda x: x.norm(p, dim), lambda x: x.norm(p, dim), [a])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum(a, dim):
    check_against_torch(lambda x: x.cumsum(dim), lambda x: x.cumsum(dim), [a])
    check_against_torch(lambda x: cnnlab.cumsum(x, dim=dim), lambda x: torch.cumsum(x, dim=dim),
                        [a])
    ints = cnnlab.tensor(np.array([1, 2, 3], dtype=np.int32)).cumsum(0)
    assert ints.dtype == torch.tensor([1, 2, 3], dtype=torch.int32).cumsum(0).numpy().dtype


def test_index_and_format_on_0d_tensors():
    classes = ("plane", "car", "bird", "cat")
    labels = cnnlab.tensor([3, 1])
    assert classes[labels[0]] == "cat" and [10, 20, 30][cnnlab.tensor(2)] == 30
    loss = cnnlab.tensor(0.123456)
    assert f"{loss:.3f}" == f"{torch.tensor(0.123456):.3f}" == "0.123"
    assert f"{cnnlab.tensor(7):5d}" == "    7"
    with pytest.raises(TypeError, match="__index__: only integer tensors of a single element"):
        [1, 2][cnnlab.tensor(1.0)]
    with pytest.raises(TypeError, match="__format__"):
        f"{cnnlab.tensor([1.0, 2.0]):.3f}"


def test_tensor_constructor_makes_floats_like_torch():
    assert cnnlab.Tensor([0, 0, 0]).dtype == np.float32 == torch.Tensor([0, 0, 0]).numpy().dtype
    assert cnnlab.tensor([0, 0, 0]).dtype == np.int64


def test_data_is_a_tensor_sharing_memory():
    p = cnnlab.nn.Parameter(cnnlab.tensor([1.0, 2.0, 3.0]))
    d = p.data
    assert isinstance(d, cnnlab.Tensor) and not d.requires_grad and d.grad_fn is None
    p.data.mul_(2.0)                 # outside autograd, allowed on a leaf that requires grad
    np.testing.assert_array_equal(p.numpy(), [2.0, 4.0, 6.0])
    clone = p.data.clone()
    clone.add_(1)
    np.testing.assert_array_equal(p.numpy(), [2.0, 4.0, 6.0])
    assert p.data.cpu().numpy().tolist() == [2.0, 4.0, 6.0]
    p.data = cnnlab.zeros(3)
    np.testing.assert_array_equal(p.numpy(), [0.0, 0.0, 0.0])
    assert p.requires_grad


def test_state_dict_values_are_tensors_that_clone_and_deepcopy():
    model = cnnlab.nn.Sequential(cnnlab.nn.Linear(3, 2), cnnlab.nn.BatchNorm1d(2))
    sd = model.state_dict()
    assert all(isinstance(v, cnnlab.Tensor) for v in sd.values())
    best = copy.deepcopy(sd)
    w = sd["0.weight"].clone().cpu()
    with cnnlab.no_grad():
        model[0].weight.mul_(0)
    np.testing.assert_array_equal(best["0.weight"].numpy(), w.numpy())
    model.load_state_dict(best)
    np.testing.assert_array_equal(model[0].weight.numpy(), w.numpy())


# ---------------------------------------------------------------------- in-place ops
@pytest.mark.parametrize("op,args", [("add_", (1.5,)), ("sub_", (0.5,)), ("mul_", (3.0,)),
                                     ("div_", (4.0,)), ("clamp_", (-0.3, 0.4)), ("fill_", (2.0,))])
def test_in_place_ops_on_plain_tensors(a, op, args):
    ours, theirs = cnnlab.tensor(a), torch.tensor(a)
    r = getattr(ours, op)(*args)
    getattr(theirs, op)(*args)
    assert r is ours
    assert_close(ours.numpy(), theirs.numpy())


def test_in_place_with_tensor_operand_and_alpha(a, rng):
    b = rng.standard_normal(a.shape[1:])
    ours, theirs = cnnlab.tensor(a), torch.tensor(a)
    ours.add_(cnnlab.tensor(b), alpha=-0.1).sub_(cnnlab.tensor(b), alpha=2)
    theirs.add_(torch.tensor(b), alpha=-0.1).sub_(torch.tensor(b), alpha=2)
    assert_close(ours.numpy(), theirs.numpy())
    mask = a > 0
    ours.masked_fill_(cnnlab.tensor(mask), -1.0).copy_(cnnlab.tensor(b))
    theirs.masked_fill_(torch.tensor(mask), -1.0).copy_(torch.tensor(b))
    assert_close(ours.numpy(), theirs.numpy())
    ours.zero_()
    assert not ours.numpy().any()


def test_in_place_dtype_and_shape_errors_like_torch():
    i = cnnlab.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="add_: result type float.* can't be cast to .*int64"):
        i.add_(0.5)
    with pytest.raises(RuntimeError, match="add_: output with shape \\[3\\] doesn't match the "
                                           "broadcast shape \\[2, 3\\]"):
        cnnlab.zeros(3).add_(cnnlab.ones(2, 3))


@pytest.mark.parametrize("index", [1, (slice(None), 2), (0, slice(1, 3))])
def test_index_assignment_values(a, index):
    ours, theirs = cnnlab.tensor(a), torch.tensor(a)
    ours[index] = 7.0
    theirs[index] = 7.0
    assert_close(ours.numpy(), theirs.numpy())
    mask = a > 0.5
    ours[cnnlab.tensor(mask)] = 0.0
    theirs[torch.tensor(mask)] = 0.0
    assert_close(ours.numpy(), theirs.numpy())
    ours[cnnlab.tensor([0, 2])] = cnnlab.ones(5, 4)
    theirs[torch.tensor([0, 2])] = torch.ones(5, 4, dtype=torch.float64)
    assert_close(ours.numpy(), theirs.numpy())


def test_index_assignment_and_in_place_ops_in_the_graph(a, rng):
    v = rng.standard_normal((5, 4))
    g = rng.standard_normal(a.shape)

    def run(lib):
        x = lib.tensor(a, requires_grad=True)
        w = lib.tensor(v, requires_grad=True)
        y = x * 2
        y[1] = w                 # index assignment takes w's gradient
        y.mul_(w)                # in place on a non-leaf: joins the graph
        y.add_(x, alpha=0.5).clamp_(-1.0, 1.0)
        y.backward(lib.tensor(g))
        return y, x.grad, w.grad

    (yo, xo, wo), (yt, xt, wt) = run(cnnlab), run(torch)
    assert_close(yo.detach().numpy(), yt.detach().numpy())
    assert_close(xo.numpy(), xt.numpy(), what="x.grad")
    assert_close(wo.numpy(), wt.numpy(), what="w.grad")


def test_in_place_on_a_leaf_that_requires_grad_raises_outside_no_grad():
    w = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in "
                                           "an in-place operation"):
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w[0] = 3.0
    with cnnlab.no_grad():
        w.sub_(0.5)
        w[1] = 0.0
    np.testing.assert_array_equal(w.numpy(), [0.5, 0.0])


@pytest.mark.parametrize("change", [lambda y: y.add_(1), lambda y: y.mul_(2),
                                    lambda y: y.__setitem__(0, 5.0)])
def test_version_check_catches_a_saved_tensor_changed_in_place(change):
    x = cnnlab.tensor([0.5, 1.0, 2.0], requires_grad=True)
    y = x.exp()                                    # exp saves its output for backward
    change(y)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*ExpBackward.*"
                                           "is at version 1; expected version 0"):
        y.sum().backward()
    tx = torch.tensor([0.5, 1.0, 2.0], requires_grad=True)
    ty = tx.exp()
    change(ty)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        ty.sum().backward()


def test_version_check_on_a_saved_input():
    x = cnnlab.tensor([0.5, 1.0], requires_grad=True)
    h = x * 1
    y = h * h                                      # mul saves both inputs
    with cnnlab.no_grad():
        h.add_(1)
    with pytest.raises(RuntimeError, match="MulBackward"):
        y.sum().backward()


def test_in_place_change_not_seen_by_backward_is_fine():
    x = cnnlab.tensor([0.5, 1.0], requires_grad=True)
    y = x + 1                                      # add saves nothing
    y.mul_(3)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_in_place_on_a_tensor_other_ops_used_asks_for_the_out_of_place_form():
    x = cnnlab.tensor([0.5, 1.0], requires_grad=True)
    h = x * 2
    _ = h + 1
    with pytest.raises(RuntimeError, match="add_: this tensor was already used by 1 op"):
        h.add_(1)


# ---------------------------------------------------------------------- grad mode
def test_set_grad_enabled_as_a_call_and_as_a_context_like_torch():
    for lib in (cnnlab, torch):
        assert lib.is_grad_enabled()
        lib.set_grad_enabled(False)                # a call switches at once and stays
        assert not lib.is_grad_enabled()
        lib.set_grad_enabled(True)
        assert lib.is_grad_enabled()
        for phase in ("train", "val"):
            with lib.set_grad_enabled(phase == "train"):
                assert lib.is_grad_enabled() == (phase == "train")
            assert lib.is_grad_enabled()           # restored on exit
        with lib.no_grad():
            with lib.set_grad_enabled(True):
                assert lib.is_grad_enabled()
            assert not lib.is_grad_enabled()
        assert lib.is_grad_enabled()


def test_set_grad_enabled_as_a_decorator():
    @cnnlab.set_grad_enabled(False)
    def f():
        return cnnlab.is_grad_enabled()

    assert cnnlab.is_grad_enabled() and f() is False and cnnlab.is_grad_enabled()


# ---------------------------------------------------------------------- namespaces and names
def test_namespaces():
    import cnnlab.nn.functional as NF
    from cnnlab.nn import functional as NF2

    assert NF is cnnlab.functional is NF2 is cnnlab.nn.functional
    assert cnnlab.cuda.is_available() is cnnlab.backend.cuda_available()
    if not cnnlab.backend.cuda_available():
        assert cnnlab.cuda.device_count() == 0
        assert cnnlab.accelerator.is_available() is False
        assert cnnlab.accelerator.current_accelerator() is None
    assert cnnlab.cuda.manual_seed(0) is None and cnnlab.cuda.manual_seed_all(0) is None
    assert cnnlab.models.__name__ == "cnnlab.models" and cnnlab.data.__name__ == "cnnlab.data"


@pytest.mark.parametrize("owner,name,text", [
    (cnnlab, "compile", "cnnlab has no `torch.compile` (not supported: "),
    (cnnlab, "prod", "cnnlab has no `torch.prod` (not supported: "),
    (cnnlab.nn, "LSTM", "cnnlab has no `torch.nn.LSTM`; use cnnlab.nn.LSTMCell in a loop"),
    (cnnlab.nn, "DataParallel", "cnnlab has no `torch.nn.DataParallel`; use "),
    (F, "conv1d", "cnnlab has no `torch.nn.functional.conv1d` (not supported: "),
    (cnnlab.tensor(1.0), "half", "cnnlab has no `torch.Tensor.half` (not supported: "),
    (cnnlab, "no_such_name", "module 'cnnlab' has no attribute 'no_such_name'"),
    (cnnlab.tensor(1.0), "no_such_name", "'Tensor' object has no attribute 'no_such_name'"),
])
def test_missing_names_answer_in_one_line(owner, name, text):
    with pytest.raises(AttributeError) as info:
        getattr(owner, name)
    assert str(info.value).startswith(text) and "\n" not in str(info.value)
    assert not hasattr(owner, name)


# ---------------------------------------------------------------------- operators and their methods
@pytest.mark.parametrize("name", ["add", "sub", "mul", "truediv", "pow", "matmul"])
def test_reflected_operators_keep_the_written_order(a, name):
    """``2 - t`` (Python's ``t.__rsub__(2)``) is 2 - t, not t - 2, in value and gradient."""
    op = getattr(operator, name)
    m = np.abs(a[0]) + 0.5                                                  # (5, 4), positive for **
    left = np.array([[1.5, -1.0, 2.0, 0.5, 1.0]]) if name == "matmul" else 1.5
    check_against_torch(lambda x: getattr(x, f"__r{name}__")(cnnlab.tensor(left, dtype=x.dtype)),
                        lambda x: op(torch.as_tensor(left, dtype=x.dtype), x), [m])
    if name != "matmul":                                 # a number's operator defers to the tensor's
        check_against_torch(lambda x: op(left, x), lambda x: op(left, x), [m])


@pytest.mark.parametrize("name", ["mul", "div", "matmul", "exp", "log", "sqrt", "abs", "relu", "sigmoid",
                                  "tanh"])
def test_forwarding_methods_keep_torchs_signature_and_say_what_they_are(name):
    import inspect

    method = getattr(cnnlab.Tensor, name)
    binary = name in ("mul", "div", "matmul")
    assert list(inspect.signature(method).parameters) == (["self", "other"] if binary else ["self"])
    assert method.__name__ == name and method.__doc__
    t = cnnlab.tensor([[0.5, 2.0]])
    assert t.abs().tolist() == abs(t).tolist() and t.mul(other=t).tolist() == (t * t).tolist()
