"""Pooling, one module per family: max/min, avg, lp, adaptive/global, subsample, stochastic, fractional.
Part of ``functional``: may import what ``functional`` may (tensor, autograd, kernels and below).

Max and average pooling, the hot ones, run in ``kernels`` (``max_pool2d_forward`` and friends): the
window maxima with the winning tap of each window, the window means, and their backward passes. The
others read their windows through one strided view (``sliding_windows``, no copy) of shape
(N, C, oH, oW, kH, kW).

Ops that pick one element per window (max, min, adaptive max, fractional max, stochastic pooling in
training) can report the picked element's flat index in its H*W input plane, as PyTorch's
``return_indices`` does; the backward of the adaptive, fractional and stochastic picks adds the output
gradient at those indices with one ``scatter_add`` (overlapping windows may pick the same element twice).

Layout is NCHW; a 3-D (C, H, W) input is treated as one unbatched sample, as in PyTorch.
"""
