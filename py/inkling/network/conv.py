"""Convolution's and max-pooling's data movement in numpy: the reference every faster path (the
kernel's ``ink_patches``, ``ink_unpatch``, ``ink_pool2``, ...) is checked against.

Images are NHWC (``(n, height, width, channels)``) so that a convolution is one matrix product of
its input's patches (im2col) with its filters, and its output comes out NHWC again with no
transpose. A patch lists its k x k window row by row with each pixel's channels together,
``(ky, kx, ch)``: in NHWC memory a window's row is then one contiguous run. Stride 1; ``pad``
rows and columns of zeros around the image. Pooling is 2x2, stride 2.

Nothing here multiplies: the products go through the engine (`inkling.network.convnet`).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def padded(x: np.ndarray, pad: int) -> np.ndarray:
    """``x`` (NHWC) with ``pad`` rows and columns of zeros on every side (``x`` itself for 0)."""
    if pad == 0:
        return x
    return np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))


def patches(x: np.ndarray, k: int, pad: int) -> np.ndarray:
    """im2col: every k x k patch of ``x`` (NHWC) padded by ``pad``, as a row ``(ky, kx, ch)``.

    Returns:
        ``(n * oh * ow, k * k * c)``, rows in the order of the output's pixels.
    """
    xp = padded(x, pad)
    n, h, w, c = xp.shape
    windows = sliding_window_view(xp, (k, k), axis=(1, 2))  # (n, oh, ow, c, ky, kx), a view
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * (h - k + 1) * (w - k + 1), k * k * c)  # the one copy


def unpatch(rows: np.ndarray, shape: tuple[int, ...], k: int, pad: int) -> np.ndarray:
    """col2im: the sum of patch ``rows`` back onto an image of ``shape`` (NHWC, unpadded), the
    transpose of `patches`: where patches overlap, their values add; the padding is dropped."""
    n, h, w, c = shape
    hp, wp = h + 2 * pad, w + 2 * pad
    oh, ow = hp - k + 1, wp - k + 1
    grid = rows.reshape(n, oh, ow, k, k, c)
    out = np.zeros((n, hp, wp, c), rows.dtype)
    for ky in range(k):
        for kx in range(k):
            out[:, ky:ky + oh, kx:kx + ow, :] += grid[:, :, :, ky, kx, :]
    return out[:, pad:pad + h, pad:pad + w, :] if pad else out


def pool_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 max-pooling of ``x`` (NHWC), stride 2; a last row or column that does not fill a window is
    left out (as PyTorch and ONNX do by default).

    Returns:
        The pooled output ``(n, h // 2, w // 2, c)`` and, as uint8, the position in its window
        (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right) of the first input holding the
        maximum, for `pool_backward`.
    """
    n, h, w, c = x.shape
    oh, ow = h // 2, w // 2
    windows = x[:, :oh * 2, :ow * 2, :].reshape(n, oh, 2, ow, 2, c)
    flat = windows.transpose(0, 1, 3, 5, 2, 4).reshape(n, oh, ow, c, 4)
    where = flat.argmax(axis=-1).astype(np.uint8)  # the first of equal values: one input takes the gradient
    return np.take_along_axis(flat, where[..., None].astype(np.intp), axis=-1)[..., 0], where


def pool_backward(dout: np.ndarray, where: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The gradient of `pool_forward`'s input ``shape`` (NHWC): each output's gradient goes to the
    input it took, every other input gets 0."""
    n, oh, ow, c = dout.shape
    flat = np.zeros((n, oh, ow, c, 4), dout.dtype)
    np.put_along_axis(flat, where[..., None].astype(np.intp), dout[..., None], axis=-1)
    windows = flat.reshape(n, oh, ow, c, 2, 2).transpose(0, 1, 4, 2, 5, 3)
    dx = np.zeros(shape, dout.dtype)
    dx[:, :oh * 2, :ow * 2, :] = windows.reshape(n, oh * 2, ow * 2, c)
    return dx


def relu_mask(d: np.ndarray, z: np.ndarray) -> None:
    """ReLU's gradient in place: ``d`` is kept where the layer's output ``z`` is positive, else 0."""
    np.multiply(d, z > 0, out=d)
