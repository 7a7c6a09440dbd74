"""`KernelEngine`: the MLP's products on the WebAssembly SIMD kernel of ``kernel.c``.

The kernel only sees pointers, sizes and strides; this module checks every shape and
layout first, picks a kernel function for it (dense, transposed, or the sparse
path for inputs that are mostly zeros) and hands anything unusual to numpy.

How the kernel is called is a `Library` (`inkling.network.engine.library`): in Pyodide,
``ctypes`` on the side module; in the CPython tests, a WebAssembly runtime running the very
same bytes. So the dispatch below is tested on every machine.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .. import conv
from .. import warp as resampling
from .library import Library

F32 = np.dtype(np.float32)
I32 = np.dtype(np.int32)

# Optimizer rule -> (kernel function, number of state arrays, number of coefficients).
UPDATES = {"sgd": ("ink_sgd", 0, 1), "momentum": ("ink_momentum", 1, 2), "adam": ("ink_adam", 2, 6)}

# Sparse or dense: measured in Chromium (relaxed SIMD, batch 64, 784 -> 128, forward and backward
# products together), the sparse path took 417 / 382 / 527 / 775 us at 10 / 19 / 30 / 50% non-zero
# inputs, the dense one 700-850 us: it wins while at most half of the input is non-zero.
SPARSE_MAX_DENSITY = 0.5
# Inputs worth listing: wide enough (the first layer's 784 pixels) and feeding a wide enough
# layer that the listing is paid back (listing costs about one pass over the input).
SPARSE_MIN_INPUTS = 64
SPARSE_MIN_OUTPUTS = 16
# Below this inner size delta @ W.T copies W.T instead of taking dot products of W's rows. Measured
# in Chromium (relaxed SIMD) on a convnet's first layer, patches (18432 x 25) @ filters.T (25 x 16):
# dot products 1.34 ms, copying the 16 x 25 filters 0.86 ms; at an inner size of 400 the dot
# products won (2.5 against 3.95 ms).
NT_MIN_INNER = 32


@dataclass(eq=False)
class _Listing:
    """An input's non-zeros from ``ink_compact``, by row and by column (see kernel.c)."""

    key: tuple[int, tuple[int, ...], tuple[int, ...]]
    owner: weakref.ref
    rows: int
    cols: int
    row_start: np.ndarray
    row_col: np.ndarray
    row_val: np.ndarray
    col_start: np.ndarray
    col_row: np.ndarray
    col_val: np.ndarray


def _owner(a: np.ndarray) -> object:
    """The object that owns ``a``'s memory (numpy collapses chains of views to it)."""
    return a if a.base is None else a.base


def _key(a: np.ndarray) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
    return a.__array_interface__["data"][0], a.shape, a.strides


def _whole(a: np.ndarray) -> bool:
    """A float32 array in one C-ordered piece: what the kernel's convolution functions take."""
    return a.dtype == F32 and a.flags.c_contiguous


def _element_strides(a: np.ndarray) -> tuple[int, int] | None:
    """``a``'s strides in elements, or None when they are not whole, positive elements."""
    rs, cs = a.strides
    if rs < 0 or cs < 0 or rs % a.itemsize or cs % a.itemsize:
        return None
    return rs // a.itemsize, cs // a.itemsize


class KernelEngine:
    """``a @ b`` for float32 matrices on the SIMD kernel; anything else goes to numpy.

    The sparse path: when the left operand is wide (the input pixels), its non-zeros
    are listed once and, if it is sparse enough, ``x @ W`` uses that list. The list is
    kept, so that the backward pass's ``x.T @ delta`` reuses it instead of listing
    again: it is found by the operand's memory address, shape and strides, and only
    while the array it was made from is alive. (Writing into an input between its
    forward and backward products would make the list stale; the MLP never does.)
    """

    def __init__(self, library: Library, name: str, keep: int = 4) -> None:
        """Args:
            library: How to call the kernel.
            name: What the page shows, e.g. ``wasm relaxed-simd``.
            keep: How many input listings to keep (one per layer in flight is enough).
        """
        self.name = name
        self._lib = library
        self._keep = keep
        self._listings: list[_Listing] = []
        self.counts = {"gemm": 0, "gemm_nt": 0, "sparse": 0, "numpy": 0, "update": 0, "conv": 0, "augment": 0}  # for tests and the bench

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``a @ b`` as a new array (a new float32 array for float32 inputs)."""
        if a.ndim != 2 or b.ndim != 2 or a.dtype != F32 or b.dtype != F32:
            self.counts["numpy"] += 1
            return np.matmul(a, b)  # float64 gradient checks, vectors: numpy's job
        (m, k), (k2, n) = a.shape, b.shape
        if k != k2:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not chain ({k} != {k2})")
        out = np.empty((m, n), F32)
        if m == 0 or n == 0:
            return out
        if k == 0:
            out.fill(0)
            return out
        if _element_strides(a) is None:
            a = np.ascontiguousarray(a)
        if _element_strides(b) is None:
            b = np.ascontiguousarray(b)
        rsa, csa = _element_strides(a)  # type: ignore[misc]
        rsb, csb = _element_strides(b)  # type: ignore[misc]

        if n >= SPARSE_MIN_OUTPUTS and self._sparse(a, b, out, rsb, csb):
            return out
        if csb == 1:
            self.counts["gemm"] += 1
            self._lib.call("ink_gemm", m, n, k, a, rsa, csa, b, rsb, out, n, 0, outputs=(out,))
        elif rsb == 1 and csa == 1 and k >= NT_MIN_INNER:
            # b is a transposed view (delta @ W.T): dot products of rows of a and rows of W.
            self.counts["gemm_nt"] += 1
            self._lib.call("ink_gemm_nt", m, n, k, a, rsa, b, csb, out, n, outputs=(out,))
        else:
            self.counts["gemm"] += 1
            b = np.ascontiguousarray(b)
            self._lib.call("ink_gemm", m, n, k, a, rsa, csa, b, n, out, n, 0, outputs=(out,))
        return out

    # ---- a convolution's data movement: the kernel for float32 NHWC arrays in one piece ---------

    def patches(self, x: np.ndarray, k: int, pad: int) -> np.ndarray:
        """im2col of ``x`` (NHWC), as `inkling.network.conv.patches`."""
        if not _whole(x):
            return conv.patches(x, k, pad)
        n, h, w, c = x.shape
        oh, ow = h + 2 * pad - k + 1, w + 2 * pad - k + 1
        cols = np.empty((n * oh * ow, k * k * c), F32)
        if cols.size:
            self.counts["conv"] += 1
            self._lib.call("ink_patches", n, h, w, c, k, pad, x, cols, outputs=(cols,))
        return cols

    def unpatch(self, rows: np.ndarray, shape: tuple[int, ...], k: int, pad: int) -> np.ndarray:
        """col2im, as `inkling.network.conv.unpatch`."""
        n, h, w, c = shape
        if not _whole(rows) or rows.shape != ((h + 2 * pad - k + 1) * (w + 2 * pad - k + 1) * n, k * k * c):
            return conv.unpatch(rows, shape, k, pad)
        dx = np.empty(shape, F32)
        self.counts["conv"] += 1
        self._lib.call("ink_unpatch", n, h, w, c, k, pad, rows, dx, outputs=(dx,))
        return dx

    def pool_forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """2x2 max-pooling, as `inkling.network.conv.pool_forward`."""
        n, h, w, c = x.shape
        if not _whole(x) or h < 2 or w < 2:
            return conv.pool_forward(x)
        out = np.empty((n, h // 2, w // 2, c), F32)
        where = np.empty(out.shape, np.uint8)
        self.counts["conv"] += 1
        self._lib.call("ink_pool2", n, h, w, c, x, out, where, outputs=(out, where))
        return out, where

    def pool_backward(self, dout: np.ndarray, where: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """The gradient of a pooling's input, as `inkling.network.conv.pool_backward`."""
        n, h, w, c = shape
        if (not _whole(dout) or where.dtype != np.uint8 or not where.flags.c_contiguous
                or dout.shape != (n, h // 2, w // 2, c) or where.shape != dout.shape):
            return conv.pool_backward(dout, where, shape)
        dx = np.empty(shape, F32)
        self.counts["conv"] += 1
        self._lib.call("ink_pool2_backward", n, h, w, c, dout, where, dx, outputs=(dx,))
        return dx

    def relu_mask(self, d: np.ndarray, z: np.ndarray) -> None:
        """ReLU's gradient in place, as `inkling.network.conv.relu_mask`."""
        if not (_whole(d) and _whole(z) and d.shape == z.shape):
            conv.relu_mask(d, z)
            return
        self.counts["conv"] += 1
        self._lib.call("ink_relu_mask", d.size, d, z, outputs=(d,))

    def warp(self, images: np.ndarray, coeffs: np.ndarray, side: int) -> np.ndarray:
        """Affine bilinear resampling, as `inkling.network.warp.warp`."""
        n = len(images)
        coeffs = np.ascontiguousarray(coeffs, F32)
        if not _whole(images) or images.shape != (n, side * side) or coeffs.shape != (n, 6):
            return resampling.warp(images, coeffs, side)
        out = np.empty_like(images)
        if n:
            self.counts["augment"] += 1
            self._lib.call("ink_warp", n, side, images, coeffs, out, outputs=(out,))
        return out

    def pen(self, images: np.ndarray, modes: np.ndarray, side: int) -> None:
        """A thicker or thinner pen, in place, as `inkling.network.warp.pen`."""
        n = len(images)
        modes = np.ascontiguousarray(modes, np.uint8)
        if not _whole(images) or images.shape != (n, side * side) or modes.shape != (n,):
            resampling.pen(images, modes, side)
            return
        if n:
            scratch = np.empty(side * side, F32)
            self.counts["augment"] += 1
            self._lib.call("ink_pen", n, side, images, modes, scratch, outputs=(images,))

    def fused_update(self, rule: str, p: np.ndarray, g: np.ndarray, state: Sequence[np.ndarray],
                     coeffs: Sequence[float]) -> bool:
        """The optimizer step ``rule`` in one kernel pass, for float32 arrays in one piece."""
        name, n_state, n_coeffs = UPDATES[rule]
        arrays = (p, g, *state)
        if len(state) != n_state or len(coeffs) != n_coeffs or not all(
                a.dtype == F32 and a.flags.c_contiguous and a.shape == p.shape for a in arrays):
            return False
        self.counts["update"] += 1
        self._lib.call(name, p.size, *arrays, *(float(c) for c in coeffs), outputs=(p, *state))
        return True

    # ---- the sparse path --------------------------------------------------------------------

    def _sparse(self, a: np.ndarray, b: np.ndarray, out: np.ndarray, rsb: int, csb: int) -> bool:
        """Compute ``out = a @ b`` from a listing of ``a``'s non-zeros if that pays; else False."""
        if csb != 1:
            return False
        listing = self._transposed_listing(a)
        if listing is not None:  # backward: a is x.T, whose rows are x's columns
            start, index, value, rows = listing.col_start, listing.col_row, listing.col_val, listing.cols
        else:
            if a.shape[1] < SPARSE_MIN_INPUTS:
                return False
            listing = self._list(a)
            if listing is None:
                return False
            start, index, value, rows = listing.row_start, listing.row_col, listing.row_val, listing.rows
        self.counts["sparse"] += 1
        self._lib.call("ink_spmm", rows, out.shape[1], start, index, value, b, rsb, out, out.shape[1],
                       outputs=(out,))
        return True

    def _list(self, a: np.ndarray) -> _Listing | None:
        """List ``a``'s non-zeros (kept for the backward pass), or None if ``a`` is too dense."""
        m, k = a.shape
        rsa, csa = _element_strides(a)  # type: ignore[misc]
        capacity = int(SPARSE_MAX_DENSITY * m * k)
        row_start, col_start = np.empty(m + 1, I32), np.empty(k + 1, I32)
        row_col, col_row = np.empty(capacity, I32), np.empty(capacity, I32)
        row_val, col_val = np.empty(capacity, F32), np.empty(capacity, F32)
        nnz = self._lib.call("ink_compact", m, k, a, rsa, csa, capacity, row_start, row_col, row_val,
                             col_start, col_row, col_val,
                             outputs=(row_start, row_col, row_val, col_start, col_row, col_val))
        key = _key(a)
        self._listings = [x for x in self._listings if x.key != key]  # an older listing of this memory is stale
        if nnz < 0:
            return None
        try:
            owner = weakref.ref(_owner(a))
        except TypeError:  # memory owned by something without weak references: use once, keep none
            owner = None
        listing = _Listing(key, owner, m, k, row_start, row_col[:nnz], row_val[:nnz],  # type: ignore[arg-type]
                           col_start, col_row[:nnz], col_val[:nnz])
        if owner is not None:
            alive = [x for x in self._listings if x.owner() is not None]
            self._listings = (alive + [listing])[-self._keep:]
        return listing

    def _transposed_listing(self, a: np.ndarray) -> _Listing | None:
        """The kept listing of the array whose transpose ``a`` is, if any."""
        data, shape, strides = _key(a)
        wanted = (data, shape[::-1], strides[::-1])
        for listing in self._listings:
            if listing.key == wanted and listing.owner() is _owner(a):
                return listing
        return None
