"""The page's pure parts in CPython (no browser): settings, test digits, predictions, stats, chart history.

They sit beside the browser tests because they belong to the page (py/inkling/page/),
but need no Chromium and run in milliseconds.
"""
from __future__ import annotations

import asyncio
import hashlib
import math
import sys
import threading
from types import SimpleNamespace
from typing import Any, Coroutine

import numpy as np
import pytest

from inkling.data.blocks import BlockEntry, Manifest, encode_block
from inkling.errors import DataError, WeightsError
from inkling.messages.protocol import (Command, Reset, SetAugment, SetBatchSize, SetCacheSize, SetLearningRate,
                                       SetLrDecay, decode_signal, setting_command_from_text)
from inkling.messages.tunables import (AUGMENT, BATCH_SIZE, CACHE_SIZE, HIDDEN_SIZE, LEARNING_RATE, LR_DECAY, TUNABLES,
                                       SettingError, Tunable)
from inkling.network.models import weights_problem
from inkling.network.convnet import ConvNet
from inkling.network.mlp import MLP
from inkling.network.weights_io import NetworkWeights
from inkling.page.history import History, Smoother
from inkling.page.inference import Predictor, top_k
from inkling.page.offline import OFFLINE_TEXTS, OfflineStatus, offline_text
from inkling.page.samples import TestDigits
from inkling.page.stats import stat_texts
from inkling.page.storage import architecture
from test_faults_persistence import BAD_RECORDS, record_bytes


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """asyncio.run in a thread of its own: Playwright's sync API keeps a loop running in this one."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coroutine)
        except BaseException as error:  # handed to the test's thread
            result["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


# ---- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("setting", "text", "command"), [
    (BATCH_SIZE, " 128 ", SetBatchSize(128)),
    (LEARNING_RATE, "1e-2", SetLearningRate(0.01)),
    (CACHE_SIZE, "4", SetCacheSize(4)),
    (LR_DECAY, "0.9", SetLrDecay(0.9)),
    (HIDDEN_SIZE, "256", Reset(hidden=(256,))),
    (HIDDEN_SIZE, " 256, 128 ", Reset(hidden=(256, 128))),
    (AUGMENT, "on", SetAugment(True)),
    (AUGMENT, " OFF ", SetAugment(False)),
])
def test_valid_settings_become_commands(setting: Tunable, text: str, command: Command) -> None:
    assert setting_command_from_text(setting, text) == command


@pytest.mark.parametrize(("setting", "text", "says"), [
    (BATCH_SIZE, "0", "refused"),
    (BATCH_SIZE, "-3", "refused"),
    (BATCH_SIZE, "99999999", "refused"),
    (BATCH_SIZE, "12.5", "not a whole number"),
    (BATCH_SIZE, "NaN", "not a whole number"),
    (BATCH_SIZE, "", "enter a number"),
    (LEARNING_RATE, "NaN", "refused"),
    (LEARNING_RATE, "inf", "refused"),
    (LEARNING_RATE, "0", "refused"),
    (LEARNING_RATE, "-0.1", "refused"),
    (LEARNING_RATE, "1e9", "refused"),
    (LEARNING_RATE, "fast", "not a number"),
    (CACHE_SIZE, "0", "refused"),
    (CACHE_SIZE, "100000", "refused"),
    (HIDDEN_SIZE, "0", "1 to 4096 units"),
    (HIDDEN_SIZE, "256,,128", "not a list of layer widths"),
    (HIDDEN_SIZE, "256 128", "'256 128' is not a layer"),
    (HIDDEN_SIZE, "128,c16:5", "convolutions and pooling come first"),
    (HIDDEN_SIZE, "1,1,1,1,1,1,1,1,1", "1 to 8 hidden layers"),
    (AUGMENT, "yes", "not on or off"),
    (LR_DECAY, "1.5", "refused"),
])
def test_invalid_settings_are_refused_naming_the_setting(setting, text, says) -> None:
    with pytest.raises(SettingError) as caught:
        setting_command_from_text(setting, text)
    assert setting.label in str(caught.value)
    assert says in str(caught.value)


# ---- test digits ------------------------------------------------------------------------------------


def _data_folder(blocks: int = 2, count: int = 3) -> dict[str, bytes]:
    rng = np.random.default_rng(1)
    files: dict[str, bytes] = {}
    test = []
    for b in range(blocks):
        raw = encode_block(rng.integers(0, 256, (count, 784), dtype=np.uint8), np.arange(count, dtype=np.uint8) + b)
        name = f"test-{b:03d}.bin"
        files[name] = raw
        test.append(BlockEntry(name, count, hashlib.sha256(raw).hexdigest()))
    files["manifest.json"] = Manifest(28, 28, tuple(test[:1]), tuple(test)).to_json()
    return files


def test_test_digits_come_in_order_across_blocks_and_wrap_around() -> None:
    files = _data_folder()
    fetched: list[str] = []

    async def fetch(path: str) -> bytes:
        fetched.append(path)
        return files[path]

    async def take(n: int) -> list:
        digits = TestDigits(fetch)
        return [await digits.next() for _ in range(n)]

    samples = run(take(7))
    assert [s.index for s in samples] == [0, 1, 2, 3, 4, 5, 0]
    assert [s.label for s in samples] == [0, 1, 2, 1, 2, 3, 0]
    assert samples[0].pixels.dtype == np.float32 and samples[0].pixels.shape == (784,)
    assert 0.0 <= samples[0].pixels.min() and samples[0].pixels.max() <= 1.0
    assert fetched == ["manifest.json", "test-000.bin", "test-001.bin"]  # each block fetched once


def test_a_corrupt_test_block_is_a_data_error() -> None:
    files = _data_folder()
    files["test-000.bin"] = files["test-000.bin"][:-1] + b"\x09"

    async def fetch(path: str) -> bytes:
        return files[path]

    with pytest.raises(DataError):
        run(TestDigits(fetch).next())


# ---- predictions -------------------------------------------------------------------------------------


def test_predictor_follows_the_newest_weights() -> None:
    predictor = Predictor()
    assert not predictor.ready
    model = MLP(seed=3)
    predictor.set_weights(model.get_weights())
    x = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    np.testing.assert_allclose(predictor.proba(x), model.predict_proba(x), rtol=1e-6)
    assert predictor.version == 1
    with pytest.raises(WeightsError):
        predictor.set_weights({"W1": np.zeros((784, 4), np.float32)})
    assert predictor.version == 1  # the old weights stay
    np.testing.assert_allclose(predictor.proba(x), model.predict_proba(x), rtol=1e-6)


def test_predictor_takes_decoded_signal_weights_of_any_hidden_size() -> None:
    predictor = Predictor()
    x = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    for sizes in ((784, 32, 10), (784, 32, 10), (784, 16, 10)):
        model = MLP(sizes, seed=predictor.version)
        signal = decode_signal(_signal(hidden=list(sizes[1:-1]), weights={
            name: {"shape": list(a.shape), "data": a.reshape(-1)} for name, a in model.get_weights().items()}))
        predictor.use_signal_weights(signal.weights, signal.hidden)
        assert predictor.hidden == sizes[1:-1]
        np.testing.assert_allclose(predictor.proba(x), model.predict_proba(x), rtol=1e-6)
    convnet = ConvNet(("c4:5", "p2", 16), seed=1)
    signal = decode_signal(_signal(hidden=["c4:5", "p2", 16], weights={
        name: {"shape": list(a.shape), "data": a.reshape(-1)} for name, a in convnet.get_weights().items()}))
    predictor.use_signal_weights(signal.weights, signal.hidden)
    assert predictor.hidden == ("c4:5", "p2", 16)
    np.testing.assert_allclose(predictor.proba(x), convnet.predict_proba(x), rtol=1e-5)
    tiles, side = predictor.first_layer()
    assert (tiles.shape, side) == ((25, 4), 5)  # the weights view shows each filter as a 5x5 picture
    assert predictor.version == 4


def test_top_k_orders_digits_by_probability() -> None:
    probs = np.array([0.05, 0.6, 0.0, 0.3, 0.05, 0, 0, 0, 0, 0], np.float32)
    assert [d for d, _ in top_k(probs, 3)] == [1, 3, 0]
    assert top_k(probs, 1)[0][1] == pytest.approx(0.6)


def test_weights_that_do_not_fit_the_page_network_are_explained() -> None:
    good = MLP((784, 32, 10)).get_weights()
    assert weights_problem(good) is None
    assert architecture(NetworkWeights(good, None)) == "784-32-10"
    assert architecture(NetworkWeights(ConvNet(("c4:5", "p2", 16)).get_weights(), ("c4:5", "p2", 16))) == (
        "784-c4:5-p2-16-10")
    deep = MLP((784, 16, 8, 10)).get_weights()
    assert weights_problem(deep) is None and architecture(NetworkWeights(deep, None)) == "784-16-8-10"
    assert "784 inputs" in weights_problem(MLP((100, 16, 10)).get_weights())
    assert "1 to 8 hidden layers" in weights_problem(MLP((784, *[4] * 9, 10)).get_weights())
    assert "W2 has 8 rows" in weights_problem({**good, "W2": np.zeros((8, 10), np.float32)})
# ---- stats and charts ------------------------------------------------------------------------------------


def _signal(**overrides) -> dict:
    """A wire signal: every setting at the table's default, unless given below or in ``overrides``."""
    defaults = {t.field: list(t.default) if isinstance(t.default, tuple) else t.default for t in TUNABLES}
    signal = {**defaults, "type": "signal", "seq": 3, "iteration": 120, "training": True, "loss": 0.31234, "acc": 0.921875,
              "batch_size": 64, "lrate": 0.1, "lr_decay": 1.0, "optimizer": "sgd", "hidden": [128], "data_len": 7,
              "data_futures_len": 1, "cache_size": 8, "samples_per_s": 5843.7, "cache_waits": 2,
              "data_errors": 0, "test_acc": None, "samples_seen": 7680, "epoch": 0, "waiting_for_data": False, "engine": "wasm simd128", "seed": 0, "augment": False, "reply_to": None,
              "workers_training": 1, "barrier_ms": 0.0, "workers_note": "",
              "weights": None}
    return {**signal, **overrides}


def test_stats_are_plain_numbers() -> None:
    texts = stat_texts(decode_signal(_signal()))
    assert texts["stat-iteration"] == "120"
    assert texts["stat-loss"] == "0.3123"
    assert texts["stat-acc"] == "92.2%"
    assert texts["stat-test-acc"] == "–"
    assert texts["stat-samples-per-s"] == "5844"
    assert texts["stat-lrate"] == "0.1"
    assert texts["stat-data-len"] == "7" and texts["stat-data-futures-len"] == "1"
    assert stat_texts(decode_signal(_signal(test_acc=0.97125)))["stat-test-acc"] == "97.12%"
    assert (texts["stat-workers-training"], texts["stat-barrier-ms"], texts["stat-workers-note"]) == ("1", "0.0", "–")
    shared = stat_texts(decode_signal(_signal(workers=2, workers_training=2, barrier_ms=1.26, workers_note="why")))
    assert (shared["stat-workers"], shared["stat-workers-training"], shared["stat-barrier-ms"]) == ("2", "2", "1.3")
    assert shared["stat-workers-note"] == "why"


def test_history_stays_bounded_and_keeps_the_whole_run() -> None:
    history = History(1, limit=8)
    for i in range(1, 101):
        history.add(i, float(i))
    assert len(history) <= 8
    assert history.series[0][0] == 1 and history.series[0][-1] == 100
    history.add(5, 1.0)  # iterations went back: a reset started a new run
    assert history.series[0] == [5]
    history.add(6, math.nan)
    assert history.series[1] == [1.0, None]
    assert history.present == [1]  # values, not gaps: what the chart reports as drawn


def test_history_counts_its_values_through_thinning_and_resets() -> None:
    history = History(2, limit=8)
    for i in range(1, 40):
        history.add(i, None if i % 3 == 0 else float(i), float(i) if i % 2 == 0 else math.inf)
        assert history.present == [sum(v is not None for v in column) for column in history.series[1:]]
    history.add(2, 1.0, 1.0)
    assert history.present == [1, 1]


def test_smoother_starts_at_the_first_value_and_skips_gaps() -> None:
    smoother = Smoother(0.5)
    assert smoother.update(None) is None
    assert smoother.update(2.0) == 2.0
    assert smoother.update(math.inf) == 2.0
    assert smoother.update(4.0) == 3.0


# ---- offline use ------------------------------------------------------------------------------------------


class _Node:
    def __init__(self) -> None:
        self.textContent = ""
        self.hidden = True
        self.listeners: dict[str, Any] = {}

    def addEventListener(self, kind: str, listener: Any) -> None:  # noqa: N802 (the DOM's name)
        self.listeners[kind] = listener


def test_the_offline_line_says_each_state_and_offers_the_update_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from inkling.page import offline

    monkeypatch.setattr(offline, "listen", lambda node, kind, handler: node.addEventListener(kind, handler))
    line, button, news, updates = _Node(), _Node(), [], []
    status = OfflineStatus(line, button, lambda kind, text: news.append((kind, text)), lambda: updates.append(1))
    status.show("saving")
    assert line.textContent == OFFLINE_TEXTS["saving"] and button.hidden
    status.show("failed", "HTTP 404")
    assert "(HTTP 404)" in line.textContent and "works online" in line.textContent
    status.show("update")
    status.show("update")  # said once, not at every report
    assert not button.hidden and news == [("info", offline.UPDATE_NEWS)]
    button.listeners["click"](None)
    assert updates == [1]
    status.show("ready")
    assert button.hidden and line.textContent.startswith("Kept in this browser")
    assert offline_text("unsupported", "") == "Offline use is not available here: no reason given."
    assert offline_text("strange") == "Offline use: strange"


# ---- the address --------------------------------------------------------------------------------------------


class _FakeHistory:
    def __init__(self, location: Any) -> None:
        self.location, self.writes = location, []

    def replaceState(self, _state: Any, _title: str, query: str) -> None:  # noqa: N802 (the DOM's name)
        self.writes.append(query)
        self.location.search = query


def test_the_address_follows_every_setting_but_a_rate_decaying_in_training_only_now_and_then(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from inkling.page import address as address_module
    from inkling.page.address import RATE_ONLY_EVERY_S, Address

    location = SimpleNamespace(search="", href="http://localhost/")
    history = _FakeHistory(location)
    monkeypatch.setitem(sys.modules, "js", SimpleNamespace(history=history, location=location))
    clock = [100.0]
    monkeypatch.setattr(address_module.time, "monotonic", lambda: clock[0])
    address = Address(lambda _c: 0, None, lambda _s: None, lambda *_a: None, lambda *_a: None)
    address.follow_settings()

    address.show(decode_signal(_signal(lrate=0.1)))
    assert len(history.writes) == 1 and "learning-rate=0.1" in history.writes[-1]
    clock[0] += 1
    address.show(decode_signal(_signal(lrate=0.06)))  # the rate decayed while training: not yet
    address.show(decode_signal(_signal(lrate=0.06, batch_size=32)))  # another setting: at once, with the rate
    assert len(history.writes) == 2 and "batch-size=32" in history.writes[-1] and "learning-rate=0.06" in history.writes[-1]
    clock[0] += 1
    address.show(decode_signal(_signal(lrate=0.036, batch_size=32)))
    assert len(history.writes) == 2
    clock[0] += RATE_ONLY_EVERY_S
    address.show(decode_signal(_signal(lrate=0.0216, batch_size=32)))  # long enough: written
    assert len(history.writes) == 3 and "learning-rate=0.0216" in history.writes[-1]
    address.show(decode_signal(_signal(lrate=0.01, batch_size=32, training=False)))  # not training: at once
    assert len(history.writes) == 4 and "learning-rate=0.01" in history.writes[-1]


# ---- the autosave -----------------------------------------------------------------------------------------


def test_the_first_autosave_comes_at_once_even_right_after_the_page_started(monkeypatch: pytest.MonkeyPatch) -> None:
    from inkling.messages.saved_state import TrainingSettings, from_bytes
    from inkling.page import storage
    from inkling.page.storage import Autosave, Snapshot

    # In the browser time.monotonic counts from the page's start, and the page is ready in seconds.
    monkeypatch.setattr(storage.time, "monotonic", lambda: 1.0)
    monkeypatch.setattr(storage, "to_uint8array", bytes)

    class Bridge:
        def __init__(self) -> None:
            self.saved: list[bytes] = []

        async def save(self, _key: str, data: bytes) -> None:
            self.saved.append(data)

    bridge = Bridge()
    weights = MLP((784, 16, 10), 0).get_weights()
    autosave = Autosave(bridge, lambda *_: None, lambda _text: None)
    autosave.enabled = True

    async def train() -> None:
        autosave.consider(Snapshot(1, lambda: NetworkWeights(weights, None), True, TrainingSettings.from_mapping({}), iteration=5))
        await autosave.settled()
        autosave.consider(Snapshot(2, lambda: NetworkWeights(weights, None), True, TrainingSettings.from_mapping({}), iteration=9))
        await autosave.settled()

    run(train())
    assert len(bridge.saved) == 1  # the first at once, the next within the interval waits
    assert from_bytes(bridge.saved[0]).iteration == 5


@pytest.mark.parametrize("case", list(BAD_RECORDS))
def test_each_bad_stored_record_is_rejected_with_its_reason_and_the_page_starts_fresh(case: str) -> None:
    """What the page does with the record it finds at start-up (the browser drives two kinds end to end)."""
    from inkling.page.storage import Autosave

    data, reason = BAD_RECORDS[case]
    said: list[tuple[str, str]] = []
    autosave = Autosave(StoredRecord(data), lambda kind, text: said.append((kind, text)), lambda _text: None)
    assert run(autosave.restore()) is None
    assert len(said) == 1 and said[0][0] == "error", said
    assert "were rejected, so the page starts fresh" in said[0][1] and reason in said[0][1], said


def test_a_good_stored_record_is_restored_without_a_word() -> None:
    from inkling.page.storage import Autosave

    said: list[tuple[str, str]] = []
    restored = run(Autosave(StoredRecord(record_bytes()), lambda *message: said.append(message),
                            lambda _text: None).restore())
    assert restored is not None and restored.settings.batch_size == 40 and said == []


class StoredRecord:
    """A bridge whose storage holds one record (``load`` gives what JS gives: an object with ``to_bytes``)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def load(self, key: str) -> Any:
        return SimpleNamespace(to_bytes=lambda: self.data) if key == "state" else None


def test_a_lost_workers_last_signal_in_the_frame_that_reports_its_loss_is_not_followed() -> None:
    """The bridge batches a frame's messages: the dying worker's newest signal can ride with the news of
    its loss. Followed after the loss was handled, it would count as the new worker's and reset the
    page's counts (seen once under load: the iterations shown fell from 572 to 194 after a restart)."""
    from inkling.page.recovery import Continuity
    from inkling.page.worker_client import WorkerClient

    counts, followed = Continuity(), []
    recovering = [False]
    shown = decode_signal(_signal(iteration=572, samples_seen=27_456))

    def on_event(message: Any) -> None:
        if getattr(message, "type", "") == "worker_lost":
            recovering[0] = True
            counts.restarted(shown)

    client = WorkerClient(None, on_event, lambda signal: followed.append(counts.apply(signal)), pytest.fail)
    lost = {"type": "worker_lost", "reason": "it threw an uncaught error", "at": 1.0}
    batch = SimpleNamespace(events=[lost], signal=_signal(iteration=580), weights=None)
    assert client.frame(batch, follow=lambda: not recovering[0])
    assert followed == []  # the lost worker's last word, not the new worker's first
    recovering[0] = False  # the new worker holds the page's weights
    client.frame(SimpleNamespace(events=[], signal=_signal(iteration=3), weights=None), follow=lambda: True)
    assert [signal.iteration for signal in followed] == [575]  # the count goes on from what was shown
