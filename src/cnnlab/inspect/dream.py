"""DeepDream (Mordvintsev et al. 2015): gradient ascent on the input image to amplify what a layer sees.

Each step moves the image along the gradient of the objective (the mean square of a layer's activations,
or one class score), divided by its mean magnitude so that the step size means the same at every layer
("normalised steps"); the image is shifted by a random jitter before each step and shifted back after,
which keeps the high-frequency patterns of a fixed pixel grid out; and it is done over octaves: first
on a small copy of the image, then on larger ones, each starting from the previous octave's detail
upsampled onto the original, so the patterns grow at several scales.
"""

from collections import namedtuple

import numpy as np

from .. import backend
from ..functional.upsample import interpolate
from ..tensor import Tensor
from .visualize import get_layer

Dream = namedtuple("Dream", ["image", "objectives", "start", "end"])


def _resize(a, size):
    """Bilinear resize of a (1, C, H, W) array to ``size`` (H, W)."""
    if tuple(a.shape[2:]) == tuple(size):
        return a
    return interpolate(Tensor(a), size=tuple(size), mode="bilinear", align_corners=False).numpy()


class _Reached(Exception):
    """Raised by the layer's hook: the rest of the network is not needed for the objective."""


def _objective_and_gradient(model, x, module, target, size):
    """The objective at ``x`` (1, C, h, w) and its gradient with respect to ``x``.

    A smaller octave is upsampled to the model's input ``size`` inside the graph (so models with
    fully connected layers dream at every octave too), and the gradient flows back through it.
    """
    captured = {}

    def reach(m, args, out):
        captured["out"] = out
        raise _Reached

    handle = module.register_forward_hook(reach) if module is not None else None
    inp = Tensor(x, requires_grad=True)
    z = inp if tuple(x.shape[2:]) == tuple(size) else interpolate(inp, size=tuple(size), mode="bilinear",
                                                                  align_corners=False)
    try:
        try:
            scores = model(z)
        except _Reached:
            scores = None
        if module is not None:
            out = captured["out"]
            objective = (out * out).mean()          # the L2 objective of the DeepDream notebook
        else:
            objective = scores[0, target]
        objective.backward()
    finally:
        if handle is not None:
            handle.remove()
    grad = inp.grad.data if isinstance(inp.grad, Tensor) else inp.grad
    return float(objective.item()), backend.asnumpy(grad)


def dream(model, image, layer=None, target=None, steps=10, step_size=1.5 / 255 * 10, octaves=3,
          octave_scale=1.4, jitter=2, seed=0):
    """Amplify ``layer``'s activations (or class ``target``'s score) in ``image`` by gradient ascent.

    Args:
        model: any Module; it is run in evaluation mode and its parameter gradients are left as they were.
        image: the start, one model-ready image (C, H, W) or (1, C, H, W) (e.g. standardised noise).
        layer: a layer name (``"features.4"``) or submodule whose activations' mean square is raised.
        target: instead of ``layer``, a class index whose score is raised.
        steps: gradient steps per octave.
        step_size: each step adds ``step_size * g / mean|g|`` (a normalised step).
        octaves, octave_scale: the image is dreamt at ``octaves`` sizes, each ``octave_scale`` times
            the previous one, the last the image's own.
        jitter: the image is rolled by up to this many pixels each way before a step (and back after).
        seed: seed of the jitter.

    Returns:
        ``Dream(image, objectives, start, end)``: the dreamt image (1, C, H, W), the objective before
        each step (of the jittered, resized image), and the objective of the start and of the result.
    """
    if (layer is None) == (target is None):
        raise ValueError("dream: give `layer` (amplify its activations) or `target` (a class score), "
                         f"exactly one. Received: layer={layer!r}, target={target!r}")
    module = get_layer(model, layer, "dream")[1] if layer is not None else None
    base = np.asarray(backend.asnumpy(getattr(image, "data", image)), np.float32)
    base = base.reshape((1,) * (4 - base.ndim) + base.shape)
    rng = np.random.default_rng(seed)
    h, w = base.shape[2:]
    sizes = [(max(1, round(h / octave_scale ** i)), max(1, round(w / octave_scale ** i)))
             for i in reversed(range(octaves))]
    detail = np.zeros((1, base.shape[1]) + sizes[0], np.float32)
    params = list(model.parameters())
    saved = [p.grad for p in params]
    was_training = model.training
    model.eval()
    objectives = []
    try:
        start = _objective_and_gradient(model, base, module, target, (h, w))[0]
        for size in sizes:
            octave_base = _resize(base, size)
            x = octave_base + _resize(detail, size)
            for _ in range(steps):
                dy, dx = rng.integers(-jitter, jitter + 1, size=2) if jitter else (0, 0)
                rolled = np.roll(x, (dy, dx), axis=(2, 3))
                value, grad = _objective_and_gradient(model, rolled, module, target, (h, w))
                objectives.append(value)
                grad = np.roll(grad, (-dy, -dx), axis=(2, 3))
                x = x + step_size * grad / (np.abs(grad).mean() + 1e-8)
            detail = x - octave_base
        end = _objective_and_gradient(model, x, module, target, (h, w))[0]
    finally:
        model.train(was_training)
        for p, g in zip(params, saved):
            p.grad = g
    return Dream(x.astype(np.float32), objectives, start, end)
