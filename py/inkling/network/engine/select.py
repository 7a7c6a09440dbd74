"""Choosing the engine at run time: the fastest kernel build that loads and passes its self-test.

A module that uses a relaxed-SIMD instruction fails to compile, as a whole, in a
browser without relaxed SIMD; so the relaxed build is tried first, then the plain
SIMD128 one, then numpy. Each kernel also has to compute a few products the way
numpy does before it is trusted with training. Whatever happens, the caller gets a
working engine and the reasons any faster one was passed over.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from . import ENGINE_NAMES, Engine
from .kernel import KernelEngine
from .library import CtypesLibrary, Library
from .numpy_engine import NumpyEngine

HERE = Path(__file__).resolve().parent
# (engine name, file of its build in this folder), fastest first. The build writes the files.
KERNEL_BUILDS = ((ENGINE_NAMES[2], "kernel-relaxed.wasm"), (ENGINE_NAMES[1], "kernel-simd128.wasm"))
ENGINE_CHOICES = ("auto", *ENGINE_NAMES)
# float32 sums of up to a few hundred terms, compared with float64: see self_test.
SELF_TEST_RTOL = 1e-4


def self_test(engine: Engine, seed: int = 0) -> str | None:
    """Check ``engine.matmul`` against float64 numpy on the shapes a step uses; None if all agree.

    The cases cover every kernel path: dense with ragged edges, a transposed left
    operand, a transposed right operand, and a sparse input in its forward and
    backward products. Returns what disagreed first, for a person to read.
    """
    rng = np.random.default_rng(seed)
    x = rng.random((5, 70), dtype=np.float32)
    x[x < 0.8] = 0  # a sparse input, like pixels
    w = rng.standard_normal((70, 19)).astype(np.float32)
    d = rng.standard_normal((5, 19)).astype(np.float32)
    v = rng.standard_normal((19, 17)).astype(np.float32)
    cases = {
        "x @ W (sparse input)": (x, w),
        "x.T @ delta (sparse input, backward)": (x.T, d),
        "delta @ V (dense, ragged edges)": (d, v),
        "delta @ W.T (transposed right operand)": (d, w.T),
        "V.T @ W.T (both transposed)": (v.T, w.T),
    }
    for what, (a, b) in cases.items():  # in order: the forward product lists x for the backward one
        got = engine.matmul(a, b)
        want = a.astype(np.float64) @ b.astype(np.float64)
        scale = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64) + 1e-30
        if got.shape != want.shape or got.dtype != np.float32:
            return f"{what}: got {got.dtype} {got.shape}, expected float32 {want.shape}"
        error = float(np.max(np.abs(got - want) / scale))
        if not error <= SELF_TEST_RTOL:  # NaN fails too
            return f"{what}: off by {error:.3g} of the magnitude (allowed {SELF_TEST_RTOL:g})"
    return None


def load_engine(
    choice: str = "auto",
    folder: Path = HERE,
    library: Callable[[str], Library] = CtypesLibrary,
) -> tuple[Engine, list[str]]:
    """The engine to use, and why any faster one was not used.

    Args:
        choice: ``auto`` (the fastest that works), ``numpy``, or the name of one
            kernel build (``wasm relaxed-simd``, ``wasm simd128``), which falls back
            to numpy if it cannot be used.
        folder: Where the kernel builds are.
        library: Loads a kernel build from its path (``ctypes`` in Pyodide).

    Raises:
        ValueError: ``choice`` is not one of `ENGINE_CHOICES`.
    """
    if choice not in ENGINE_CHOICES:
        raise ValueError(f"unknown engine {choice!r}; choose one of {', '.join(ENGINE_CHOICES)}")
    notes: list[str] = []
    if choice == "numpy":
        return NumpyEngine(), []  # asked for: nothing faster was passed over
    for name, file in KERNEL_BUILDS:
        if choice not in ("auto", name):
            continue
        path = folder / file
        if not path.is_file():
            notes.append(f"{name}: {file} is not installed (rebuild the site with `python build.py`)")
            continue
        try:
            engine = KernelEngine(library(str(path)), name)
        except Exception as exc:  # noqa: BLE001 - a browser without relaxed SIMD fails here, by design
            notes.append(f"{name}: did not load ({type(exc).__name__}: {_message(exc)})")
            continue
        try:
            problem = self_test(engine)
        except Exception as exc:  # noqa: BLE001 - a kernel that cannot even be called is not trusted either
            problem = f"{type(exc).__name__}: {_message(exc)}"
        if problem is not None:
            notes.append(f"{name}: failed its self-test ({problem})")
            continue
        return engine, notes
    return NumpyEngine(), notes


def choose_engine(choice: str | None) -> tuple[Engine, list[str]]:
    """`load_engine` for a choice read from a URL: an unknown name is noted and ``auto`` used."""
    try:
        return load_engine(choice or "auto")
    except ValueError as error:
        engine, notes = load_engine("auto")
        return engine, [f"{error}: using the fastest that works", *notes]


def _message(exc: BaseException) -> str:
    """An exception's last line: a Python error from Pyodide carries its whole traceback."""
    text = str(exc).strip()
    return text.splitlines()[-1] if text else "no message"
