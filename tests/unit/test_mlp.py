"""The MLP: gradients against finite differences, determinism, shapes, weight validation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from inkling.errors import WeightsError
from inkling.network import engine
from inkling.network import mlp as mlp_module
from inkling.network.engine import NumpyEngine, engine_name, use_engine
from inkling.network.mlp import MLP
from inkling.network.optim import make_optimizer


def _batch(n: int, inputs: int, classes: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, inputs)), rng.integers(0, classes, n)


@pytest.mark.parametrize("sizes", [(12, 7, 4), (9, 6, 5, 3), (5, 3)])
def test_gradients_match_finite_differences(sizes: tuple[int, ...]) -> None:
    # float64, so the central differences are accurate to ~1e-9 and any slip in the maths shows.
    model = MLP(sizes, seed=3, dtype=np.float64)
    for p in model.params[1::2]:
        p[:] = np.random.default_rng(4).normal(0, 0.1, p.shape)  # non-zero biases exercise their gradient
    x, y = _batch(8, sizes[0], sizes[-1])
    grads = model.loss_and_grads(x, y).grads
    for name, p, g in zip(model.names, model.params, grads):
        numeric = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            numeric[i] = numeric_gradient(model, x, y, p, i)
        np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-8, err_msg=f"gradient of {name}")


def numeric_gradient(model: Any, x: np.ndarray, y: np.ndarray, p: np.ndarray, i: tuple[int, ...],
                     eps: float = 1e-6) -> float:
    """The loss's derivative by the parameter entry ``p[i]``, by central differences (``p`` is restored)."""
    saved = p[i]
    p[i] = saved + eps
    up = model.loss_and_grads(x, y).loss
    p[i] = saved - eps
    down = model.loss_and_grads(x, y).loss
    p[i] = saved
    return (up - down) / (2 * eps)


def test_loss_matches_a_plain_softmax_cross_entropy() -> None:
    model = MLP((6, 5, 3), seed=0, dtype=np.float64)
    x, y = _batch(4, 6, 3)
    h = np.maximum(x @ model.params[0] + model.params[1], 0)
    logits = h @ model.params[2] + model.params[3]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(probs[np.arange(4), y]))
    result = model.loss_and_grads(x, y)
    assert result.loss == pytest.approx(expected, rel=1e-12)
    assert result.acc == np.mean(probs.argmax(axis=1) == y)
    np.testing.assert_allclose(model.predict_proba(x), probs, rtol=1e-12)


def test_same_seed_gives_identical_weights_and_training() -> None:
    def trained(seed: int) -> dict[str, np.ndarray]:
        model = MLP(seed=seed)
        opt = make_optimizer("adam", 1e-3)
        x, y = _batch(32, 784, 10, seed=7)
        for _ in range(3):
            opt.step(model.params, model.loss_and_grads(x.astype(np.float32), y).grads)
        return model.get_weights()

    a, b, c = trained(5), trained(5), trained(6)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["W1"], c["W1"])


def test_default_network_is_float32_784_128_10_with_he_init() -> None:
    model = MLP()
    assert model.sizes == (784, 128, 10)
    assert [w.shape for w in model.get_weights().values()] == [(784, 128), (128,), (128, 10), (10,)]
    assert all(p.dtype == np.float32 for p in model.params)
    assert model.params[0].std() == pytest.approx(np.sqrt(2 / 784), rel=0.02)
    assert not model.params[1].any()
    result = model.loss_and_grads(*(_as32(_batch(16, 784, 10))))
    assert all(g.dtype == np.float32 for g in result.grads)


def _as32(batch: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return batch[0].astype(np.float32), batch[1]


def test_predict_takes_one_sample_or_a_batch() -> None:
    model = MLP(seed=1)
    x = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    batch = model.predict_proba(x)
    assert batch.shape == (5, 10)
    np.testing.assert_allclose(batch.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(model.predict_proba(x[2]), batch[2:3], rtol=1e-5)
    assert model.predict(x[2]).tolist() == [batch[2].argmax()]
    with pytest.raises(ValueError, match=r"\(784,\)"):
        model.predict(np.zeros(783, np.float32))


def test_every_matmul_goes_through_the_one_engine() -> None:
    calls: list[tuple[tuple[int, ...], tuple[int, ...]]] = []

    class Counting:
        name = "counting"

        def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
            calls.append((a.shape, b.shape))
            return np.matmul(a, b)

    model = MLP((784, 32, 16, 10), seed=0)
    x, y = _as32(_batch(8, 784, 10))
    expected = model.loss_and_grads(x, y)
    use_engine(Counting())
    try:
        assert engine_name() == "counting"
        result = model.loss_and_grads(x, y)
    finally:
        use_engine(None)
    # 3 forward, 3 weight gradients, 2 deltas sent back through W3 and W2.
    assert len(calls) == 8
    assert isinstance(engine.current_engine(), NumpyEngine) and engine_name() == "numpy"
    assert result.loss == expected.loss
    assert all(np.array_equal(g, e) for g, e in zip(result.grads, expected.grads))


def test_learns_a_small_problem() -> None:
    x, y = _batch(200, 20, 4, seed=2)
    x = x.astype(np.float32)
    x[np.arange(200), y] += 2.0  # the class shows in one input
    model, opt = MLP((20, 16, 4), seed=0), make_optimizer("momentum", 0.1)
    first = model.loss_and_grads(x, y).loss
    for _ in range(200):
        opt.step(model.params, model.loss_and_grads(x, y).grads)
    result = model.loss_and_grads(x, y)
    assert result.loss < first / 10
    assert result.acc == 1.0


def test_get_weights_returns_copies() -> None:
    model = MLP(seed=0)
    weights = model.get_weights()
    weights["W1"][:] = 0
    assert model.params[0].any()


@pytest.mark.parametrize(("change", "says"), [
    ({"W1": np.full((784, 16), 3e38, np.float32)}, "overflow to infinity"),  # finite, yet inf at once
    ({"W2": np.full((16, 10), 1e5, np.float32)}, "reach"),  # finite outputs, but far too large
    ({"b2": np.full(10, -2e4, np.float32)}, "reach"),
])
def test_finite_weights_whose_outputs_overflow_are_refused_everywhere(change: dict, says: str) -> None:
    from inkling.network.weights_io import weights_from_npz, weights_to_npz

    model = MLP((784, 16, 10), seed=0)
    before = model.get_weights()
    bad = {**before, **change}
    with pytest.raises(WeightsError, match=says):
        MLP.from_weights(bad)  # what the page's predictor and the worker's set_weights build
    with pytest.raises(WeightsError, match=says):
        model.set_weights(bad)
    assert all(np.array_equal(model.get_weights()[k], v) for k, v in before.items())  # the model is unchanged
    with pytest.raises(WeightsError, match=says):
        import io
        buffer = io.BytesIO()
        np.savez(buffer, **bad)
        weights_from_npz(buffer.getvalue())  # an imported file, or a restored record
    weights_from_npz(weights_to_npz(before))  # sane weights still pass


def test_set_weights_replaces_and_casts_to_float32() -> None:
    source, target = MLP(seed=1), MLP(seed=2)
    target.set_weights({k: v.astype(np.float64) for k, v in source.get_weights().items()})
    assert all(np.array_equal(a, b) and b.dtype == np.float32 for a, b in zip(source.params, target.params))


@pytest.mark.parametrize(
    "change, needle",
    [
        (lambda w: w.pop("b2"), "b2"),
        (lambda w: w.update(W3=np.zeros((10, 2))), "b3 is missing"),
        (lambda w: w.update(extra=np.zeros(3)), "extra"),
        (lambda w: w.update(MLP((784, 64, 10)).get_weights()), "784-64-10"),
        (lambda w: w.update(b1=np.zeros(127)), "b1"),
        (lambda w: w.update(W2=np.zeros((127, 10))), "W2"),
        (lambda w: w.update(W1=np.zeros(784)), "W1"),
        (lambda w: w.update(W1=np.full((784, 128), np.nan)), "NaN"),
        (lambda w: w.update(b2=np.array([np.inf] * 10)), "b2"),
        (lambda w: w.update(b2=np.full(10, 1e300)), "too large"),
        (lambda w: w.update(b2=np.array(["a"] * 10)), "dtype"),
        (lambda w: w.update(b2=np.ones(10, bool)), "dtype"),
        (lambda w: w.update(b2=np.ones(10, complex)), "dtype"),
    ],
)
def test_invalid_weights_are_rejected_and_the_old_ones_kept(change, needle: str) -> None:  # noqa: ANN001
    model = MLP(seed=0)
    before = model.get_weights()
    weights = MLP(seed=1).get_weights()
    change(weights)
    with pytest.raises(WeightsError, match=needle):
        model.set_weights(weights)
    assert all(np.array_equal(before[k], v) for k, v in model.get_weights().items())


def test_from_weights_infers_the_sizes() -> None:
    source = MLP((784, 40, 20, 10), seed=3)
    model = MLP.from_weights(source.get_weights())
    assert model.sizes == (784, 40, 20, 10)
    x = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    np.testing.assert_array_equal(model.predict_proba(x), source.predict_proba(x))
    with pytest.raises(WeightsError):
        MLP.from_weights({"W1": np.zeros((3, 4)), "b1": np.zeros(4), "W2": np.zeros((5, 2)), "b2": np.zeros(2)})
