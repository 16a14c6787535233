"""Convolution and max-pooling, forward and backward (notebook 08).

Images are ``(batch, channels, height, width)``; kernels ``(out_channels, in_channels, kh, kw)``.
Deep learning's "convolution" is a cross-correlation: the kernel is not flipped,

    out[n, f, i, j] = b[f] + Σ_{c,u,v} x_pad[n, c, i·s + u, j·s + v] · W[f, c, u, v]

(a learned kernel would simply learn the flipped weights). Each operation comes
twice: a loop version that reads like the definition, and a fast one that gathers
every window into one matrix (im2col) and does all the work in one matrix product.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .init import as_rng, init_kernel
from .layers import Activation, Dropout, Flatten, Layer, Linear, float_dtype
from .network import Sequential
from .validate import whole_number


def conv_geometry(x_shape, W_shape, stride=1, pad="valid"):
    """``(pad_h, pad_w), (out_h, out_w)`` for a convolution, or a ValueError that says what to fix.

    pad: a number of zero rows and columns on every side, "valid" (0) or "same"
    (``(k - 1) / 2``: the output keeps the input's size at stride 1; an odd kernel).
    """
    if len(x_shape) != 4:
        raise ValueError(f"images must be (batch, channels, height, width), got shape {tuple(x_shape)};"
                         " one image: x[None]; flat MNIST rows: X.reshape(-1, 1, 28, 28)")
    if len(W_shape) != 4:
        raise ValueError(f"kernels must be (out_channels, in_channels, kh, kw), got shape {tuple(W_shape)}")
    (_, C, H, Wd), (_, C_w, kh, kw) = x_shape, W_shape
    if C != C_w:
        raise ValueError(f"the images have {C} channels but the kernels expect {C_w}:"
                         f" in_channels of this layer must be {C} (the previous layer's out_channels)")
    pads = conv_pads(W_shape, stride, pad)
    if kh > H + 2 * pads[0] or kw > Wd + 2 * pads[1]:
        raise ValueError(f"a {kh}x{kw} kernel does not fit in {H}x{Wd} images padded by {pads[0]}:"
                         " use a smaller kernel, pad='same', or fewer pooling layers before this one")
    return pads, ((H + 2 * pads[0] - kh) // stride + 1, (Wd + 2 * pads[1] - kw) // stride + 1)


def conv_pads(W_shape, stride=1, pad="valid"):
    """``(pad_h, pad_w)`` for kernels of ``W_shape``, or a ValueError for a bad stride or pad
    (what needs no images: a layer checks it when it is built)."""
    kh, kw = W_shape[2:]
    whole_number("stride", stride)
    if pad == "same" and not (kh % 2 and kw % 2):
        raise ValueError(f"'same' padding needs an odd kernel size, got {kh}x{kw}; pass pad as a number instead")
    pads = {"valid": (0, 0), "same": ((kh - 1) // 2, (kw - 1) // 2)}.get(pad, (pad, pad))
    if not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) and p >= 0 for p in pads):
        raise ValueError(f"pad must be 'same', 'valid' or a whole number >= 0, got {pad!r}")
    return pads


def pad_images(x, pads):
    ph, pw = pads
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x


# --- the definition, one number at a time --------------------------------------------------

def conv_forward_naive(x, W, b, stride=1, pad="valid"):
    """x ``(N, C, H, W)``, W ``(F, C, kh, kw)``, b ``(F,)``  ->  ``(N, F, out_h, out_w)``."""
    pads, (Ho, Wo) = conv_geometry(x.shape, W.shape, stride, pad)
    xp, (F, _, kh, kw) = pad_images(x, pads), W.shape
    out = np.zeros((len(x), F, Ho, Wo), np.result_type(x, W))
    for n in range(len(x)):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.sum(window * W[f]) + b[f]
    return out


def conv_backward_naive(dout, x, W, stride=1, pad="valid"):
    """dL/dx, dL/dW, dL/db from dout = dL/d(out): each output number sends its gradient back
    along the products that made it (``window · W[f]``), so the window gets ``dout · W[f]``
    and the kernel gets ``dout · window``."""
    pads, (Ho, Wo) = conv_geometry(x.shape, W.shape, stride, pad)
    xp, (F, _, kh, kw) = pad_images(x, pads), W.shape
    dxp, dW, db = np.zeros_like(xp), np.zeros_like(W), np.zeros(F, W.dtype)
    for n in range(len(x)):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    rows, cols = slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw)
                    dW[f] += dout[n, f, i, j] * xp[n, :, rows, cols]
                    dxp[n, :, rows, cols] += dout[n, f, i, j] * W[f]
                    db[f] += dout[n, f, i, j]
    (ph, pw), (H, Wd) = pads, x.shape[2:]
    return dxp[:, :, ph:ph + H, pw:pw + Wd], dW, db


def maxpool_forward_naive(x, size=2):
    """The largest number of each ``size x size`` window (stride ``size``; odd edges are dropped)."""
    N, C, H, W = check_pool_input(x, size)
    out = np.zeros((N, C, H // size, W // size), x.dtype)
    for n, c, i, j in np.ndindex(out.shape):
        out[n, c, i, j] = x[n, c, i * size:(i + 1) * size, j * size:(j + 1) * size].max()
    return out


def maxpool_backward_naive(dout, x, size=2):
    """Each window's gradient goes to its maximum; when entries tie, to the first of them
    (row by row), as in PyTorch and TensorFlow: the others did not change the output."""
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(dout.shape):
        window = x[n, c, i * size:(i + 1) * size, j * size:(j + 1) * size]
        u, v = np.unravel_index(np.argmax(window), window.shape)  # argmax: the first maximum
        dx[n, c, i * size + u, j * size + v] += dout[n, c, i, j]
    return dx


def check_pool_input(x, size):
    whole_number("pool size", size)  # 0 would divide by zero
    if x.ndim != 4:
        raise ValueError(f"max-pooling takes images (batch, channels, height, width), got shape {x.shape}")
    if x.shape[2] < size or x.shape[3] < size:
        raise ValueError(f"a {size}x{size} pool does not fit in {x.shape[2]}x{x.shape[3]} images:"
                         " remove a pooling layer or use larger images")
    return x.shape


# --- the fast path: every window a column of one matrix ---------------------------------------
#
# Its arrays keep the batch as the last, contiguous axis in memory, (channels, height, width,
# batch): a window then spans runs of width x batch numbers, and numpy copies and adds long
# runs instead of rows of a few pixels. What the functions take and return are ordinary
# (batch, channels, height, width) arrays, views of that memory (``batch_last`` undoes them).

def batch_last(x):
    """Images ``(N, C, H, W)`` seen as ``(C, H, W, N)``: free for the arrays these functions return."""
    return x.transpose(1, 2, 3, 0)


def im2col(xp, kh, kw, stride):
    """Every ``kh x kw`` window of padded images ``(C, Hp, Wp, N)`` as one column: ``(C·kh·kw, out_h·out_w·N)``."""
    windows = sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]  # (C, Ho, Wo, N, kh, kw)
    return windows.transpose(0, 4, 5, 1, 2, 3).reshape(xp.shape[0] * kh * kw, -1)


def col2im(dcols, x_shape, W_shape, stride, pads, out_hw):
    """The inverse gather: add each column's gradient back onto the pixels its window covered."""
    (N, C, H, Wd), (_, _, kh, kw), (ph, pw), (Ho, Wo) = x_shape, W_shape, pads, out_hw
    d = dcols.reshape(C, kh, kw, Ho, Wo, N)
    dxp = np.zeros((C, H + 2 * ph, Wd + 2 * pw, N), dcols.dtype)
    for u in range(kh):  # kh·kw strided additions, each over the whole batch
        for v in range(kw):
            dxp[:, u:u + stride * Ho:stride, v:v + stride * Wo:stride] += d[:, u, v]
    return dxp[:, ph:ph + H, pw:pw + Wd].transpose(3, 0, 1, 2)


def padded(x, pads):
    """Images as ``(C, H + 2·pad_h, W + 2·pad_w, N)``, zeros around them."""
    (ph, pw) = pads
    return np.pad(batch_last(x), ((0, 0), (ph, ph), (pw, pw), (0, 0)))


def conv_forward(x, W, b, stride=1, pad="valid"):
    """Same as :func:`conv_forward_naive`, as one matrix product."""
    return _conv(x, W, b, stride, pad)[0]


def conv_backward(dout, x, W, stride=1, pad="valid"):
    """Same as :func:`conv_backward_naive`: dL/dx, dL/dW, dL/db."""
    pads, out_hw = conv_geometry(x.shape, W.shape, stride, pad)
    return _conv_grads(dout, im2col(padded(x, pads), *W.shape[2:], stride), x.shape, W, stride, pads, out_hw)


def _conv(x, W, b, stride, pad):
    pads, (Ho, Wo) = conv_geometry(x.shape, W.shape, stride, pad)
    cols = im2col(padded(x, pads), *W.shape[2:], stride)
    out = W.reshape(len(W), -1) @ cols  # (F, Ho·Wo·N): one row per kernel, one column per window
    out += b[:, None]
    return out.reshape(len(W), Ho, Wo, len(x)).transpose(3, 0, 1, 2), cols, pads, (Ho, Wo)


def _conv_grads(dout, cols, x_shape, W, stride, pads, out_hw, need_dx=True):
    d = batch_last(dout).reshape(len(W), -1)  # (F, Ho·Wo·N), columns as in cols
    dW = (d @ cols.T).reshape(W.shape)
    dx = col2im(W.reshape(len(W), -1).T @ d, x_shape, W.shape, stride, pads, out_hw) if need_dx else None
    return dx, dW, d.sum(axis=1)


def maxpool_forward(x, size=2):
    """Same as :func:`maxpool_forward_naive`."""
    check_pool_input(x, size)
    first, *others = (entry for _, entry in _window_entries(x, size))
    out = np.copy(first)  # np.copy keeps the memory order (batch last) of x
    for entry in others:  # elementwise maxima of the size² shifted views
        np.maximum(out, entry, out=out)
    return out


def maxpool_backward(dout, x, size=2, out=None):
    """Same as :func:`maxpool_backward_naive`; ``out``: the forward pass's output, if kept."""
    out = maxpool_forward(x, size) if out is None else out
    dx, free = np.zeros_like(x, dout.dtype), np.ones_like(out, bool)  # free: maximum not found yet
    d = np.empty_like(out, dout.dtype)
    d[...] = dout  # in the memory order of x and out (batch last), so that the loop runs over matching memory
    for (rows, cols), entry in _window_entries(x, size):
        first = free & (entry == out)  # entries in row-by-row order: the first maximum wins
        free &= ~first
        np.multiply(d, first, out=dx[:, :, rows, cols])
    return dx


def _window_entries(x, size):
    """Entry (u, v) of every window, as one strided view ``(N, C, out_h, out_w)`` per (u, v)."""
    Ho, Wo = x.shape[2] // size, x.shape[3] // size
    for u in range(size):
        for v in range(size):
            where = slice(u, u + size * Ho, size), slice(v, v + size * Wo, size)
            yield where, x[:, :, where[0], where[1]]


# --- layers ----------------------------------------------------------------------------------

class Conv2D(Layer):
    """A convolution layer: ``W`` ``(out_channels, in_channels, kh, kw)``, ``b`` ``(out_channels,)``."""

    def __init__(self, W, b=None, *, stride=1, pad="same"):
        super().__init__()
        W = np.asarray(W)
        if W.ndim != 4 or W.dtype.kind != "f":
            raise ValueError(f"W must be float kernels (out_channels, in_channels, kh, kw), got {W.dtype} {W.shape}")
        b = np.zeros(len(W), W.dtype) if b is None else np.array(b, dtype=W.dtype)
        if b.shape != (len(W),):
            raise ValueError(f"b must have shape ({len(W)},), one bias per kernel, got {b.shape}")
        conv_pads(W.shape, stride, pad)  # a bad stride or pad fails here, not at the first forward pass
        self.params, self.grads = {"W": W, "b": b}, {"W": np.zeros_like(W), "b": np.zeros_like(b)}
        self.stride, self.pad = stride, pad

    @classmethod
    def init(cls, in_channels, out_channels, size, *, rng, stride=1, pad="same", init="he", bias=0.0,
             dtype=np.float64):
        """``size x size`` kernels from the initialiser ``init``; every bias ``bias``."""
        conv_pads((out_channels, in_channels, size, size), stride, pad)  # before rng draws anything
        W = init_kernel(init, (out_channels, in_channels, size, size), rng, float_dtype(dtype))
        return cls(W, np.full(out_channels, bias, W.dtype), stride=stride, pad=pad)

    def forward(self, x):
        out, self.cols, self.pads, self.out_hw = _conv(x, self.params["W"], self.params["b"], self.stride, self.pad)
        self.x_shape = x.shape
        return out

    def backward(self, dout, need_dx=True):
        dx, self.grads["W"], self.grads["b"] = _conv_grads(dout, self.cols, self.x_shape, self.params["W"],
                                                           self.stride, self.pads, self.out_hw, need_dx)
        return dx

    def __repr__(self):
        F, C, kh, kw = self.params["W"].shape
        return f"Conv2D({C}->{F}, {kh}x{kw}, stride={self.stride}, pad={self.pad!r})"


class MaxPool2D(Layer):
    """Max-pooling over ``size x size`` windows with stride ``size``."""

    def __init__(self, size=2):
        super().__init__()
        self.size = whole_number("pool size", size)

    def forward(self, x):
        self.x, self.out = x, maxpool_forward(x, self.size)
        return self.out

    def backward(self, dout, need_dx=True):
        return maxpool_backward(dout, self.x, self.size, self.out)

    def __repr__(self):
        return f"MaxPool2D({self.size})"


class Maxout(Layer):
    """Maxout (Goodfellow et al. 2013): the largest of each group of ``k`` consecutive channels
    (or features), ``(N, k·C, ...)`` -> ``(N, C, ...)``: a learned, piecewise-linear activation."""

    def __init__(self, k=2):
        super().__init__()
        self.k = whole_number("maxout group size k", k)

    def forward(self, x):
        if x.shape[1] % self.k:
            raise ValueError(f"maxout over groups of {self.k} needs a multiple of {self.k} channels, got {x.shape[1]}")
        self.x_shape = x.shape
        groups = x.reshape(len(x), -1, self.k, *x.shape[2:])
        self.first = groups.argmax(axis=2)[:, :, None]
        return np.take_along_axis(groups, self.first, 2)[:, :, 0]

    def backward(self, dout, need_dx=True):
        dx = np.zeros((len(dout), dout.shape[1], self.k, *dout.shape[2:]), dout.dtype)
        np.put_along_axis(dx, self.first, dout[:, :, None], 2)
        return dx.reshape(self.x_shape)

    def __repr__(self):
        return f"Maxout({self.k})"


def cnn(*, rng, channels=(32, 64), fc=1024, kernel=5, image=(1, 28, 28), classes=10, activation="relu",
        init="he", bias=0.0, dropout=0.5, dtype=np.float64):
    """conv - activation - 2x2 pool for each of ``channels``, then fc - activation - dropout - fc.

    activation: one of :data:`~course_lib.activations.ACTIVATIONS` or "maxout"
    (two kernels or units per output, the largest kept).
    """
    rng, (c, h, w), layers = as_rng(rng), image, []
    k = 2 if activation == "maxout" else 1
    act = (lambda: Maxout(2)) if k == 2 else (lambda: Activation(activation))
    act()  # an unknown name fails here, before any weights are drawn
    options = dict(rng=rng, init=init, bias=bias, dtype=dtype)
    for f in channels:
        layers += [Conv2D.init(c, k * f, kernel, pad="same", **options), act(), MaxPool2D(2)]
        c, h, w = f, h // 2, w // 2
    layers += [Flatten(), Linear.init(c * h * w, k * fc, **options), act(), Dropout(dropout, rng=rng),
               Linear.init(fc, classes, **options)]
    return Sequential(layers)


#: 5x5x32 "same", pool, 5x5x64, pool, fc 1,024, dropout 0.5, fc 10: TensorFlow's "Deep MNIST".
COURSE_CNN_PARAMS = (5 * 5 * 1 * 32 + 32) + (5 * 5 * 32 * 64 + 64) + (7 * 7 * 64 * 1024 + 1024) + (1024 * 10 + 10)


def course_cnn(rng, dtype=np.float64):
    """The Rice course's network with its initialisation: truncated normal (std 0.1) weights, biases 0.1."""
    net = cnn(rng=rng, init="truncated_normal", bias=0.1, dtype=dtype)
    assert net.num_params == COURSE_CNN_PARAMS == 3_274_634
    return net
