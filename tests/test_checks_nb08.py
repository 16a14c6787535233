"""The checks of notebook 08 say ✓ to the notebook's solutions and ✗, with a hint that names the
mistake, to typical wrong convolutions and poolings."""
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_lib import conv
from workbook_tools.checks import EXERCISES, FAILED, PASSED

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "08_convolutional_networks.ipynb"


def _solutions():
    """The notebook's helper and solution cells, run in order: their functions by name."""
    namespace = {"np": np}
    for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
        meta = cell.metadata
        if cell.cell_type == "code" and (meta.get("nbgrader", {}).get("solution") or "def padding" in cell.source):
            exec(compile(cell.source, NOTEBOOK.name, "exec"), namespace)
    return namespace


SOLUTIONS = _solutions()


def verdict(exercise, answer):
    return EXERCISES[exercise].run(answer)


def assert_wrong(exercise, answer, *words):
    result = verdict(exercise, answer)
    assert result.status == FAILED, result.text()
    assert result.hint, f"no hint for a known mistake: {result.text()}"
    text = (result.message + " " + result.hint).lower()
    assert all(w.lower() in text for w in words), result.text()


@pytest.mark.parametrize("exercise, name", [("8.1", "conv_forward"), ("8.2", "conv_backward"),
                                            ("8.3", "maxpool_forward"), ("8.4", "maxpool_backward")])
def test_the_notebook_solution_passes(exercise, name):
    result = verdict(exercise, SOLUTIONS[name])
    assert result.status == PASSED, result.text()
    assert result.text().startswith(f"✓ Exercise {exercise}") and "RICE-18" in result.text()


def test_the_library_versions_pass_too():
    for exercise, fn in (("8.1", conv.conv_forward_naive), ("8.2", conv.conv_backward_naive),
                         ("8.3", conv.maxpool_forward_naive), ("8.4", conv.maxpool_backward_naive)):
        assert verdict(exercise, fn).status == PASSED


# --- 8.1: the forward convolution -------------------------------------------------------

def _forward(flip=False, transpose=False, bias=True, first_channel=False, pad_off_by_one=False, sign=1):
    """A loop convolution with one deliberate mistake."""
    padding = SOLUTIONS["padding"]

    def conv_forward(x, W, b, stride=1, pad="valid"):
        F, C, kh, kw = W.shape
        ph, pw = padding(pad, (kh, kw))
        if pad_off_by_one:
            ph, pw = ph + 1, pw + 1
        K = W[:, :, ::-1, ::-1] if flip else W.transpose(0, 1, 3, 2) if transpose else W
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        Ho, Wo = (xp.shape[2] - kh) // stride + 1, (xp.shape[3] - kw) // stride + 1
        out = np.zeros((len(x), F, Ho, Wo))
        for n, f, i, j in np.ndindex(out.shape):
            window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            if first_channel:
                window, k = window[:1], K[f, :1]
            else:
                k = K[f]
            out[n, f, i, j] = sign * np.sum(window * k) + (b[f] if bias else 0)
        return out
    return conv_forward


def test_8_1_mistakes():
    assert verdict("8.1", _forward()).status == PASSED
    assert_wrong("8.1", _forward(flip=True), "flipped the kernel", "cross-correlation")
    assert_wrong("8.1", _forward(transpose=True), "transposed", "rows")
    assert_wrong("8.1", _forward(bias=False), "bias")
    assert_wrong("8.1", _forward(first_channel=True), "every input channel")
    assert_wrong("8.1", _forward(pad_off_by_one=True), "shape", "(h + 2·pad - kh) // stride + 1")
    assert_wrong("8.1", _forward(sign=-1), "sign")


# --- 8.2: the backward convolution ------------------------------------------------------

def _backward(flip_dx=False, flip_dW=False, average=False, db_axes=(0, 2, 3), crop_one_side=False,
              swap_channels=False):
    def conv_backward(dout, x, W, stride=1, pad="valid"):
        dx, dW, db = conv.conv_backward(dout, x, W[:, :, ::-1, ::-1] if flip_dx else W, stride, pad)
        if swap_channels and W.shape[0] == W.shape[1]:  # dL/dx through W[c, f] instead of W[f, c]
            dx = conv.conv_backward(dout, x, W.transpose(1, 0, 2, 3), stride, pad)[0]
        if crop_one_side:
            pads, (H, Wd) = conv.conv_geometry(x.shape, W.shape, stride, pad)[0], x.shape[2:]
            full = conv.conv_backward(dout, conv.pad_images(x, pads), W, stride, 0)[0]
            dx = full[:, :, :H, :Wd]
        return dx, dW[:, :, ::-1, ::-1] if flip_dW else dW / len(x) if average else dW, dout.sum(axis=db_axes)
    return conv_backward


def test_8_2_mistakes():
    assert verdict("8.2", _backward()).status == PASSED
    assert_wrong("8.2", _backward(flip_dx=True), "flipped")
    assert_wrong("8.2", _backward(flip_dW=True), "dw is flipped")
    assert_wrong("8.2", _backward(average=True), "sum over the batch")
    assert_wrong("8.2", _backward(db_axes=(0,)), "db", "one number per kernel", "axis=(0, 2, 3)")
    assert_wrong("8.2", _backward(db_axes=(0, 1, 2, 3)), "db", "one number per kernel")
    assert_wrong("8.2", _backward(crop_one_side=True), "cut the padding off both sides")
    assert_wrong("8.2", _backward(swap_channels=True), "dx", "axes are swapped", "(out_channels, in_channels")
    def negated(dout, x, W, stride=1, pad="valid"):
        return tuple(-g for g in conv.conv_backward(dout, x, W, stride, pad))
    assert_wrong("8.2", negated, "sign")
    assert_wrong("8.2", lambda dout, x, W, stride=1, pad="valid": conv.conv_backward(dout, x, W, stride, pad)[:2],
                 "three arrays")


# --- 8.3 and 8.4: max-pooling -------------------------------------------------------------

def _windows(x):
    N, C, H, W = x.shape
    return x[:, :, :H // 2 * 2, :W // 2 * 2].reshape(N, C, H // 2, 2, W // 2, 2)


def test_8_3_mistakes():
    assert_wrong("8.3", lambda x: _windows(x).mean(axis=(3, 5)), "average pooling")
    assert_wrong("8.3", lambda x: _windows(x).min(axis=(3, 5)), "smallest")
    assert_wrong("8.3", lambda x: x[:, :, ::2, ::2][:, :, :x.shape[2] // 2, :x.shape[3] // 2], "top-left")
    def overlapping(x):
        return np.lib.stride_tricks.sliding_window_view(x, (2, 2), axis=(2, 3)).max(axis=(4, 5))
    assert_wrong("8.3", overlapping, "shape", "do not overlap")


def _pool_backward(rule):
    def maxpool_backward(dout, x):
        dx = np.zeros_like(x)
        for n, c, i, j in np.ndindex(dout.shape):
            window = x[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
            is_max = window == window.max()
            share = {"all tied": is_max, "split": is_max / is_max.sum(), "everyone": np.ones((2, 2)),
                     "quarter": np.full((2, 2), 0.25),
                     "last tied": is_max & (np.cumsum(is_max.ravel()[::-1])[::-1].reshape(2, 2) == 1)}[rule]
            dx[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2] += dout[n, c, i, j] * share
        return dx
    return maxpool_backward


def test_8_4_mistakes():
    assert_wrong("8.4", _pool_backward("all tied"), "tied maxima", "counted twice", "first")
    assert_wrong("8.4", _pool_backward("split"), "split", "first maximum")
    assert_wrong("8.4", _pool_backward("everyone"), "only the maximum")
    assert_wrong("8.4", _pool_backward("quarter"), "maximum alone")
    assert_wrong("8.4", _pool_backward("last tied"), "first one", "not the last")
