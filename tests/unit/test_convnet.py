"""Convolutions, pooling and the convnet: against plain loops, gradients against finite differences,
the network text and its limits, weights in and out."""

from __future__ import annotations

import numpy as np
import pytest

from test_mlp import numeric_gradient

from inkling.data.blocks import Block
from inkling.errors import WeightsError
from inkling.network.conv import patches, pool_backward, pool_forward, unpatch
from inkling.network.convnet import ConvNet, conv_forward
from inkling.network.layers import (MEMORY_BUDGET, describe_network, format_hidden, hidden_problem, memory_needed,
                                    parameter_count, parse_hidden)
from inkling.network.models import fresh_network, network_from_weights
from inkling.network.optim import make_optimizer
from inkling.training.evaluation import EvaluationPass, EvaluationSchedule, TestSet


def looped_conv(x: np.ndarray, W: np.ndarray, b: np.ndarray, pad: int) -> np.ndarray:
    """A convolution written as the definition reads: every output pixel, filter and tap."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    n, h, w, c = x.shape
    out_c, _, k, _ = W.shape
    out = np.zeros((n, h - k + 1, w - k + 1, out_c))
    for i in range(h - k + 1):
        for j in range(w - k + 1):
            window = x[:, i:i + k, j:j + k, :]  # (n, k, k, c)
            out[:, i, j, :] = np.einsum("nyxc,ocyx->no", window, W) + b
    return out


@pytest.mark.parametrize("shape,k,pad", [((2, 7, 6, 3), 3, 0), ((1, 5, 5, 2), 5, 0), ((3, 6, 6, 1), 3, 1),
                                         ((2, 4, 5, 2), 1, 0), ((1, 8, 8, 4), 5, 2)])
def test_a_convolution_equals_the_looped_definition(shape: tuple[int, ...], k: int, pad: int) -> None:
    rng = np.random.default_rng(k + pad)
    x = rng.normal(size=shape)
    W = rng.normal(size=(4, shape[-1], k, k))
    b = rng.normal(size=4)
    z, _ = conv_forward(x, W, b, pad)
    np.testing.assert_allclose(z, looped_conv(x, W, b, pad), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape,k,pad", [((2, 7, 6, 3), 3, 0), ((1, 6, 6, 2), 5, 2), ((3, 5, 4, 1), 3, 1)])
def test_unpatch_is_the_transpose_of_patches(shape: tuple[int, ...], k: int, pad: int) -> None:
    # <patches(x), r> == <x, unpatch(r)> for any x and r: what makes the input's gradient right.
    rng = np.random.default_rng(k)
    x = rng.normal(size=shape)
    cols = patches(x, k, pad)
    r = rng.normal(size=cols.shape)
    assert np.sum(cols * r) == pytest.approx(np.sum(x * unpatch(r, shape, k, pad)), rel=1e-10)


def test_pooling_takes_each_windows_largest_value_and_routes_the_gradient_to_it() -> None:
    x = np.arange(2 * 5 * 5 * 3, dtype=float).reshape(2, 5, 5, 3)[:, ::-1]  # odd side: the last row is left out
    out, where = pool_forward(x)
    expected = x[:, :4, :4, :].reshape(2, 2, 2, 2, 2, 3).max(axis=(2, 4))
    np.testing.assert_array_equal(out, expected)
    dx = pool_backward(np.ones_like(out), where, x.shape)
    assert dx.sum() == out.size
    np.testing.assert_array_equal(dx[..., 4, :, :], 0)  # the left-out row gets nothing
    chosen = np.where(dx > 0, x, -np.inf)[:, :4, :4, :].reshape(2, 2, 2, 2, 2, 3).max(axis=(2, 4))
    np.testing.assert_array_equal(chosen, expected)  # the gradient went to each window's maximum


@pytest.mark.parametrize("text", ["c2:3,p2,c3:3,p2,4", "c2:3:same,p2,3", "p2,c2:5", "c3:5,p2"])
def test_convnet_gradients_match_finite_differences(text: str) -> None:
    model = ConvNet(parse_hidden(text), seed=2, dtype=np.float64)
    rng = np.random.default_rng(5)
    for p in model.params[1::2]:
        p[:] = rng.normal(0, 0.1, p.shape)
    x = rng.random((3, 784))
    y = np.array([1, 7, 3])
    grads = model.loss_and_grads(x, y).grads
    for name, p, g in zip(model.names, model.params, grads):
        assert g.shape == p.shape, name
        # Every bias and filter tap, and a sample of the large dense matrices' entries.
        picks = list(np.ndindex(p.shape))
        if len(picks) > 60:
            picks = [picks[i] for i in rng.choice(len(picks), 60, replace=False)]
        for i in picks:
            assert g[i] == pytest.approx(numeric_gradient(model, x, y, p, i), rel=1e-5, abs=1e-8), f"{name}{i}"


def test_a_convnet_learns_a_batch_it_sees_again_and_again() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((32, 784)).astype(np.float32)
    y = rng.integers(0, 10, 32)
    model = fresh_network(parse_hidden("c4:5,p2,c8:5,p2,32"), seed=1)
    assert isinstance(model, ConvNet)
    optimizer = make_optimizer("momentum", 0.05)
    first = model.loss_and_grads(x, y).loss
    for _ in range(60):
        optimizer.step(model.params, model.loss_and_grads(x, y).grads)
    result = model.loss_and_grads(x, y)
    assert result.loss < first / 4
    assert result.acc == 1.0
    np.testing.assert_array_equal(model.predict(x), y)


def test_the_same_seed_gives_the_same_convnet() -> None:
    hidden = parse_hidden("c16:5,p2,c32:5,p2,128")
    a, b = ConvNet(hidden, seed=3), ConvNet(hidden, seed=3)
    for p, q in zip(a.params, b.params):
        np.testing.assert_array_equal(p, q)
    assert not np.array_equal(a.params[0], ConvNet(hidden, seed=4).params[0])


def test_the_network_text_reads_and_writes_back() -> None:
    assert parse_hidden("256,128") == (256, 128)  # today's texts mean what they did
    hidden = parse_hidden(" C16:5 , p2, c32:5:same,p2 ,128,")
    assert hidden == ("c16:5", "p2", "c32:5:same", "p2", 128)
    assert format_hidden(hidden) == "c16:5,p2,c32:5:same,p2,128"
    assert parse_hidden(format_hidden(hidden)) == hidden
    assert describe_network(parse_hidden("c16:5,p2,128")) == "784-c16:5-p2-128-10"
    # The recipe's network: 16 + 32 filters of 5x5, 512 pixels flattened into 128 units.
    assert parameter_count(parse_hidden("c16:5,p2,c32:5,p2,128")) == 416 + 12832 + 65664 + 1290


@pytest.mark.parametrize("text,reason", [
    ("128,c16:5", "convolutions and pooling come first"),
    ("c16:4:same", "odd filter size"),
    ("c300:5", "1 to 256 filters"),
    ("c16:11", "1x1 to 9x9"),
    ("p3", "2x2"),
    ("c16:9,c16:9,c16:9,c16:9", "shrink 28x28 pixels to nothing"),
    ("p2,p2,p2,p2,p2", "shrink 28x28 pixels to nothing"),
    ("c16:5:same,c16:5:same,c16:5:same,c16:5,c16:5,c16:5,c16:5,c16:5,c16:5", "1 to 8 hidden layers"),
    ("c16:x", "is not a layer"),
    ("4096,4096", "the page holds at most 16,777,216"),
])
def test_networks_beyond_the_limits_are_refused_saying_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_hidden(text)


def test_a_network_too_large_for_memory_at_its_batch_is_refused_with_its_size() -> None:
    hidden = parse_hidden("c64:3:same,c64:3:same,16")
    assert hidden_problem(hidden) is None
    assert hidden_problem(hidden, batch_size=8) is None
    problem = hidden_problem(hidden, batch_size=4096)
    assert problem is not None and "MiB" in problem and "batch size 4096" in problem
    assert memory_needed(hidden, 4096) > MEMORY_BUDGET


def test_convnet_weights_go_out_and_back_in_and_wrong_ones_are_refused() -> None:
    hidden = parse_hidden("c4:5,p2,16")
    model = ConvNet(hidden, seed=0)
    weights = model.get_weights()
    assert weights["W1"].shape == (4, 1, 5, 5) and weights["W2"].shape == (12 * 12 * 4, 16)
    again = network_from_weights(weights, hidden)
    x = np.random.default_rng(0).random((5, 784))
    np.testing.assert_array_equal(again.predict_proba(x), model.predict_proba(x))
    with pytest.raises(WeightsError, match="do not say their network's layers"):
        network_from_weights(weights)
    with pytest.raises(WeightsError, match="shape"):
        network_from_weights(weights, parse_hidden("c4:3,p2,16"))
    with pytest.raises(WeightsError, match="W3 is missing"):
        network_from_weights({k: v for k, v in weights.items() if k not in ("W3",)}, hidden)
    bad = dict(weights, W1=np.full((4, 1, 5, 5), np.nan, np.float32))
    with pytest.raises(WeightsError, match="NaN"):
        model.set_weights(bad)
    np.testing.assert_array_equal(model.params[0], weights["W1"])  # unchanged


def test_evaluations_in_passing_take_at_most_a_tenth_of_training_time(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    rng = np.random.default_rng(0)
    blocks = [Block(f"test-{i}", rng.integers(0, 256, (50, 784), dtype=np.uint8),
                    rng.integers(0, 10, 50, dtype=np.uint8)) for i in range(4)]
    test_set = TestSet(None, [])  # type: ignore[arg-type]
    test_set.blocks = blocks
    schedule = EvaluationSchedule(test_set, every_s=5.0, clock=lambda: clock[0])
    schedule.start()
    model = ConvNet(parse_hidden("c4:5,p2,16"), seed=0)
    block_s = [0.0]
    real_step = EvaluationPass.step

    def costly_step(self: EvaluationPass) -> None:
        real_step(self)
        clock[0] += block_s[0]  # what one block of the pass costs

    monkeypatch.setattr(EvaluationPass, "step", costly_step)

    def wait_after_a_pass(cost_s: float) -> float:
        """Slices until a pass ends, each block costing ``cost_s``: the time until the next pass."""
        block_s[0] = cost_s
        for _ in range(10_000):
            clock[0] += 0.1  # a slice of training
            if schedule.step(model) is not None:
                return schedule._next_at - clock[0]
        raise AssertionError("no pass ended")

    assert wait_after_a_pass(0.01) == pytest.approx(5.0)  # a cheap pass keeps the period
    assert wait_after_a_pass(1.0) == pytest.approx(4 * 1.0 * 9)  # 4 s evaluating: the next after 36 s of training


def test_predictions_of_many_digits_run_in_chunks_that_fit_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    import inkling.network.convnet as convnet

    hidden = parse_hidden("c4:5,p2,16")
    x = np.random.default_rng(0).random((50, 784)).astype(np.float32)
    whole = ConvNet(hidden, seed=0).predict_proba(x)
    monkeypatch.setattr(convnet, "PREDICT_MEMORY", 12 * (convnet.memory_needed(hidden, 1)
                                                         - convnet.memory_needed(hidden, 0)))
    model = ConvNet(hidden, seed=0)
    seen: list[int] = []
    forward = model._forward
    monkeypatch.setattr(model, "_forward", lambda batch: (seen.append(len(batch)), forward(batch))[1])
    np.testing.assert_allclose(model.predict_proba(x), whole, rtol=1e-6)
    assert seen == [12, 12, 12, 12, 2]
