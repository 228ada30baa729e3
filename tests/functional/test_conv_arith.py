"""Shape arithmetic: conv_output_size, pool_output_size and explain_fit, on the lectures' worked examples and
against the shapes PyTorch produces."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from cnnlab.functional.conv import FitReport, conv_output_size, explain_fit, pool_output_size


# ---------------------------------------------------------------------------- the lectures' examples

@pytest.mark.parametrize("stride, expected", [(1, 5), (2, 3)])
def test_7x7_input_3x3_filter_fits(stride, expected):
    assert conv_output_size(7, 3, stride) == expected
    report = explain_fit(7, 3, stride=stride)
    assert report.fits and report.output_size == expected and report.leftover == 0
    assert f"(7 - 3) / {stride} + 1 = {expected}" in report.text
    assert "fits" in str(report) and "does not fit" not in str(report)


def test_7x7_input_3x3_filter_stride_3_does_not_fit():
    report = explain_fit(7, 3, stride=3)
    assert isinstance(report, FitReport)
    assert not report.fits
    assert report.output_size == 2 == conv_output_size(7, 3, 3)
    assert report.leftover == 1
    assert str(report) == report.text == (
        "7x7 input, 3x3 kernel, stride 3: does not fit: (7 - 3) / 3 + 1 = 2.33 is not an integer, so the output is "
        "2x2 (rounded down) and the last 1 row(s) and the last 1 column(s) of the input are never covered by any "
        "window.")


def test_32x32x3_ten_5x5_filters_pad_2():
    assert conv_output_size(32, 5, stride=1, padding=2) == 32
    assert conv_output_size((32, 32), 5, padding=2) == (32, 32)
    assert explain_fit(32, 5, padding=2).fits
    assert 10 * (5 * 5 * 3) + 10 == 760


def test_alexnet_conv1():
    assert conv_output_size(227, 11, stride=4) == 55       # (227 - 11) / 4 + 1
    report = explain_fit(227, 11, stride=4)
    assert report.fits and report.output_size == 55
    assert "(227 - 11) / 4 + 1 = 55" in report.text
    assert pool_output_size(55, 3, stride=2) == 27          # AlexNet's overlapping max pooling


# ------------------------------------------------------------------------------------ against torch

def _draw(count, seed):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        size, k, s, p, d = (int(v) for v in (rng.integers(1, 30), rng.integers(1, 8), rng.integers(1, 5),
                                             rng.integers(0, 4), rng.integers(1, 4)))
        if d * (k - 1) + 1 <= size + 2 * p:
            out.append((size, k, s, p, d))
    return out


@pytest.mark.parametrize("size, k, s, p, d", _draw(60, 1))
def test_conv_output_size_matches_torch(size, k, s, p, d):
    out = TF.conv2d(torch.zeros(1, 1, size, size + 1), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d)
    assert conv_output_size(size, k, s, p, d) == out.shape[2]
    assert conv_output_size((size, size + 1), k, s, p, d) == tuple(out.shape[2:])
    report = explain_fit(size, k, s, p, d)
    assert report.output_size == out.shape[2]
    assert report.fits == ((size + 2 * p - d * (k - 1) - 1) % s == 0)


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("size, k, s, p, d", [c for c in _draw(80, 2) if c[3] <= c[1] // 2][:30])
def test_pool_output_size_matches_torch(size, k, s, p, d, ceil_mode):
    if d * (k - 1) + 1 > size + 2 * p:
        pytest.skip("window larger than the padded input")
    out = TF.max_pool2d(torch.zeros(1, 1, size, size), k, s, p, d, ceil_mode=ceil_mode)
    assert pool_output_size(size, k, s, p, d, ceil_mode) == out.shape[2]


def test_pool_stride_defaults_to_kernel():
    assert pool_output_size(8, 2) == 4
    assert pool_output_size(7, 2) == 3
    assert pool_output_size(7, 2, ceil_mode=True) == 4
    assert pool_output_size((8, 6), (2, 3)) == (4, 2)


def test_same_and_valid_padding_strings():
    assert conv_output_size(9, 4, padding="same") == 9
    assert conv_output_size((9, 6), (3, 2), padding="same", dilation=2) == (9, 6)
    assert conv_output_size(9, 4, padding="valid") == 6
    assert explain_fit(9, 4, padding="same").fits


def test_pairs_give_pairs():
    assert conv_output_size(7, (3, 1), stride=(3, 2)) == (2, 4)
    report = explain_fit((7, 9), 3, stride=3)
    assert report.output_size == (2, 3) and report.leftover == (1, 0) and not report.fits
    assert report.text == (
        "7x9 input, 3x3 kernel, stride 3: does not fit: height: (7 - 3) / 3 + 1 = 2.33 is not an integer; width: "
        "(9 - 3) / 3 + 1 = 3, so the output is 2x3 (rounded down) and the last 1 row(s) of the input are never "
        "covered by any window.")


# -------------------------------------------------------------------------------- explain_fit details

def test_explain_padding_leftover_is_only_padding():
    report = explain_fit(8, 3, stride=3, padding=1)
    assert (report.fits, report.output_size, report.leftover) == (False, 3, 1)
    assert "(8 + 2*1 - 3) / 3 + 1 = 3.33 is not an integer" in report.text
    assert "the last 1 row(s) (all padding: no input pixel is lost)" in report.text
    assert "of the padded input are never covered" in report.text


def test_explain_leftover_partly_padding():
    report = explain_fit(11, 3, stride=5, padding=1)      # 11 + 2 - 3 = 10 = 2*5: fits
    assert report.fits and report.output_size == 3
    report = explain_fit(14, 3, stride=5, padding=1)      # 14 + 2 - 3 = 13 = 2*5 + 3: 3 left, 1 of them padding
    assert (report.output_size, report.leftover) == (3, 3)
    assert "the last 3 row(s) (1 of them padding) and the last 3 column(s) (1 of them padding)" in report.text


def test_explain_dilation_shows_the_span():
    report = explain_fit(9, 3, stride=2, dilation=2)
    assert report.fits and report.output_size == 3
    assert "(9 - 5 [dilated kernel: 2*(3 - 1) + 1]) / 2 + 1 = 3" in report.text
    assert "dilation 2" in report.text


def test_explain_stride_larger_than_kernel_mentions_skipped_rows():
    report = explain_fit(7, 1, stride=3)
    assert report.fits and report.output_size == 3
    assert "2 row(s) and 2 column(s) between neighbouring windows are skipped" in report.text


def test_explain_kernel_larger_than_input():
    report = explain_fit(5, 7)
    assert (report.fits, report.output_size, report.leftover) == (False, 0, 5)
    assert ("the kernel does not fit at all: it spans 7 but the padded input has only 5; there is no output"
            in str(report))


def test_fit_report_is_immutable():
    report = explain_fit(7, 3)
    with pytest.raises(Exception):
        report.fits = False


# ------------------------------------------------------------------------------------------ errors

def test_error_conv_output_size_kernel_too_large():
    with pytest.raises(ValueError, match=re.escape("conv_output_size: the kernel does not fit: kernel 3 with dilation "
                                                   "3 spans 7, but the padded input is 6 (size 4 + padding 2)")):
        conv_output_size(4, 3, padding=1, dilation=3)


@pytest.mark.parametrize("fn", [conv_output_size, explain_fit, pool_output_size])
def test_error_bad_stride(fn):
    with pytest.raises(ValueError, match=re.escape(f"{fn.__name__}: `stride` must be a positive int or a pair of "
                                                   f"positive ints. Received: stride=0")):
        fn(7, 3, stride=0)


@pytest.mark.parametrize("fn", [conv_output_size, explain_fit])
def test_error_bad_size_and_padding(fn):
    with pytest.raises(ValueError, match=re.escape(f"{fn.__name__}: `size` must be a positive int")):
        fn(0, 3)
    with pytest.raises(ValueError, match=re.escape(f"{fn.__name__}: `padding` must be a non-negative int or a pair "
                                                   f"of non-negative ints. Received: padding=-1")):
        fn(7, 3, padding=-1)


def test_error_same_with_stride_in_arith():
    with pytest.raises(ValueError, match=r"conv_output_size: padding='same' is only supported with stride 1"):
        conv_output_size(7, 3, stride=2, padding="same")


def test_error_pool_padding_more_than_half_kernel():
    with pytest.raises(ValueError, match=re.escape("pool_output_size: `padding` must be at most half of the kernel "
                                                   "size (kernel_size // 2 = 1). Received: padding=2, kernel_size=3")):
        pool_output_size(7, 3, padding=2, dilation=2)
