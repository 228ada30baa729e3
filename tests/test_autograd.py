import numpy as np
import pytest

import cnnlab


def test_tensor_used_twice_gets_the_sum_of_gradients():
    x = cnnlab.tensor([2.0, -3.0], requires_grad=True, dtype="float64")
    y = x * x + 3 * x  # x feeds two ops: dy/dx = 2x + 3
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([2.0, -3.0]) + 3)


def test_diamond_graph_accumulates():
    x = cnnlab.tensor([1.5], requires_grad=True, dtype="float64")
    a = x * 2
    b = a * a      # 4x^2
    c = a + b      # 2x + 4x^2 -> 2 + 8x
    c.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 8 * 1.5])


def test_gradients_accumulate_across_backward_calls():
    x = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])


def test_deep_chain_does_not_hit_the_recursion_limit():
    x = cnnlab.tensor([1.0], requires_grad=True, dtype="float64")
    y = x
    for _ in range(5000):
        y = y * 1.0 + 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0])


def test_no_grad_records_nothing():
    x = cnnlab.tensor([1.0], requires_grad=True)
    with cnnlab.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None

    @cnnlab.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert cnnlab.is_grad_enabled()


@pytest.mark.parametrize("make, inside", [(lambda: cnnlab.no_grad(), False),
                                          (lambda: cnnlab.enable_grad(), True),
                                          (lambda: cnnlab.inference_mode(), False),
                                          (lambda: cnnlab.set_grad_enabled(False), False)])
def test_grad_mode_decorators_give_each_call_its_own_switch(make, inside):
    # a decorated function that recurses enters a fresh manager per call: each exit restores its own mode
    seen = []

    @make()
    def nested(depth):
        seen.append(cnnlab.is_grad_enabled())
        if depth:
            nested(depth - 1)
        seen.append(cnnlab.is_grad_enabled())

    with cnnlab.set_grad_enabled(not inside):
        nested(2)
        assert cnnlab.is_grad_enabled() is (not inside)
    assert seen == [inside] * 6
    assert cnnlab.is_grad_enabled()


def test_backward_with_explicit_gradient():
    x = cnnlab.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, dtype="float64")
    y = x * x
    y.backward(np.array([[1.0, 0.0], [0.5, 2.0]]))
    np.testing.assert_allclose(x.grad.numpy(), [[2.0, 0.0], [3.0, 16.0]])


def test_backward_needs_gradient_for_non_scalar():
    x = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="can be omitted only for a one-element output"):
        (x * 2).backward()


def test_backward_gradient_shape_is_checked():
    x = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"must have the output's shape \(2,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_on_constant_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cnnlab.tensor([1.0]).sum().backward()


def test_graph_is_freed_after_backward_unless_retained():
    x = cnnlab.tensor([1.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0])
    with pytest.raises(RuntimeError, match="already freed"):
        y.backward()


def test_backward_frees_each_activation_once_its_op_is_done():
    """As PyTorch does: an intermediate nobody else holds is freed during the walk, so its memory can
    serve the gradients still to come (the kernels' output pool reuses it within the same step)."""
    import weakref

    seen = {}

    class Spy(cnnlab.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            seen["later activation alive"] = seen["ref"]() is not None
            return g * 2

    x = cnnlab.tensor(np.ones(4), requires_grad=True)
    a = Spy.apply(x)
    b = a.exp()                       # exp keeps its output for its backward
    seen["ref"] = weakref.ref(b._data)
    loss = (b * 3).sum()
    del a, b
    loss.backward()
    assert seen["later activation alive"] is False
    np.testing.assert_allclose(x.grad.numpy(), 3 * 2 * np.exp(2 * np.ones(4)))


def test_an_activation_no_op_saved_is_freed_in_the_forward_once_the_code_lets_it_go():
    """As in PyTorch, the graph holds the node that made a tensor, not the tensor: a batch norm's
    output feeding a residual sum (which keeps only its own output) is freed before backward, and
    the gradients are those of the graph that kept it."""
    import weakref

    def forward(x, keep):
        a = x * 2                     # Mul keeps x and 2, not its output
        b = a + 1                     # Add keeps nothing
        refs = [weakref.ref(a), weakref.ref(b._data)]
        out = (b.exp() * 3).sum()     # exp keeps its output, b's own array is not
        if keep:
            return out, refs, (a, b)
        return out, refs, ()

    values = np.array([0.5, -1.0, 2.0])
    x = cnnlab.tensor(values, requires_grad=True)
    loss, refs, kept = forward(x, keep=False)
    assert [r() for r in refs] == [None, None]
    loss.backward()
    y = cnnlab.tensor(values, requires_grad=True)
    loss, refs, kept = forward(y, keep=True)
    assert all(r() is not None for r in refs)
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.grad.numpy())
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.exp(2 * values + 1))


def test_a_hook_on_an_intermediate_runs_after_the_code_let_the_tensor_go():
    """PyTorch keeps such a hook with the graph; so does cnnlab (the graph then holds the tensor)."""
    calls = []
    x = cnnlab.tensor([1.0, 2.0], requires_grad=True, dtype="float64")
    h = x * 3
    h.register_hook(lambda g: calls.append(g.numpy().tolist()) or g * 10)
    loss = (h * h).sum()
    del h
    loss.backward()
    assert calls == [[6.0, 12.0]]
    np.testing.assert_allclose(x.grad.numpy(), [180.0, 360.0])


def test_retain_grad_keeps_intermediate_gradient():
    x = cnnlab.tensor([1.0, 2.0], requires_grad=True, dtype="float64")
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * 3 * np.array([1.0, 2.0]))


def test_stored_gradient_is_writable_and_not_aliased():
    x = cnnlab.tensor(np.ones((2, 3)), requires_grad=True)
    (x.sum() + x.sum()).backward()  # sum's backward is a read-only broadcast view
    x.grad.data *= 0.5               # an optimizer may scale it in place
    np.testing.assert_allclose(x.grad.numpy(), np.ones((2, 3)))
