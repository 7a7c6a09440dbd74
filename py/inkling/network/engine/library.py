"""How the kernel's functions are called: their signatures, and `CtypesLibrary`, the kernel as a
shared library of this process (in Pyodide, a wasm side module). The CPython tests call the same
functions through a WebAssembly runtime instead (tests/unit/wasm_library.py), so `KernelEngine`
takes any `Library`."""

from __future__ import annotations

import ctypes
from typing import Any, Callable, Protocol, Sequence

import numpy as np

# Argument kinds of the kernel's functions: "i" int, "f" float, "p" pointer to an array.
SIGNATURES: dict[str, tuple[str, str]] = {  # name: (argument kinds, result kind or "")
    "ink_relaxed": ("", "i"),
    "ink_gemm": ("iiipiipipii", ""),
    "ink_gemm_nt": ("iiipipipi", ""),
    "ink_compact": ("iipiiipppppp", "i"),
    "ink_spmm": ("iippppipi", ""),
    "ink_sgd": ("ippf", ""),
    "ink_momentum": ("ipppff", ""),
    "ink_adam": ("ippppffffff", ""),
    "ink_patches": ("iiiiiipp", ""),
    "ink_unpatch": ("iiiiiipp", ""),
    "ink_pool2": ("iiiippp", ""),
    "ink_pool2_backward": ("iiiippp", ""),
    "ink_relu_mask": ("ipp", ""),
    "ink_warp": ("iippp", ""),
    "ink_pen": ("iippp", ""),
}


class Library(Protocol):
    """Calls one of the kernel's functions (`SIGNATURES`) with arrays passed by pointer.

    ``outputs`` names the arrays the function writes: a library that works on copies
    (the test runtime) copies those back.
    """

    def call(self, name: str, *args: Any, outputs: Sequence[np.ndarray] = ()) -> int: ...


class CtypesLibrary:
    """The kernel as a shared library of this process (in Pyodide: a wasm side module)."""

    def __init__(self, path: str) -> None:
        """Load the library at ``path``.

        Raises:
            OSError: The library cannot be loaded (in Pyodide, a module that uses
                instructions this browser lacks fails here, as a whole).
        """
        self._lib = ctypes.CDLL(path)
        kinds = {"i": ctypes.c_int, "f": ctypes.c_float, "p": ctypes.c_void_p}
        self._fns: dict[str, Callable[..., int]] = {}
        for name, (params, result) in SIGNATURES.items():
            fn = getattr(self._lib, name)
            fn.argtypes = [kinds[k] for k in params]
            fn.restype = kinds[result] if result else None
            self._fns[name] = fn

    def call(self, name: str, *args: Any, outputs: Sequence[np.ndarray] = ()) -> int:
        """Call ``name``; arrays go in as pointers to their first element."""
        return self._fns[name](*[a.ctypes.data if isinstance(a, np.ndarray) else a for a in args])
