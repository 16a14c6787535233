"""Checks for notebook 08, convolutional networks: convolution and max-pooling, forward and backward.

Layout as in course_lib.conv: images ``(batch, channels, height, width)``, kernels
``(out_channels, in_channels, kh, kw)``. Each answer is compared with course_lib's
fast versions (which the tests check against loops and finite differences) on
small cases with several strides, paddings and channel counts; the backward
passes also against central differences. Known mistakes are recomputed on the
same inputs, so that a match names the mistake.
"""
from __future__ import annotations

import numpy as np

from course_lib import conv

from .core import Exercise, Wrong, central_differences, compare

# (images, kernels, stride, pad): odd sizes, non-square kernels, more than one channel
CASES = [((2, 3, 6, 7), (4, 3, 3, 3), 1, "same"),
         ((2, 2, 7, 8), (3, 2, 3, 2), 2, "valid"),
         ((1, 3, 6, 6), (3, 3, 5, 5), 1, 2)]


def _case(index, seed=0):
    x_shape, W_shape, stride, pad = CASES[index]
    rng = np.random.default_rng(seed + index)
    return rng.standard_normal(x_shape), rng.standard_normal(W_shape), rng.standard_normal(W_shape[0]), stride, pad


def _flip(W):
    return W[:, :, ::-1, ::-1]


def _shape_hint(x, W, stride, pad):
    pads, (Ho, Wo) = conv.conv_geometry(x.shape, W.shape, stride, pad)
    return (f"with stride {stride} and padding {pads[0]} the output is (N, F, {Ho}, {Wo}): out_h = (H + 2·pad - kh)"
            f" // stride + 1; 'same' pads (k - 1)/2 on every side, 'valid' pads nothing")


def verify_conv_forward(conv_forward):
    for i in range(len(CASES)):
        x, W, b, stride, pad = _case(i)
        got = conv_forward(x.copy(), W.copy(), b.copy(), stride, pad)
        want = conv.conv_forward(x, W, b, stride, pad)
        if np.shape(got) != want.shape:
            raise Wrong(f"the output has shape {np.shape(got)}, expected {want.shape} (case {i + 1}: x {x.shape},"
                        f" W {W.shape}, stride {stride}, pad {pad!r})", _shape_hint(x, W, stride, pad))
        hints = [(conv.conv_forward(x, _flip(W), b, stride, pad),
                  "you flipped the kernel: deep learning's 'convolution' is a cross-correlation,"
                  " out[n, f, i, j] = Σ x_pad[n, c, i·s + u, j·s + v] · W[f, c, u, v], with no flip"),
                 (conv.conv_forward(x, W, np.zeros_like(b), stride, pad), "the bias b[f] is missing"),
                 (conv.conv_forward(x, -W, b, stride, pad), "the sign: add Σ window · kernel to the bias,"
                                                            " don't subtract it"),
                 (conv.conv_forward(x[:, :1], W[:, :1], b, stride, pad),
                  "only the first input channel counts: sum over every input channel c as well as u and v")]
        if W.shape[2] == W.shape[3]:
            hints.append((conv.conv_forward(x, W.transpose(0, 1, 3, 2), b, stride, pad),
                          "the kernel is transposed: u runs down the rows (height), v along the columns,"
                          " W[f, c, u, v] multiplies x[..., i·s + u, j·s + v]"))
        compare(f"the output (case {i + 1}: stride {stride}, pad {pad!r})", got, want, hints=hints,
                otherwise="each output number is one window of the padded input times one kernel, summed, plus"
                          " its bias; the window for out[.., i, j] starts at row i·stride, column j·stride")
    return ("cross-correlation with bias on 3 cases: 'same' and 'valid' and pad 2, strides 1 and 2, several"
            " channels, odd sizes and a non-square kernel")


def verify_conv_backward(conv_backward):
    for i in range(len(CASES)):
        x, W, b, stride, pad = _case(i, seed=10)
        dout = np.random.default_rng(20 + i).standard_normal(conv.conv_forward(x, W, b, stride, pad).shape)
        got = conv_backward(dout.copy(), x.copy(), W.copy(), stride, pad)
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            raise Wrong("conv_backward should return three arrays: dx, dW, db", "return dx, dW, db")
        dx, dW, db = conv.conv_backward(dout, x, W, stride, pad)
        where = f" (case {i + 1}: stride {stride}, pad {pad!r})"
        if np.shape(got[2]) != db.shape:
            raise Wrong(f"db{where} has shape {np.shape(got[2])}, expected {db.shape}: one number per kernel",
                        "db[f] sums dout[:, f] over the batch and every output position: dout.sum(axis=(0, 2, 3))")
        compare("db" + where, got[2], db)
        compare("dW" + where, got[1], dW, hints=[
            (dW[:, :, ::-1, ::-1], "dW is flipped: dW[f, c, u, v] = Σ dout[n, f, i, j]"
                                   " · x_pad[n, c, i·s + u, j·s + v]"),
            (dW / len(x), "sum over the batch, don't average: the loss has averaged already")])
        compare("dx" + where, got[0], dx, hints=_dx_mistakes(dout, x, W, stride, pad),
                otherwise="send each dout[n, f, i, j] back through the window it came from: dx_pad[n, :, window]"
                          " += dout[n, f, i, j] · W[f], then cut the padding off")
    x, W, b, stride, pad = _case(0, seed=30)
    dout = np.random.default_rng(31).standard_normal(conv.conv_forward(x, W, b, stride, pad).shape)
    numeric = central_differences(lambda v: float(np.sum(conv.conv_forward(v, W, b, stride, pad) * dout)), x)
    compare("dx against central differences", conv_backward(dout, x, W, stride, pad)[0], numeric, rtol=1e-5,
            atol=1e-7)
    return "dx, dW and db on 3 cases, and dx against central differences of the loss"


def _dx_mistakes(dout, x, W, stride, pad):
    pads, (H, Wd) = conv.conv_geometry(x.shape, W.shape, stride, pad)[0], x.shape[2:]
    not_flipped = conv.conv_backward(dout, x, _flip(W), stride, pad)[0]
    hints = [(not_flipped, "dx uses the kernel flipped: as a convolution, dx is dout padded and convolved with the"
                           " flipped kernel; easier: add dout[n, f, i, j] · W[f] onto the window it came from")]
    if W.shape[0] == W.shape[1]:
        hints.append((conv.conv_backward(dout, x, W.transpose(1, 0, 2, 3), stride, pad)[0],
                      "the kernels' axes are swapped: dx[:, c] collects dout[:, f] · W[f, c] over the output"
                      " channels f; W is (out_channels, in_channels, kh, kw)"))
    if any(pads):
        dxp = _dx_padded(dout, x, W, stride, pad)
        hints.append((dxp[:, :, :H, :Wd], "cut the padding off both sides:"
                                          " dx = dx_pad[:, :, pad:pad + H, pad:pad + W]"))
    return hints


def _dx_padded(dout, x, W, stride, pad):
    pads = conv.conv_geometry(x.shape, W.shape, stride, pad)[0]
    xp = conv.pad_images(x, pads)
    return conv.conv_backward(dout, xp, W, stride, 0)[0]


def verify_maxpool_forward(maxpool_forward):
    rng = np.random.default_rng(40)
    for shape in ((2, 3, 6, 8), (1, 2, 7, 5)):
        x = rng.standard_normal(shape)
        got, want = maxpool_forward(x.copy()), conv.maxpool_forward(x)
        N, C, H, W = shape
        if np.shape(got) != want.shape:
            raise Wrong(f"the output has shape {np.shape(got)} for x {shape}, expected {want.shape}",
                        "2x2 windows with stride 2 do not overlap: out_h = H // 2 (an odd last row is dropped)")
        windows = x[:, :, :H // 2 * 2, :W // 2 * 2].reshape(N, C, H // 2, 2, W // 2, 2)
        compare(f"the output for x {shape}", got, want, hints=[
            (windows.mean(axis=(3, 5)), "that is average pooling: keep the largest number of each window"),
            (windows.min(axis=(3, 5)), "that is the smallest number of each window: keep the largest"),
            (x[:, :, :H // 2 * 2:2, :W // 2 * 2:2], "that is the window's top-left entry: keep its largest")])
    return "2x2 max-pooling with stride 2 on even and odd image sizes"


def verify_maxpool_backward(maxpool_backward):
    rng = np.random.default_rng(50)
    for shape, ties in (((2, 3, 6, 8), False), ((1, 2, 7, 5), False), ((3, 2, 6, 6), True)):
        # with ties: small whole numbers after a ReLU, as real feature maps have them
        x = np.maximum(rng.integers(-2, 3, shape), 0).astype(float) if ties else rng.standard_normal(shape)
        dout = rng.standard_normal(conv.maxpool_forward(x).shape)
        got, want = maxpool_backward(dout.copy(), x.copy()), conv.maxpool_backward(dout, x)
        what = "with tied maxima" if ties else f"for x {shape}"
        compare(f"dx {what}", got, want, hints=_pool_mistakes(dout, x),
                otherwise="each window's dout goes to the position of its maximum; every other entry gets 0")
    return "the gradient goes to each window's maximum (the first of tied maxima), odd sizes and ties included"


def _pool_mistakes(dout, x):
    N, C, H, W = x.shape
    Ho, Wo = H // 2, W // 2
    up = np.zeros_like(x)
    up[:, :, :Ho * 2, :Wo * 2] = dout.repeat(2, axis=2).repeat(2, axis=3)
    mx = np.zeros_like(x)
    mx[:, :, :Ho * 2, :Wo * 2] = conv.maxpool_forward(x).repeat(2, axis=2).repeat(2, axis=3)
    is_max = (x == mx) & (np.arange(H)[:, None] < Ho * 2) & (np.arange(W) < Wo * 2)
    counts = np.zeros_like(x)
    counts[:, :, :Ho * 2, :Wo * 2] = is_max[:, :, :Ho * 2, :Wo * 2].reshape(N, C, Ho, 2, Wo, 2).sum(axis=(3, 5)) \
        .repeat(2, axis=2).repeat(2, axis=3)
    last = np.zeros_like(x)  # the last of tied maxima: the first one in the image turned by 180°
    last[:, :, :Ho * 2, :Wo * 2] = conv.maxpool_backward(dout[:, :, ::-1, ::-1],
                                                         x[:, :, Ho * 2 - 1::-1, Wo * 2 - 1::-1])[:, :, ::-1, ::-1]
    return [(last, "of tied maxima, give the gradient to the first one (row by row), as np.argmax finds it,"
                   " not the last"),
            (up * is_max, "tied maxima each got the whole gradient, so it is counted twice: give it to the first"
                          " maximum only (np.argmax finds the first), as PyTorch and TensorFlow do"),
            (np.where(is_max, up / np.maximum(counts, 1), 0), "you split the gradient between tied maxima: a valid"
             " subgradient, but this workbook (like PyTorch and TensorFlow) gives it all to the first maximum"),
            (up, "every entry of a window got the gradient: only the maximum changed the output"),
            (up / 4, "the gradient of a max goes to the maximum alone; dividing by 4 is average pooling's gradient")]


EXERCISES = [
    Exercise("8.1", ["RICE-18"], "convolution, forward", verify_conv_forward, conv.conv_forward,
             "course_lib.conv.conv_forward"),
    Exercise("8.2", ["RICE-18"], "convolution, backward", verify_conv_backward, conv.conv_backward,
             "course_lib.conv.conv_backward"),
    Exercise("8.3", ["RICE-18"], "max-pooling, forward", verify_maxpool_forward, conv.maxpool_forward,
             "course_lib.conv.maxpool_forward"),
    Exercise("8.4", ["RICE-18"], "max-pooling, backward", verify_maxpool_backward, conv.maxpool_backward,
             "course_lib.conv.maxpool_backward"),
]
