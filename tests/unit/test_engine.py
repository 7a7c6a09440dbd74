"""The WebAssembly kernel, as shipped (both builds, run by wasmtime), against numpy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wasm_library import WasmtimeLibrary

from inkling.network.engine import NumpyEngine, current_engine, engine_name, use_engine
from inkling.network.engine import kernel as kernel_module
from inkling.network.engine.kernel import KernelEngine
from inkling.network.engine.library import SIGNATURES
from inkling.network.engine.select import KERNEL_BUILDS, choose_engine, load_engine, self_test
from inkling.network.mlp import MLP
from inkling.network.optim import make_optimizer
from inkling_build.fetcher import Fetcher
from inkling_build.kernel import build_kernel
from inkling_build.workspace import Paths, build_lock

U = 2.0**-24  # float32's unit roundoff


@pytest.fixture(scope="session")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The side modules exactly as build.py puts them in the wheel (compiled now if not cached)."""
    paths = Paths()
    with Fetcher(paths.cache) as fetcher, build_lock(paths.cache):
        built = build_kernel(paths, fetcher)
    folder = tmp_path_factory.mktemp("kernel")
    for arc, data in built.items():
        (folder / Path(arc).name).write_bytes(data)
    return folder


@pytest.fixture(scope="session", params=[name for name, _ in KERNEL_BUILDS])
def library(request: pytest.FixtureRequest, kernel_dir: Path) -> WasmtimeLibrary:
    """Each build, instantiated once per session."""
    file = dict(KERNEL_BUILDS)[request.param]
    return WasmtimeLibrary(str(kernel_dir / file))


@pytest.fixture()
def engine(library: WasmtimeLibrary) -> KernelEngine:
    """A fresh engine on that build (its counts start at zero)."""
    relaxed = library.call("ink_relaxed") == 1
    return KernelEngine(library, "wasm relaxed-simd" if relaxed else "wasm simd128")


def assert_product(got: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """``got`` equals ``a @ b`` within the classical float32 bound.

    A sum of k products in float32, in any order, is within k * u * (|a| @ |b|) of the
    exact value (Higham, Accuracy and Stability of Numerical Algorithms, 3.1); the
    reference is computed in float64, whose own error is negligible next to that.
    """
    want = a.astype(np.float64) @ b.astype(np.float64)
    bound = max(a.shape[1], 1) * U * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64))
    assert got.dtype == np.float32 and got.shape == want.shape
    excess = np.abs(got - want) - bound
    assert (excess <= 0).all(), f"worst excess over the bound: {excess.max():.3g}"


def pixels(rng: np.random.Generator, rows: int, cols: int, density: float) -> np.ndarray:
    """Rows like MNIST's: mostly exact zeros, the rest in (0, 1]."""
    x = rng.random((rows, cols), dtype=np.float32)
    x[rng.random((rows, cols)) >= density] = 0
    return x


# ---- the artifact itself --------------------------------------------------------------------


def test_both_builds_are_small_pyodide_side_modules(kernel_dir: Path, library: WasmtimeLibrary) -> None:
    for _, file in KERNEL_BUILDS:
        data = (kernel_dir / file).read_bytes()
        assert data[:4] == b"\0asm" and b"dylink.0" in data[:64]  # Emscripten's dylink section comes first
        assert len(data) < 32_000
    # What Pyodide's dynamic linker gives a side module, and nothing else (no libc, no JS).
    assert {name for _, name in library.imports} <= {"memory", "__memory_base", "__table_base", "__stack_pointer"}


def test_the_python_side_knows_every_export_and_its_arguments(library: WasmtimeLibrary) -> None:
    kinds = {"i32": "ip", "f32": "f"}
    for name, (params, result) in SIGNATURES.items():
        func_type = library.exports[name].type(library.store)
        wasm = [str(t) for t in func_type.params]
        assert len(wasm) == len(params), name
        assert all(kind in kinds[t] for kind, t in zip(params, wasm)), (name, wasm, params)
        assert [str(t) for t in func_type.results] == (["i32"] if result else []), name


def test_the_relaxed_build_is_the_relaxed_one(kernel_dir: Path) -> None:
    names = {name: WasmtimeLibrary(str(kernel_dir / file)).call("ink_relaxed") for name, file in KERNEL_BUILDS}
    assert names == {"wasm relaxed-simd": 1, "wasm simd128": 0}
    relaxed = (kernel_dir / dict(KERNEL_BUILDS)["wasm relaxed-simd"]).read_bytes()
    plain = (kernel_dir / dict(KERNEL_BUILDS)["wasm simd128"]).read_bytes()
    # f32x4.relaxed_madd is 0xfd 0x85 0x02; the plain build must not contain it, or old browsers reject it.
    assert b"\xfd\x85\x02" in relaxed and b"\xfd\x85\x02" not in plain


# ---- products against numpy -----------------------------------------------------------------


# Every batch with every hidden size, but 4097 x 513, which only costs time (4097 x 128 covers the big batch).
SHAPES = [(b, h) for b in (1, 3, 64, 4097) for h in (1, 7, 128, 513) if (b, h) != (4097, 513)]


@pytest.mark.parametrize(("batch", "hidden"), SHAPES)
def test_a_training_steps_products_match_numpy(engine: KernelEngine, batch: int, hidden: int) -> None:
    rng = np.random.default_rng(batch * 1000 + hidden)
    x = pixels(rng, batch, 784, 0.19)
    w1 = rng.standard_normal((784, hidden)).astype(np.float32)
    w2 = rng.standard_normal((hidden, 10)).astype(np.float32)
    d1 = rng.standard_normal((batch, hidden)).astype(np.float32)
    d2 = rng.standard_normal((batch, 10)).astype(np.float32)
    h = np.maximum(engine.matmul(x, w1), 0)
    assert_product(engine.matmul(x, w1), x, w1)  # forward, first layer
    assert_product(engine.matmul(x.T, d1), x.T, d1)  # backward, first layer's gradient
    assert_product(engine.matmul(h, w2), h, w2)
    assert_product(engine.matmul(h.T, d2), h.T, d2)
    assert_product(engine.matmul(d2, w2.T), d2, w2.T)  # delta sent back through W2
    if hidden >= 16:
        assert engine.counts["sparse"] >= 2  # pixels took the sparse path both ways


def test_transposed_and_strided_views_need_no_copy_and_are_right(engine: KernelEngine) -> None:
    rng = np.random.default_rng(1)
    big = rng.standard_normal((90, 300)).astype(np.float32)
    other = rng.standard_normal((300, 70)).astype(np.float32)
    cases = [
        (big[::3, ::2], other[::2, 5:40]),  # every third row, every other column
        (big[:40, :70].T, big[40:80, :40]),  # a transposed slice on the left
        (big[10:50, 20:90], other[:70, 1:51]),  # offsets into larger buffers
        (big[:33, :70], other[:70, :20].copy()),  # contiguous, for comparison
        (big[:17, :55], big[20:37, :55].T),  # transposed right operand: dot products
        (np.asfortranarray(big[:20, :30]), np.asfortranarray(other[:30, :25])),
    ]
    for a, b in cases:
        assert_product(engine.matmul(a, b), a, b)


def test_zero_dense_and_sparse_inputs_each_take_the_right_path(engine: KernelEngine) -> None:
    rng = np.random.default_rng(2)
    w = rng.standard_normal((784, 64)).astype(np.float32)
    zero = np.zeros((32, 784), np.float32)
    assert not engine.matmul(zero, w).any()
    assert not engine.matmul(zero.T, rng.standard_normal((32, 64)).astype(np.float32)).any()
    assert engine.counts["sparse"] == 2
    dense = pixels(rng, 32, 784, 1.0)
    assert_product(engine.matmul(dense, w), dense, w)
    assert (engine.counts["sparse"], engine.counts["gemm"]) == (2, 1)  # too dense for the list to pay
    sparse = pixels(rng, 32, 784, 0.2)
    assert_product(engine.matmul(sparse, w), sparse, w)
    assert engine.counts["sparse"] == 3


def test_the_backward_product_reuses_the_forward_listing_only_for_the_same_live_array(engine: KernelEngine) -> None:
    rng = np.random.default_rng(3)
    w = rng.standard_normal((784, 32)).astype(np.float32)
    d = rng.standard_normal((16, 32)).astype(np.float32)
    x = pixels(rng, 16, 784, 0.2)
    engine.matmul(x, w)
    library = engine._lib
    before = library.calls.count("ink_compact")
    assert_product(engine.matmul(x.T, d), x.T, d)
    assert library.calls.count("ink_compact") == before  # reused
    other = x.copy()  # same values, other array: no listing of it was made
    assert_product(engine.matmul(other.T, d), other.T, d)
    assert library.calls[-1] == "ink_gemm"
    del x  # a new array may get the dead one's address: its listing must not be used
    fresh = pixels(rng, 16, 784, 0.3)
    assert_product(engine.matmul(fresh.T, d), fresh.T, d)


def test_the_kernel_can_add_its_product_to_what_is_there(library: WasmtimeLibrary) -> None:
    # ink_gemm's `accumulate` flag (C += A @ B): not used by the MLP today, checked so it stays right.
    rng = np.random.default_rng(10)
    a = rng.standard_normal((9, 33)).astype(np.float32)
    b = rng.standard_normal((33, 15)).astype(np.float32)
    c0 = rng.standard_normal((9, 15)).astype(np.float32)
    c = c0.copy()
    library.call("ink_gemm", 9, 15, 33, a, 33, 1, b, 15, c, 15, 1, outputs=(c,))
    assert_product(c - c0, a, b)


def test_odd_arguments_are_numpys_job_or_refused(engine: KernelEngine) -> None:
    rng = np.random.default_rng(4)
    a64, b64 = rng.standard_normal((5, 6)), rng.standard_normal((6, 7))
    assert np.array_equal(engine.matmul(a64, b64), a64 @ b64) and engine.counts["numpy"] == 1  # float64 checks
    a, b = a64.astype(np.float32), b64.astype(np.float32)
    assert engine.matmul(a[:, :0], b[:0]).tolist() == np.zeros((5, 7)).tolist()  # k = 0
    assert engine.matmul(a[:0], b).shape == (0, 7)
    assert_product(engine.matmul(a[::-1], b), a[::-1], b)  # negative strides: copied first
    with pytest.raises(ValueError, match="do not chain"):
        engine.matmul(a, b[:5])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(m=st.integers(1, 70), k=st.integers(1, 300), n=st.integers(1, 70), density=st.sampled_from([0.0, 0.1, 0.3, 1.0]),
       transpose_a=st.booleans(), transpose_b=st.booleans(), seed=st.integers(0, 2**16))
def test_any_shape_matches_numpy(engine: KernelEngine, m: int, k: int, n: int, density: float, transpose_a: bool,
                                 transpose_b: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = pixels(rng, k, m, density).T if transpose_a else pixels(rng, m, k, density)
    b = rng.standard_normal((n, k)).astype(np.float32).T if transpose_b else \
        rng.standard_normal((k, n)).astype(np.float32)
    assert_product(engine.matmul(a, b), a, b)
    if not transpose_a:  # and the backward product with the listing this forward one made
        d = rng.standard_normal((m, n)).astype(np.float32)
        assert_product(engine.matmul(a.T, d), a.T, d)


@pytest.mark.parametrize("k", [257, 2_000, 18_432])
def test_a_filter_gradients_long_sum_is_as_exact_as_any_product(engine: KernelEngine, k: int) -> None:
    # A convolution's dW: (patches.T @ gradient rows).T sums over every position of the batch; the
    # kernel takes such a k in chunks, adding each to what the last left.
    rng = np.random.default_rng(k)
    cols = rng.random((k, 25), dtype=np.float32)
    rows = rng.standard_normal((k, 16)).astype(np.float32)
    assert_product(engine.matmul(cols.T, rows), cols.T, rows)
    assert_product(engine.matmul(rows.T, cols), rows.T, cols)


# ---- optimizer updates --------------------------------------------------------------------------


@pytest.mark.parametrize("rule", ["sgd", "momentum", "adam"])
def test_fused_updates_are_bit_identical_to_numpys(engine: KernelEngine, rule: str) -> None:
    rng = np.random.default_rng(5)
    params = [rng.standard_normal(s).astype(np.float32) for s in [(31, 17), (17,), (5, 3), (1,)]]
    fused, plain = [p.copy() for p in params], [p.copy() for p in params]
    fused_opt, plain_opt = make_optimizer(rule, 0.05), make_optimizer(rule, 0.05)
    for step in range(5):
        grads = [rng.standard_normal(p.shape).astype(np.float32) for p in params]
        use_engine(engine)
        try:
            fused_opt.step(fused, [g.copy() for g in grads])
        finally:
            use_engine(None)
        plain_opt.step(plain, [g.copy() for g in grads])
        for f, p in zip(fused, plain):
            assert np.array_equal(f, p), f"{rule} step {step}: max diff {np.abs(f - p).max()}"
    assert engine.counts["update"] == 5 * len(params)


def test_an_update_the_kernel_cannot_do_falls_back_to_numpy(engine: KernelEngine) -> None:
    p = np.ones((4, 6), np.float32)
    assert not engine.fused_update("sgd", p[:, ::2], np.ones((4, 3), np.float32), (), (0.1,))  # strided
    assert not engine.fused_update("sgd", p.astype(np.float64), p.astype(np.float64), (), (0.1,))
    assert engine.counts["update"] == 0


@pytest.mark.parametrize("use_einsum", [True, False])
def test_the_numpy_fallback_computes_the_same_products_either_way(use_einsum: bool) -> None:
    engine = NumpyEngine(use_einsum=use_einsum)  # einsum is what Pyodide uses for wide products
    rng = np.random.default_rng(8)
    x = pixels(rng, 40, 784, 0.2)
    w = rng.standard_normal((784, 64)).astype(np.float32)
    d = rng.standard_normal((40, 10)).astype(np.float32)
    for a, b in [(x, w), (x.T, rng.standard_normal((40, 64)).astype(np.float32)), (d, w[:10].T.T), (d.T, x)]:
        assert_product(engine.matmul(a, b), a, b)
    assert not engine.fused_update("sgd", w, w, (), (0.1,))


# ---- the engine in a network, and choosing it -----------------------------------------------------


def test_training_on_the_kernel_follows_training_on_numpy(engine: KernelEngine) -> None:
    rng = np.random.default_rng(6)
    x = pixels(rng, 64, 784, 0.19)
    y = rng.integers(0, 10, 64)
    runs = {}
    for which in (None, engine):
        use_engine(which)
        try:
            model, opt = MLP((784, 32, 16, 10), seed=1), make_optimizer("momentum", 0.05)
            losses = []
            for _ in range(20):
                result = model.loss_and_grads(x, y)
                losses.append(result.loss)
                opt.step(model.params, result.grads)
            runs[engine_name()] = (losses, model.params)
        finally:
            use_engine(None)
    (numpy_losses, numpy_params), (kernel_losses, kernel_params) = runs["numpy"], runs[engine.name]
    assert kernel_losses[-1] < kernel_losses[0] / 2  # it learns (random labels of 64 samples, by heart)
    # Rounding differs (sums in another order), nothing else: the runs stay together.
    assert np.allclose(kernel_losses, numpy_losses, rtol=1e-3)
    for k, n in zip(kernel_params, numpy_params):
        assert np.allclose(k, n, rtol=1e-3, atol=1e-4)
    assert current_engine().name == "numpy"


def test_the_self_test_passes_on_both_builds_and_catches_a_wrong_kernel(engine: KernelEngine) -> None:
    assert self_test(engine) is None

    class OffByALittle:
        name = "wrong"

        def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return (a @ b * 1.001).astype(np.float32)

    assert "off by" in self_test(OffByALittle())  # type: ignore[arg-type]


def test_the_fastest_working_build_is_chosen_and_every_pass_over_is_explained(kernel_dir: Path, tmp_path: Path) -> None:
    chosen, notes = load_engine("auto", kernel_dir, WasmtimeLibrary)
    assert chosen.name == "wasm relaxed-simd" and notes == []
    chosen, notes = load_engine("wasm simd128", kernel_dir, WasmtimeLibrary)
    assert chosen.name == "wasm simd128" and notes == []
    chosen, notes = load_engine("numpy", kernel_dir, WasmtimeLibrary)
    assert isinstance(chosen, NumpyEngine) and notes == []

    # A browser without relaxed SIMD refuses to compile that build: the plain one is used.
    def no_relaxed(path: str) -> WasmtimeLibrary:
        if "relaxed" in path:
            raise OSError("CompileError: WebAssembly.Module(): invalid simd opcode")
        return WasmtimeLibrary(path)

    chosen, notes = load_engine("auto", kernel_dir, no_relaxed)
    assert chosen.name == "wasm simd128"
    assert notes == ["wasm relaxed-simd: did not load (OSError: CompileError: WebAssembly.Module(): invalid simd opcode)"]

    # Files missing, or a build that computes wrong answers: numpy, saying why.
    chosen, notes = load_engine("auto", tmp_path, WasmtimeLibrary)
    assert isinstance(chosen, NumpyEngine) and len(notes) == 2 and all("is not installed" in n for n in notes)
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for _, file in KERNEL_BUILDS:
        (damaged / file).write_bytes(b"\0asm junk")
    chosen, notes = load_engine("auto", damaged, WasmtimeLibrary)
    assert isinstance(chosen, NumpyEngine) and all("did not load" in n for n in notes)

    class Wrong(WasmtimeLibrary):
        def call(self, name: str, *args: Any, outputs: Any = ()) -> int:
            result = super().call(name, *args, outputs=outputs)
            for out in outputs:
                if out.dtype == np.float32 and out.size:
                    out.flat[0] += 1  # one wrong element
            return result

    chosen, notes = load_engine("auto", kernel_dir, Wrong)
    assert isinstance(chosen, NumpyEngine) and all("failed its self-test" in n for n in notes)


def test_an_unknown_engine_name_is_refused_or_noted() -> None:
    with pytest.raises(ValueError, match="unknown engine 'gpu'"):
        load_engine("gpu")
    chosen, notes = choose_engine("gpu")
    assert "unknown engine 'gpu'" in notes[0]


def test_the_sparse_threshold_is_what_the_kernel_is_told(engine: KernelEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    w = rng.standard_normal((784, 32)).astype(np.float32)
    x = pixels(rng, 8, 784, 0.35)
    monkeypatch.setattr(kernel_module, "SPARSE_MAX_DENSITY", 0.3)
    assert_product(engine.matmul(x, w), x, w)
    assert engine.counts["sparse"] == 0 and engine.counts["gemm"] == 1
    monkeypatch.setattr(kernel_module, "SPARSE_MAX_DENSITY", 0.5)
    assert_product(engine.matmul(x, w), x, w)
    assert engine.counts["sparse"] == 1
