"""The Trainer, driven like the worker drives it: commands in, the exact list of messages out."""

from __future__ import annotations

import asyncio
import math
from typing import Any, Callable

import numpy as np
import pytest

from inkling.data.blocks import Manifest, decode_block
from inkling.errors import DataError
from inkling.messages import protocol as p
from inkling.messages.tunables import DEFAULTS
from inkling.network.mlp import MLP
from inkling.training.trainer import Trainer

DEFAULT_SIZES = (784, *DEFAULTS["hidden"], 10)  # the network a fresh trainer starts with

Script = Callable[[dict[str, Any], Trainer], None]


def drive(fetch: Any, commands: list[dict[str, Any]], script: Script | None = None, **options: Any) -> list[dict]:
    """Run a Trainer on ``fetch``: submit ``commands``, call ``script(message, trainer)`` on each
    message it sends (to react or close), stop when closed. Returns every message sent, in order."""
    sent: list[dict[str, Any]] = []

    def send(message: dict[str, Any]) -> None:
        sent.append(message)
        p.decode_signal(message)  # everything sent is a valid wire message
        if script is not None:
            script(message, trainer)

    options.setdefault("fetch_backoff", 0.001)
    trainer = Trainer(send, fetch, **options)
    for command in commands:
        trainer.submit(command)

    async def main() -> None:
        # A guard against a hung loop, not a speed check: generous enough for a loaded 2-core CI box.
        await asyncio.wait_for(trainer.run(), timeout=600)

    asyncio.run(main())
    drive.trainer = trainer  # type: ignore[attr-defined]
    return sent


def close_after(n: int) -> Script:
    """Close once ``n`` messages have been sent."""
    count = 0

    def script(message: dict[str, Any], trainer: Trainer) -> None:
        nonlocal count
        count += 1
        if count >= n:
            trainer.close()

    return script


def summary(messages: list[dict[str, Any]]) -> list[tuple]:
    """The gist of each message: type, and iteration/training/reply_to or kind/field/reply_to."""
    return [
        ("signal", m["iteration"], m["training"], m["reply_to"]) if m["type"] == "signal"
        else ("error", m["kind"], m["field"], m["reply_to"])
        for m in messages
    ]


def weights_of(message: dict[str, Any]) -> dict[str, np.ndarray]:
    return {k: v["data"].reshape(v["shape"]) for k, v in message["weights"].items()}


def test_status_when_idle_replies_once_with_the_whole_state(fake_fetch: Any) -> None:
    sent = drive(fake_fetch, [{"type": "status", "id": 7}], close_after(1))
    assert summary(sent) == [("signal", 0, False, 7)]
    signal = p.decode_signal(sent[0])
    assert isinstance(signal, p.ResponseSignal)
    assert (signal.seq, signal.batch_size, signal.optimizer, signal.hidden, signal.cache_size) == (
        1, DEFAULTS["batch_size"], DEFAULTS["optimizer"], (256,), DEFAULTS["cache_size"])
    assert (signal.lrate, signal.lr_decay) == (DEFAULTS["lrate"], DEFAULTS["lr_decay"])
    assert signal.loss is None and signal.test_acc is None and signal.samples_per_s == 0
    assert np.array_equal(signal.weights["W1"], MLP(DEFAULT_SIZES, seed=0).params[0])


def test_start_trains_with_a_signal_per_iteration_until_stop(fake_fetch: Any) -> None:
    def script(message: dict[str, Any], trainer: Trainer) -> None:
        if message.get("iteration") == 3 and message["training"]:
            trainer.submit({"type": "stop", "id": 2})
        if message.get("reply_to") == 2:
            trainer.close()

    sent = drive(fake_fetch, [{"type": "start", "id": 1}], script, batch_size=20)
    assert summary(sent) == [
        ("signal", 0, True, 1), ("signal", 1, True, None), ("signal", 2, True, None), ("signal", 3, True, None),
        ("signal", 3, False, 2),
    ]
    assert [m["seq"] for m in sent] == [1, 2, 3, 4, 5]
    assert [m["samples_seen"] for m in sent] == [0, 20, 40, 60, 60]
    assert all(math.isfinite(m["loss"]) and 0 <= m["acc"] <= 1 for m in sent[1:])
    assert sent[3]["samples_per_s"] > 0 and sent[4]["samples_per_s"] == 0
    # The weights in each signal are the model's after that iteration: they change every step.
    assert not np.array_equal(weights_of(sent[1])["W2"], weights_of(sent[2])["W2"])


def test_in_slices_training_signals_once_a_slice_and_still_obeys_commands(fake_fetch: Any) -> None:
    ticks = iter(range(10**9))

    def clock() -> float:  # 1 ms passes every time the trainer looks
        return next(ticks) / 1000

    def script(message: dict[str, Any], trainer: Trainer) -> None:
        if message.get("iteration", 0) >= 30 and message["training"]:
            trainer.submit({"type": "stop", "id": 2})
        if message.get("reply_to") == 2:
            trainer.close()

    sent = drive(fake_fetch, [{"type": "start", "id": 1}], script, batch_size=10, slice_s=0.004, clock=clock)
    training = [m for m in sent if m["type"] == "signal" and m["training"] and m["reply_to"] is None]
    steps = [b["iteration"] - a["iteration"] for a, b in zip(training, training[1:])]
    assert steps and min(steps) > 1  # several steps per signal: the page shows one signal a frame anyway
    assert sent[-1]["reply_to"] == 2 and not sent[-1]["training"]
    assert sent[-1]["iteration"] == training[-1]["iteration"]  # stop took effect at the end of that slice
    assert [m["seq"] for m in sent] == list(range(1, len(sent) + 1))


def test_progress_signals_come_at_most_every_signal_every_s_and_replies_at_once(fake_fetch: Any) -> None:
    ticks = iter(range(10**9))

    def clock() -> float:  # 1 ms passes every time the trainer looks
        return next(ticks) / 1000

    def script(message: dict[str, Any], trainer: Trainer) -> None:
        if message.get("reply_to") == 2:
            trainer.close()
        elif message["type"] == "signal" and message["training"] and message["iteration"] >= 200:
            trainer.submit({"type": "status", "id": 2})

    sent = drive(fake_fetch, [{"type": "start", "id": 1}], script, batch_size=10, signal_every_s=0.05, clock=clock)
    progress = [m for m in sent if m["type"] == "signal" and m["training"] and m["reply_to"] is None]
    steps = [b["iteration"] - a["iteration"] for a, b in zip(progress, progress[1:])]
    # Every step looks at the clock a few times: a signal per 50 ms is one per several steps.
    assert len(progress) >= 3 and min(steps) >= 5
    reply = sent[-1]
    assert reply["reply_to"] == 2 and reply["training"]  # the reply was not held back for the pace
    assert [m["seq"] for m in sent] == list(range(1, len(sent) + 1))


def test_a_divergence_in_a_slice_goes_back_to_the_weights_of_its_start(fake_fetch: Any) -> None:
    ticks = iter(range(10**9))

    def clock() -> float:  # 1 ms passes every time the trainer looks: a slice of 1 s is hundreds of steps
        return next(ticks) / 1000

    def script(message: dict[str, Any], trainer: Trainer) -> None:
        if message["type"] == "error" or message.get("iteration", 0) > 500:
            trainer.close()

    # Adam at rate 10 blows up within a few steps, all of them inside the first slice.
    sent = drive(fake_fetch, [{"type": "set_optimizer", "optimizer": "adam"},
                              {"type": "set_learning_rate", "lrate": 10.0}, {"type": "start"}], script,
                 batch_size=10, slice_s=1.0, clock=clock)
    error = next(m for m in sent if m["type"] == "error")
    assert error["kind"] == "divergence"
    assert [m["iteration"] for m in sent if m["type"] == "signal" and m["training"]] == [0]  # no signal mid-slice
    after = sent[sent.index(error) + 1]
    assert not after["training"] and after["iteration"] >= 1  # steps were taken in that slice ...
    restored = weights_of(after)
    assert all(np.array_equal(restored[k], v) for k, v in MLP(DEFAULT_SIZES, seed=0).get_weights().items())  # ... and undone


def test_training_learns_the_synthetic_digits(fake_fetch: Any) -> None:
    def script(message: dict[str, Any], trainer: Trainer) -> None:
        if message.get("epoch", 0) >= 3 and message["training"]:
            trainer.submit({"type": "stop"})
            trainer.submit({"type": "evaluate", "id": 5})
        if message.get("reply_to") == 5:
            trainer.close()

    sent = drive(fake_fetch, [{"type": "start"}], script, batch_size=10)
    assert sent[-1]["test_acc"] >= 0.95
    assert sent[-1]["lrate"] == pytest.approx(DEFAULTS["lrate"] * DEFAULTS["lr_decay"]**3)  # three epochs of decay


def test_an_invalid_command_gets_an_error_and_changes_nothing(fake_fetch: Any) -> None:
    def script(message: dict[str, Any], trainer: Trainer) -> None:
        if message.get("iteration") == 2 and message["training"]:
            trainer.submit({"type": "set_batch_size", "batch_size": True, "id": 9})
            trainer.submit({"type": "set_learning_rate", "lrate": math.nan, "id": 10})
            trainer.submit(["not", "a", "command"])
        if message.get("iteration") == 4:
            trainer.close()

    sent = drive(fake_fetch, [{"type": "start"}], script, batch_size=16)
    assert summary(sent) == [
        ("signal", 0, True, None), ("signal", 1, True, None), ("signal", 2, True, None),
        ("error", "protocol", "batch_size", 9), ("error", "protocol", "lrate", 10), ("error", "protocol", "command", None),
        ("signal", 3, True, None), ("signal", 4, True, None),
    ]
    assert sent[3]["command"] == "set_batch_size" and "integer" in sent[3]["message"]
    assert [m["batch_size"] for m in sent if m["type"] == "signal"] == [16] * 5
    assert [m["lrate"] for m in sent if m["type"] == "signal"] == [DEFAULTS["lrate"]] * 5
    assert sent[-1]["samples_seen"] == 4 * 16


def test_settings_take_effect_at_the_next_iteration(fake_fetch: Any) -> None:
    def script(message: dict[str, Any], trainer: Trainer) -> None:
        if message.get("iteration") == 1 and message["training"] and message["reply_to"] is None:
            for command in ({"type": "set_batch_size", "batch_size": 5, "id": 1},
                            {"type": "set_learning_rate", "lrate": 0.02, "id": 2},
                            {"type": "set_optimizer", "optimizer": "adam", "id": 3},
                            {"type": "set_lr_decay", "lr_decay": 0.5, "id": 4},
                            {"type": "set_cache_size", "cache_size": 2, "id": 5}):
                trainer.submit(command)
        if message.get("iteration") == 2:
            trainer.close()

    sent = drive(fake_fetch, [{"type": "start"}], script, batch_size=30)
    replies = [m for m in sent if m["reply_to"] in (1, 2, 3, 4, 5)]
    assert [m["reply_to"] for m in replies] == [1, 2, 3, 4, 5]
    last = sent[-1]
    assert (last["batch_size"], last["lrate"], last["optimizer"], last["lr_decay"], last["cache_size"]) == (
        5, 0.02, "adam", 0.5, 2)
    assert last["samples_seen"] == 30 + 5
    assert last["data_len"] + last["data_futures_len"] <= 2


def test_a_cache_larger_than_a_tab_can_afford_is_refused_saying_why(mnist_sized_dataset: dict[str, bytes],
                                                                      fetch_factory: Callable) -> None:
    def script(message: dict[str, Any], trainer: Trainer) -> None:
        if message["seq"] == 1:
            trainer.submit({"type": "set_cache_size", "cache_size": 86, "id": 1})
            trainer.submit({"type": "set_cache_size", "cache_size": 85, "id": 2})
        if message["reply_to"] == 2:
            trainer.close()

    sent = drive(fetch_factory(mnist_sized_dataset), [{"type": "status"}], script)
    refused = next(m for m in sent if m["reply_to"] == 1)
    assert (refused["type"], refused["kind"], refused["field"]) == ("error", "protocol", "cache_size")
    assert refused["message"] == ("cache_size: 86 blocks are more than a tab can afford: at most 85 blocks of 785 KB "
                                  f"fit the 64 MiB set aside for training data; the cache stays at {DEFAULTS['cache_size']}")
    assert sent[-1]["cache_size"] == 85  # the most it can afford is accepted


def test_divergence_stops_and_restores_the_last_good_weights(fake_fetch: Any) -> None:
    def script(message: dict[str, Any], trainer: Trainer) -> None:
        if message["type"] == "error" or message.get("iteration", 0) > 500:
            trainer.close()

    sent = drive(fake_fetch, [{"type": "set_optimizer", "optimizer": "adam"},
                              {"type": "set_learning_rate", "lrate": 10.0}, {"type": "start"}], script, batch_size=10)
    error = next(m for m in sent if m["type"] == "error")
    at = sent.index(error)
    assert (error["kind"], error["field"]) == ("divergence", "lrate")
    assert "Lower the learning rate" in error["message"]
    before = sent[at - 1]  # the last iteration signal, with the weights whose loss blew up
    good = sent[at - 2]  # the one before: the weights whose loss was still sane
    assert before["training"] and good["training"]
    after = sent[at + 1]
    assert after["type"] == "signal" and after["training"] is False and after["iteration"] == before["iteration"]
    restored = weights_of(after)
    assert all(np.array_equal(restored[k], v) for k, v in weights_of(good).items())
    assert all(np.isfinite(v).all() for v in restored.values())
    assert len(sent) == at + 2  # nothing after: training really stopped


def test_set_weights_replaces_them_and_bad_ones_keep_the_old(fake_fetch: Any) -> None:
    new = MLP(seed=42).get_weights()
    wide = MLP((784, 32, 10), seed=1).get_weights()
    good = p.encode_command(p.SetWeights(new, id=1))
    bad_shape = p.encode_command(p.SetWeights({**new, "b1": np.zeros(5, np.float32)}, id=2))
    wrong_classes = p.encode_command(p.SetWeights(MLP((784, 16, 3)).get_weights(), id=3))
    nan_data = {"type": "set_weights", "id": 4, "weights": {"b1": {"shape": [2], "data": [0.0, math.nan]}}}
    other_width = p.encode_command(p.SetWeights(wide, id=5))
    sent = drive(fake_fetch, [good, bad_shape, wrong_classes, nan_data, other_width], close_after(5))
    assert summary(sent) == [("signal", 0, False, 1), ("error", "weights", "weights", 2),
                             ("error", "weights", "weights", 3), ("error", "protocol", "weights.b1.data", 4),
                             ("signal", 0, False, 5)]
    assert "b1" in sent[1]["message"] and "10 outputs" in sent[2]["message"]
    assert all(np.array_equal(weights_of(sent[0])[k], v) for k, v in new.items())
    assert sent[4]["hidden"] == [32]
    assert all(np.array_equal(weights_of(sent[4])[k], v) for k, v in wide.items())


def test_reset_starts_over_with_a_new_hidden_size_and_seed(fake_fetch: Any) -> None:
    def script(message: dict[str, Any], trainer: Trainer) -> None:
        if message.get("iteration") == 2 and message["training"]:
            trainer.submit({"type": "stop"})
            trainer.submit({"type": "reset", "hidden": 32, "seed": 3, "id": 8})
        if message.get("reply_to") == 8:
            trainer.close()

    sent = drive(fake_fetch, [{"type": "start"}], script, batch_size=10)
    reply = sent[-1]
    assert (reply["hidden"], reply["iteration"], reply["samples_seen"], reply["loss"]) == ([32], 0, 0, None)
    assert all(np.array_equal(weights_of(reply)[k], v) for k, v in MLP((784, 32, 10), seed=3).get_weights().items())


def _one_epoch_from_seed_5(fetch: Any, train_first: bool) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Reset to seed 5 (after some training of seed 0, or at once), train one epoch; the signal that
    says it stopped, and the weights."""
    run_from_seed = [{"type": "reset", "seed": 5}, {"type": "start", "epochs": 1}]
    reset = not train_first
    stopped: dict[str, Any] = {}

    def script(message: dict[str, Any], trainer: Trainer) -> None:
        nonlocal reset
        if message["type"] != "signal":
            return
        if not reset and message["iteration"] >= 4:
            reset = True
            for command in run_from_seed:
                trainer.submit(command)
        elif reset and message["iteration"] > 0 and not message["training"]:
            stopped.update(message)
            trainer.close()

    start = [{"type": "start"}] if train_first else run_from_seed
    drive(fetch, [{"type": "set_batch_size", "batch_size": 32}, *start], script)
    return stopped, drive.trainer.learner.model.get_weights()  # type: ignore[attr-defined]


def test_start_for_one_epoch_stops_by_itself_and_a_seed_repeats_the_run_exactly(fake_fetch: Any) -> None:
    stopped, weights = _one_epoch_from_seed_5(fake_fetch, train_first=False)
    train_count = 300  # the synthetic data: 6 blocks of 50
    assert stopped["samples_seen"] == math.ceil(train_count / 32) * 32 and stopped["seed"] == 5
    # A run that trained on seed 0 first, then reset to seed 5, trains the very same weights:
    # the reset reseeds the data order too, dropping what the old order had fetched.
    stopped_again, weights_again = _one_epoch_from_seed_5(fake_fetch, train_first=True)
    assert stopped_again["samples_seen"] == stopped["samples_seen"]
    assert all(np.array_equal(weights[k], weights_again[k]) for k in weights)
    assert stopped_again["iteration"] == stopped["iteration"] and stopped_again["loss"] == stopped["loss"]


def test_evaluate_measures_the_whole_test_set(dataset: dict[str, bytes], fake_fetch: Any) -> None:
    sent = drive(fake_fetch, [{"type": "evaluate", "id": 3}, {"type": "status", "id": 4}], close_after(2))
    manifest = Manifest.from_json(dataset["manifest.json"])
    blocks = [decode_block(dataset[e.file], e) for e in manifest.test]
    model = MLP(DEFAULT_SIZES, seed=0)
    labels = np.concatenate([b.labels for b in blocks])
    predicted = np.concatenate([model.predict(b.pixels / 255) for b in blocks])
    assert sent[0]["reply_to"] == 3 and sent[0]["test_acc"] == pytest.approx(np.mean(predicted == labels))
    assert sorted(c for c in fake_fetch.calls if c.startswith("test")) == ["test-000.bin", "test-001.bin"]
    # The reply carries the confusion matrix, once: the next signal keeps the accuracy but not the matrix.
    confusion = p.decode_signal(sent[0]).confusion
    assert confusion is not None and confusion.total == len(labels) == manifest.test_count
    for r, c in [(int(labels[k]), int(predicted[k])) for k in (0, len(labels) - 1)]:
        assert confusion.counts[r, c] == np.sum((labels == r) & (predicted == c))
        assert all(labels[i] == r and predicted[i] == c for i in confusion.pair_examples(r, c))
    assert confusion.accuracy() == sent[0]["test_acc"]
    assert "confusion" not in sent[1] and sent[1]["test_acc"] == sent[0]["test_acc"]


def test_while_training_the_test_accuracy_and_matrix_refresh_by_themselves(fake_fetch: Any) -> None:
    measured: list[dict[str, Any]] = []

    def script(message: dict[str, Any], trainer: Trainer) -> None:
        if message["type"] == "signal" and message.get("confusion") is not None:
            measured.append(message)
            if len(measured) == 3:
                trainer.close()

    sent = drive(fake_fetch, [{"type": "start"}], script, eval_every_s=0.02)
    assert all(m["training"] and m["reply_to"] is None for m in measured)  # nobody asked: progress signals
    assert [m["iteration"] for m in measured] == sorted({m["iteration"] for m in measured})  # training went on
    for message in measured:
        confusion = p.decode_signal(message).confusion
        assert confusion is not None and confusion.total == 100 and message["test_acc"] == confusion.accuracy()
    # Between refreshes the accuracy stays on the signals, the matrix does not (it rides once).
    between = [m for m in sent if m["type"] == "signal" and m["iteration"] > measured[0]["iteration"]
               and "confusion" not in m]
    assert between and all(m["test_acc"] is not None for m in between)


def test_evaluate_reports_unfetchable_test_blocks(fake_fetch: Any) -> None:
    fake_fetch.fail["test-001.bin"] = math.inf
    sent = drive(fake_fetch, [{"type": "evaluate", "id": 3}, {"type": "status"}], close_after(2), fetch_attempts=2)
    assert summary(sent) == [("error", "data", None, 3), ("signal", 0, False, None)]
    assert "test-001.bin" in sent[0]["message"] and sent[1]["test_acc"] is None


def test_train_drawing_teaches_the_model_that_drawing(fake_fetch: Any) -> None:
    pixels = np.zeros(784, np.float32)
    pixels[300:340] = 1.0
    model = MLP(DEFAULT_SIZES, seed=0)
    label = int(np.argsort(model.predict_proba(pixels)[0])[0])  # the class it believes least
    command = p.encode_command(p.TrainDrawing(pixels, label, id=4))
    sent = drive(fake_fetch, [command], close_after(1))
    assert sent[0]["reply_to"] == 4
    model.set_weights(weights_of(sent[0]))
    assert model.predict(pixels)[0] == label


def test_train_drawing_leaves_a_model_that_already_knows_it_alone(fake_fetch: Any) -> None:
    pixels = np.zeros(784, np.float32)
    pixels[300:340] = 1.0
    label = int(MLP(DEFAULT_SIZES, seed=0).predict(pixels)[0])
    model = MLP((784, 128, 10), seed=0)
    for W in model.params[2::2]:
        W[:, label] += 5  # make the model sure of that label
    weights = p.encode_command(p.SetWeights(model.get_weights()))
    sent = drive(fake_fetch, [weights, p.encode_command(p.TrainDrawing(pixels, label, id=4))], close_after(2))
    assert all(np.array_equal(weights_of(sent[1])[k], v) for k, v in model.get_weights().items())


def test_an_empty_cache_makes_training_wait_not_fail(dataset: dict[str, bytes], fetch_factory: Callable) -> None:
    fetch = fetch_factory(dataset, delay=0.05)
    sent = drive(fetch, [{"type": "start"}], lambda m, t: m.get("iteration", 0) >= 8 and t.close(),
                 batch_size=50, cache_size=1)
    assert [m["type"] for m in sent] == ["signal"] * 9
    assert sent[-1]["cache_waits"] >= 8  # a one-block cache means every block is waited for
    assert sent[-1]["data_errors"] == 0


def test_commands_are_handled_while_waiting_for_data(dataset: dict[str, bytes], fetch_factory: Callable) -> None:
    fetch = fetch_factory(dataset, delay=5.0)

    def script(message: dict[str, Any], trainer: Trainer) -> None:
        if message.get("reply_to") == 1:
            asyncio.get_running_loop().call_later(0.05, trainer.submit, {"type": "stop", "id": 2})
        if message.get("reply_to") == 2:
            trainer.close()

    sent = drive(fetch, [{"type": "start", "id": 1}], script)
    assert summary(sent) == [("signal", 0, True, 1), ("signal", 0, False, 2)]
    assert sent[1]["data_futures_len"] == 8


def test_fetch_failures_are_counted_reported_and_survived(fake_fetch: Any) -> None:
    fake_fetch.fail["train-002.bin"] = 1
    fake_fetch.corrupt["train-003.bin"] = 1
    fake_fetch.fail["train-005.bin"] = math.inf
    sent = drive(fake_fetch, [{"type": "start"}], lambda m, t: m.get("iteration", 0) >= 20 and t.close(),
                 batch_size=25, fetch_attempts=2)
    errors = [m for m in sent if m["type"] == "error"]
    assert errors and all(e["kind"] == "data" and "train-005.bin" in e["message"] for e in errors)
    signals = [m for m in sent if m["type"] == "signal"]
    assert signals[-1]["iteration"] == 20 and signals[-1]["training"]
    assert signals[-1]["data_errors"] >= 2 + 2 * len(errors)


def test_the_same_seed_trains_the_same_weights(dataset: dict[str, bytes], fetch_factory: Callable) -> None:
    def final_weights(delay: float, seed: int) -> dict[str, np.ndarray]:
        sent = drive(fetch_factory(dataset, delay=delay), [{"type": "start"}],
                     lambda m, t: m.get("iteration", 0) >= 25 and t.close(), batch_size=16, seed=seed, cache_size=3)
        return weights_of(sent[-1])

    a, b, c = final_weights(0.0, 1), final_weights(0.003, 1), final_weights(0.0, 2)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["W1"], c["W1"])


def test_augmentation_changes_what_is_learnt_and_repeats_from_the_seed(
        dataset: dict[str, bytes], fetch_factory: Callable) -> None:
    def final(augment: bool, seed: int = 1, delay: float = 0.0) -> tuple[dict, dict[str, np.ndarray]]:
        sent = drive(fetch_factory(dataset, delay=delay), [{"type": "set_augment", "augment": augment, "id": 1},
                                                           {"type": "start"}],
                     lambda m, t: m.get("iteration", 0) >= 25 and t.close(), batch_size=16, seed=seed, cache_size=3)
        return sent[0], weights_of(sent[-1])

    reply, augmented = final(True)
    assert reply["reply_to"] == 1 and reply["augment"] is True
    again = final(True, delay=0.003)[1]  # blocks arriving at other times change nothing
    assert all(np.array_equal(augmented[k], again[k]) for k in augmented)
    assert not np.array_equal(final(False)[1]["W1"], augmented["W1"])
    assert not np.array_equal(final(True, seed=2)[1]["W1"], augmented["W1"])


def test_a_reset_restarts_the_distortions_from_the_seed_too(fake_fetch: Any) -> None:
    def run(warm_up: bool) -> dict[str, np.ndarray]:
        commands = [{"type": "set_augment", "augment": True}, {"type": "reset", "seed": 9}, {"type": "start"}]
        done = False

        def script(message: dict[str, Any], trainer: Trainer) -> None:
            nonlocal done
            if message["type"] != "signal" or not message["training"]:
                return
            if warm_up and not done and message["iteration"] >= 5:  # distortions drawn from seed 0 first
                done = True
                for command in commands:
                    trainer.submit(command)
            elif (done or not warm_up) and message["iteration"] >= 12:
                trainer.close()

        drive(fake_fetch, [{"type": "set_augment", "augment": True}, {"type": "start"}] if warm_up else commands,
              script, batch_size=10)
        return drive.trainer.learner.model.get_weights()  # type: ignore[attr-defined]

    fresh, after_warm_up = run(False), run(True)
    assert all(np.array_equal(fresh[k], after_warm_up[k]) for k in fresh)


def test_several_hidden_layers_reset_train_and_report(fake_fetch: Any) -> None:
    def script(message: dict[str, Any], trainer: Trainer) -> None:
        if message.get("reply_to") == 2 and message["type"] == "signal":
            trainer.submit({"type": "start"})
        elif message["type"] == "signal" and message["training"] and message["iteration"] >= 20:
            trainer.close()

    sent = drive(fake_fetch, [{"type": "reset", "hidden": [32, 16], "seed": 4, "id": 2}], script, batch_size=10)
    last = sent[-1]
    assert last["hidden"] == [32, 16] and last["seed"] == 4
    assert {k: v.shape for k, v in weights_of(last).items()} == {
        "W1": (784, 32), "b1": (32,), "W2": (32, 16), "b2": (16,), "W3": (16, 10), "b3": (10,)}
    losses = [m["loss"] for m in sent if m["type"] == "signal" and m["loss"] is not None]
    assert losses[-1] < losses[0]


def test_set_weights_takes_any_depth_within_the_limits_and_keeps_a_known_seed(fake_fetch: Any) -> None:
    deep = MLP((784, 24, 12, 10), seed=2).get_weights()
    too_deep = MLP((784, *[4] * 9, 10), seed=2).get_weights()
    sent = drive(fake_fetch, [
        p.encode_command(p.SetWeights(deep, seed=77, id=1)),
        p.encode_command(p.SetWeights(too_deep, id=2)),
        p.encode_command(p.SetWeights(deep, id=3)),
    ], close_after(3))
    assert (sent[0]["hidden"], sent[0]["seed"]) == ([24, 12], 77)
    assert sent[1]["kind"] == "weights" and "1 to 8 hidden layers" in sent[1]["message"]
    assert (sent[2]["hidden"], sent[2]["seed"]) == ([24, 12], None)  # no seed known: none shown


def test_setup_fails_clearly_without_a_manifest(fetch_factory: Callable) -> None:
    trainer = Trainer(lambda m: None, fetch_factory({}))
    with pytest.raises(DataError, match="manifest.json"):
        asyncio.run(trainer.setup())


def test_signals_can_leave_out_the_weights(fake_fetch: Any) -> None:
    sent = drive(fake_fetch, [{"type": "status"}], close_after(1), weights_in_signals=False)
    assert sent[0]["weights"] is None


PAUSED = "No training data could be fetched"


def test_when_no_block_can_be_fetched_training_pauses_once_and_resumes_by_itself(fake_fetch: Any) -> None:
    for i in range(6):
        fake_fetch.fail[f"train-{i:03d}.bin"] = math.inf
    probes_while_paused: list[int] = []

    def script(message: dict[str, Any], trainer: Trainer) -> None:
        if message["type"] == "error" and PAUSED in message["message"]:
            probes_while_paused.append(len(fake_fetch.calls))
        if message["type"] == "signal" and message["waiting_for_data"] and message["data_errors"] >= 40:
            fake_fetch.fail.clear()  # the data comes back
        if message["type"] == "signal" and message["iteration"] >= 10:
            trainer.close()

    sent = drive(fake_fetch, [{"type": "start", "id": 1}], script, fetch_attempts=2, cache_size=2,
                 fetch_max_backoff=0.005)
    errors = [(n, m) for n, m in enumerate(sent) if m["type"] == "error"]
    paused = [n for n, m in errors if PAUSED in m["message"]]
    assert len(paused) == 1, "one message says training is paused, not one per block"
    pause = paused[0]
    message = sent[pause]["message"]
    assert sent[pause]["kind"] == "data" and "network down for train-" in message
    assert "Training is paused and resumes by itself when blocks arrive" in message
    # Before the pause at most one block was reported skipped (the cache holds two); after it, none.
    assert all(n < pause and "skipped" in m["message"] for n, m in errors if n != pause)
    assert len(errors) <= 2
    resumed = next(n for n, m in enumerate(sent) if n > pause and m["type"] == "signal" and not m["waiting_for_data"])
    waiting = [m for m in sent[pause + 1 : resumed]]
    assert waiting and all(m["type"] == "signal" and m["training"] and m["iteration"] == 0 for m in waiting)
    counts = [m["data_errors"] for m in waiting]
    assert counts == sorted(counts) and counts[-1] >= 40  # the count climbs while it waits
    after = [m for m in sent[resumed:] if m["type"] == "signal"]
    assert after[-1]["iteration"] == 10 and not any(m["waiting_for_data"] for m in after)
    assert sent[-1]["data_errors"] >= counts[-1]


def test_blocks_given_up_on_together_as_the_cache_starves_are_each_named_once(fake_fetch: Any) -> None:
    # Every fetch fails at once (no delay): the cache's three blocks are given up on before the
    # trainer looks, and the same look finds it starved.
    for i in range(60):
        fake_fetch.fail[f"train-{i:03d}.bin"] = math.inf

    def script(message: dict[str, Any], trainer: Trainer) -> None:
        if message["type"] == "error" and PAUSED in message["message"]:
            trainer.close()

    sent = drive(fake_fetch, [{"type": "start", "id": 1}], script, fetch_attempts=1, cache_size=3)
    errors = [m["message"] for m in sent if m["type"] == "error"]
    assert sum(PAUSED in m for m in errors) == 1 and PAUSED in errors[-1]
    # The pause names the last one; each other has a message of its own.
    for file in [c for c in fake_fetch.calls if c.endswith(".bin")][:3]:
        assert sum(file in m for m in errors) == 1, (file, errors)


def test_data_that_goes_away_mid_run_pauses_training_and_its_return_resumes_it(fake_fetch: Any) -> None:
    down = False
    real = fake_fetch.__call__

    async def fetch(path: str) -> bytes:
        if down and path.endswith(".bin"):
            raise OSError(f"{path} answered HTTP 503")
        return await real(path)

    def script(message: dict[str, Any], trainer: Trainer) -> None:
        nonlocal down
        if message["type"] == "signal" and message["iteration"] == 12 and not down:
            down = True  # the data server goes away; a part of a block is still cached
        if message["type"] == "signal" and message["waiting_for_data"] and message["data_errors"] >= 60:
            down = False
        if message["type"] == "signal" and message["iteration"] >= 40:
            trainer.close()

    # 32-sample batches from 50-sample blocks: a part of a block is left when the data stops.
    sent = drive(fetch, [{"type": "start"}], script, fetch_attempts=2, cache_size=2, fetch_max_backoff=0.005,
                 batch_size=32)
    paused = [n for n, m in enumerate(sent) if m["type"] == "error" and PAUSED in m["message"]]
    assert len(paused) == 1 and "HTTP 503" in sent[paused[0]]["message"]
    stalled = {m["iteration"] for m in sent[paused[0]:] if m["type"] == "signal" and m["waiting_for_data"]}
    assert len(stalled) == 1 and 12 <= stalled.pop() < 40  # no progress while paused
    assert sent[-1]["iteration"] == 40 and not sent[-1]["waiting_for_data"]


def test_a_paused_trainer_still_obeys_commands(fake_fetch: Any) -> None:
    for i in range(6):
        fake_fetch.fail[f"train-{i:03d}.bin"] = math.inf

    def script(message: dict[str, Any], trainer: Trainer) -> None:
        if message["type"] == "error" and PAUSED in message["message"]:
            trainer.submit({"type": "set_batch_size", "batch_size": 7, "id": 2})
            trainer.submit({"type": "stop", "id": 3})
        if message.get("reply_to") == 3:
            trainer.close()

    sent = drive(fake_fetch, [{"type": "start", "id": 1}], script, fetch_attempts=2, cache_size=2,
                 fetch_max_backoff=0.005)
    replies = {m["reply_to"]: m for m in sent if m["type"] == "signal" and m["reply_to"]}
    assert replies[2]["batch_size"] == 7 and replies[2]["waiting_for_data"] and replies[2]["training"]
    assert not replies[3]["training"] and replies[3]["iteration"] == 0


def test_a_stalled_fetch_times_out_counts_and_training_goes_on(dataset: dict[str, bytes],
                                                               fetch_factory: Callable) -> None:
    fetch = fetch_factory(dataset)
    stalled = asyncio.Event()  # never set: the server holds the connection and never answers

    async def stalling(path: str) -> bytes:
        if path == "train-002.bin":
            await stalled.wait()
        return await fetch(path)

    told: list[dict[str, Any]] = []

    def script(message: dict[str, Any], trainer: Trainer) -> None:
        if message["type"] == "error":
            told.append(message)
        if told and message.get("iteration", 0) >= 30:  # training went on past the stalled block, and said so
            trainer.close()

    sent = drive(stalling, [{"type": "start"}], script, batch_size=25, fetch_attempts=2, fetch_timeout=0.05)
    errors = [m for m in sent if m["type"] == "error"]
    assert errors and all(m["kind"] == "data" and "gave up on train-002.bin" in m["message"] for m in errors)
    assert all("no complete answer within 0.05 s" in m["message"] for m in errors)
    last = [m for m in sent if m["type"] == "signal"][-1]
    assert last["iteration"] >= 30 and last["data_errors"] >= 2


def test_teaching_misread_real_digits_keeps_test_accuracy(mnist_dir: Any) -> None:
    async def fetch(path: str) -> bytes:
        return (mnist_dir / path).read_bytes()

    manifest = Manifest.from_json((mnist_dir / "manifest.json").read_bytes())
    test = [decode_block((mnist_dir / e.file).read_bytes(), e) for e in manifest.test]
    x = np.concatenate([b.pixels for b in test]) / np.float32(255)
    y = np.concatenate([b.labels for b in test])
    taught: list[bool] = []
    accuracy: dict[str, float] = {}

    def script(message: dict[str, Any], trainer: Trainer) -> None:
        if message["type"] == "signal" and message["training"] and message["epoch"] >= 0.5:
            trainer.submit({"type": "stop"})
            trainer.submit({"type": "evaluate", "id": 1})
        elif message.get("reply_to") == 1:
            accuracy["before"] = message["test_acc"]
            for i, k in enumerate(np.flatnonzero(trainer.learner.model.predict(x) != y)[:10]):
                trainer.submit(p.encode_command(p.TrainDrawing(x[k], int(y[k]), id=100 + int(k))))
            trainer.submit({"type": "evaluate", "id": 2})
        elif (message.get("reply_to") or 0) >= 100:
            k = message["reply_to"] - 100
            taught.append(trainer.learner.model.predict(x[k])[0] == y[k])
        elif message.get("reply_to") == 2:
            accuracy["after"] = message["test_acc"]
            trainer.close()

    drive(fetch, [{"type": "start"}], script, weights_in_signals=False)
    assert len(taught) == 10 and all(taught)  # each drawing is read right after it is taught
    assert accuracy["after"] >= accuracy["before"] - 0.01  # ... without unlearning MNIST


def test_training_signals_carry_weights_at_most_every_weights_every_s_and_replies_always(fake_fetch: Any) -> None:
    def script(message: dict[str, Any], trainer: Trainer) -> None:
        if message.get("reply_to") == 9:
            trainer.close()
        elif message["type"] == "signal" and message["iteration"] == 3:
            trainer.submit({"type": "status", "id": 9})

    # A clock that never moves: after the first set, no training signal is due its weights.
    sent = drive(fake_fetch, [{"type": "start"}], script, weights_every_s=3600.0, clock=lambda: 0.0)
    signals = [m for m in sent if m["type"] == "signal"]
    assert signals[0]["weights"] is not None  # the first set always goes
    assert len(signals) >= 4 and all(m["training"] and m["weights"] is None for m in signals[1:-1])
    assert signals[-1]["reply_to"] == 9 and signals[-1]["weights"] is not None  # a reply always has them
    idle = drive(fake_fetch, [{"type": "status"}, {"type": "status"}], close_after(2), weights_every_s=3600.0,
                 clock=lambda: 0.0)
    assert all(m["weights"] is not None for m in idle)  # so does every idle signal
