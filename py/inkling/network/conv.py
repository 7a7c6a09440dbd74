"""Convolution and max-pooling in numpy: the reference every faster path is checked against.

Images are NHWC (``(n, height, width, channels)``) so that a convolution is one matrix product of
its input's patches (im2col) with its filters, and its output comes out NHWC again with no
transpose. Filters are stored as ONNX and PyTorch store them, ``(out, in, k, k)``: a patch is
listed channel first, then row, then column, which is the order numpy's sliding windows give.
Stride is 1; padding is 'valid' (none) or 'same' (zeros, output as large as the input, odd k).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .engine import current_engine


def padded(x: np.ndarray, pad: int) -> np.ndarray:
    """``x`` (NHWC) with ``pad`` rows and columns of zeros on every side (``x`` itself for 0)."""
    if pad == 0:
        return x
    return np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))


def patches(x: np.ndarray, k: int) -> np.ndarray:
    """im2col: every k x k patch of ``x`` (NHWC, already padded) as a row ``(c, ky, kx)``.

    Returns:
        ``(n * oh * ow, c * k * k)``, rows in the order of the output's pixels.
    """
    n, h, w, c = x.shape
    windows = sliding_window_view(x, (k, k), axis=(1, 2))  # (n, oh, ow, c, k, k), a view
    return windows.reshape(n * (h - k + 1) * (w - k + 1), c * k * k)  # the one copy


def unpatch(rows: np.ndarray, shape: tuple[int, int, int, int], k: int) -> np.ndarray:
    """col2im: the sum of patch rows back onto an image of ``shape`` (NHWC, padded), the transpose
    of `patches`: where patches overlap, their values add."""
    n, h, w, c = shape
    oh, ow = h - k + 1, w - k + 1
    grid = rows.reshape(n, oh, ow, c, k, k)
    out = np.zeros(shape, rows.dtype)
    for ky in range(k):
        for kx in range(k):
            out[:, ky:ky + oh, kx:kx + ow, :] += grid[:, :, :, :, ky, kx]
    return out


class ConvCache(NamedTuple):
    """What a convolution's backward pass needs from its forward pass."""

    cols: np.ndarray  # the input's patches, (n * oh * ow, c * k * k)
    padded_shape: tuple[int, int, int, int]
    pad: int


def conv_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray, pad: int) -> tuple[np.ndarray, ConvCache]:
    """``x`` (NHWC) convolved with filters ``W`` ``(out, in, k, k)`` plus ``b``, before any ReLU.

    Returns:
        The output ``(n, oh, ow, out)`` and what `conv_backward` needs.
    """
    out_c, _, k, _ = W.shape
    xp = padded(x, pad)
    cols = patches(xp, k)
    n, h, w, _ = xp.shape
    z = current_engine().matmul(cols, W.reshape(out_c, -1).T)
    z += b
    return z.reshape(n, h - k + 1, w - k + 1, out_c), ConvCache(cols, xp.shape, pad)


def conv_backward(dz: np.ndarray, W: np.ndarray, cache: ConvCache,
                  need_input: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The gradients of a convolution from the gradient ``dz`` of its output ``(n, oh, ow, out)``.

    Returns:
        ``(dW, db, dx)``; ``dx`` (NHWC, unpadded) is None unless ``need_input`` (the first layer's
        input is the image: nothing upstream needs its gradient).
    """
    out_c, _, k, _ = W.shape
    rows = dz.reshape(-1, out_c)
    matmul = current_engine().matmul
    dW = matmul(rows.T, cache.cols).reshape(W.shape)
    db = rows.sum(axis=0)
    if not need_input:
        return dW, db, None
    dx = unpatch(matmul(rows, W.reshape(out_c, -1)), cache.padded_shape, k)
    p = cache.pad
    if p:
        dx = dx[:, p:-p, p:-p, :]
    return dW, db, dx


def pool_forward(x: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Max-pooling of ``x`` (NHWC) over ``size`` x ``size`` windows, stride ``size``; a last row or
    column that does not fill a window is left out (as PyTorch and ONNX do by default).

    Returns:
        The pooled output ``(n, h // size, w // size, c)`` and the index in its window (row-major)
        of the value each output took, for `pool_backward`.
    """
    n, h, w, c = x.shape
    oh, ow = h // size, w // size
    windows = x[:, :oh * size, :ow * size, :].reshape(n, oh, size, ow, size, c)
    flat = windows.transpose(0, 1, 3, 5, 2, 4).reshape(n, oh, ow, c, size * size)
    where = flat.argmax(axis=-1)  # the first of equal values: one input takes the gradient
    return np.take_along_axis(flat, where[..., None], axis=-1)[..., 0], where


def pool_backward(dout: np.ndarray, where: np.ndarray, size: int, shape: tuple[int, ...]) -> np.ndarray:
    """The gradient of max-pooling's input ``shape`` (NHWC): each output's gradient goes to the
    input it took, every other input gets 0."""
    n, oh, ow, c = dout.shape
    flat = np.zeros((n, oh, ow, c, size * size), dout.dtype)
    np.put_along_axis(flat, where[..., None], dout[..., None], axis=-1)
    windows = flat.reshape(n, oh, ow, c, size, size).transpose(0, 1, 4, 2, 5, 3)
    dx = np.zeros(shape, dout.dtype)
    dx[:, :oh * size, :ow * size, :] = windows.reshape(n, oh * size, ow * size, c)
    return dx
