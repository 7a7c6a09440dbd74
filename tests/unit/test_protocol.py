"""The wire protocol: every message round-trips, every invalid field is named, junk never crashes."""

from __future__ import annotations

import math
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inkling.errors import ProtocolError
from inkling.messages import protocol as p
from inkling.messages.tunables import DEFAULTS
from inkling.network.mlp import MLP

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = MLP((784, 16, 10), seed=0).get_weights()
PIXELS = np.linspace(0, 1, 784, dtype=np.float32)

COMMANDS = [
    p.Start(), p.Start(id=1), p.Start(epochs=1), p.Start(epochs=p.MAX_EPOCHS, id=3), p.Stop(id=2), p.Status(), p.Evaluate(id=p.MAX_ID),
    p.SetWeights(WEIGHTS, id=3), p.SetBatchSize(1), p.SetBatchSize(4096, id=4),
    p.SetLearningRate(1e-9), p.SetLearningRate(10.0), p.SetLrDecay(1.0), p.SetLrDecay(0.3),
    p.SetCacheSize(1), p.SetCacheSize(1024), p.SetOptimizer("sgd"), p.SetOptimizer("momentum"),
    p.SetOptimizer("adam"), p.Reset(), p.Reset(hidden=(512,)), p.Reset(seed=0), p.Reset(hidden=(1,), seed=2**32 - 1),
    p.Reset(hidden=(256, 128, 4096)), p.SetAugment(True), p.SetAugment(False, id=5),
    p.TrainDrawing(PIXELS, 7, id=9),
    # Every setting's command at its default, so a setting added to the table is covered too.
    *(cls(DEFAULTS[field]) for field, cls in p.SETTING_COMMANDS.items()),
]


def _same(a: Any, b: Any) -> bool:
    """Dataclass equality that compares arrays by value (and dtype)."""
    if type(a) is not type(b):
        return False
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, dict) and x and isinstance(next(iter(x.values())), np.ndarray):
            if x.keys() != y.keys() or not all(np.array_equal(x[k], y[k]) and y[k].dtype == np.float32 for k in x):
                return False
        elif isinstance(x, np.ndarray):
            if not (np.array_equal(x, y) and y.dtype == np.float32):
                return False
        elif x != y:
            return False
    return True


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: f"{c.type}")
def test_every_command_round_trips(command: p.Command) -> None:
    wire = p.encode_command(command)
    assert wire["type"] == command.type
    assert all(isinstance(k, str) for k in wire)
    assert _same(p.decode_command(wire), command)


def test_hidden_layers_travel_as_a_list_and_one_layer_may_be_its_width_alone() -> None:
    assert p.encode_command(p.Reset(hidden=(256, 128)))["hidden"] == [256, 128]
    assert p.decode_command({"type": "reset", "hidden": 512}).hidden == (512,)
    assert p.decode_command({"type": "reset", "hidden": [256, 128]}).hidden == (256, 128)


def test_every_command_type_is_covered() -> None:
    assert {c.type for c in COMMANDS} == set(p.COMMAND_CLASSES)


def test_arrays_travel_as_flat_float32_buffers() -> None:
    wire = p.encode_command(p.SetWeights(WEIGHTS))
    w1 = wire["weights"]["W1"]
    assert w1["shape"] == [784, 16]
    assert isinstance(w1["data"], np.ndarray) and w1["data"].ndim == 1 and w1["data"].dtype == np.float32
    assert p.encode_command(p.TrainDrawing(PIXELS, 3))["pixels"].shape == (784,)


@pytest.mark.parametrize("form", ["ndarray", "memoryview", "bytes", "list", "float64 ndarray"])
def test_weight_data_may_come_in_every_form_to_py_gives(form: str) -> None:
    data = WEIGHTS["b1"]
    value = {"ndarray": data, "memoryview": memoryview(data), "bytes": data.tobytes(), "list": data.tolist(),
             "float64 ndarray": data.astype(np.float64)}[form]
    command = p.decode_command({"type": "set_weights", "weights": {"b1": {"shape": [16], "data": value}}})
    assert isinstance(command, p.SetWeights)
    assert np.array_equal(command.weights["b1"], data) and command.weights["b1"].dtype == np.float32


def _signal(**changes: Any) -> p.ResponseSignal:
    values = dict(seq=5, iteration=100, training=True, loss=0.25, acc=0.9375, batch_size=64, lrate=0.1,
                  lr_decay=0.3, optimizer="momentum", hidden=(16,), data_len=7, data_futures_len=1, cache_size=8,
                  samples_per_s=5123.5, cache_waits=2, data_errors=1, test_acc=0.97, samples_seen=6400,
                  epoch=0.1067, reply_to=3, weights=WEIGHTS)
    values.update(changes)
    return p.ResponseSignal(**values)


SIGNALS = [
    _signal(), _signal(weights=None, loss=None, acc=None, test_acc=None, reply_to=None, training=False),
    _signal(waiting_for_data=True),
    p.ErrorSignal(seq=1, kind="protocol", message="lrate: must be finite", field="lrate", command="set_learning_rate",
                  reply_to=4),
    p.ErrorSignal(seq=2, kind="divergence", message="loss became nan"),
    p.ProgressSignal(stage="numpy", detail="loading"), p.ReadySignal(),
    p.StartFailed("worker start-up failed at stage 'numpy': no numpy", stage="numpy"),
    p.StartFailed("the training worker failed to load"),
    p.WorkerLost("it stopped running (terminated or crashed)", at=1234.5),
    p.OfflineState("ready"), p.OfflineState("unsupported", detail="no service workers"),
]


@pytest.mark.parametrize("signal", SIGNALS, ids=lambda s: s.type)
def test_every_signal_round_trips(signal: p.Signal) -> None:
    wire = p.encode_signal(signal)
    assert wire["type"] == signal.type
    assert _same(p.decode_signal(wire), signal)


def test_signal_weights_decode_from_memoryviews_without_json() -> None:
    wire = p.encode_signal(_signal())
    for item in wire["weights"].values():
        assert isinstance(item["data"], np.ndarray) and item["data"].ndim == 1
        item["data"] = memoryview(item["data"])  # what to_py() gives for a Float32Array
    decoded = p.decode_signal(wire)
    assert isinstance(decoded, p.ResponseSignal) and decoded.weights is not None
    assert decoded.weights["W1"].shape == (784, 16)


def test_the_response_signal_has_the_fields_the_design_names() -> None:
    wire = p.encode_signal(_signal())
    assert set(wire) >= {"weights", "loss", "acc", "batch_size", "lrate", "data_len", "data_futures_len",
                         "iteration", "cache_size", "training", "samples_per_s", "cache_waits", "seq", "test_acc",
                         "reply_to", "optimizer", "hidden", "data_errors", "samples_seen", "epoch",
                         "waiting_for_data", "engine"}


# ---- invalid commands: (wire dict, field the error must name) ------------------------------------

NAN, INF = math.nan, math.inf
INVALID: list[tuple[str, Any, str]] = [
    # not a command at all
    ("list", [], "command"), ("string", "start", "command"), ("none", None, "command"), ("int", 3, "command"),
    ("no type", {}, "type"), ("type not str", {"type": 1}, "type"), ("unknown type", {"type": "explode"}, "type"),
    ("type list", {"type": ["start"]}, "type"), ("type case", {"type": "START"}, "type"),
    # extra and missing
    ("extra", {"type": "start", "force": True}, "force"),
    ("extra non-str key", {"type": "stop", 1: 2}, "1"),
    ("extra empty key", {"type": "stop", "": 2}, "''"),
    ("field on status", {"type": "status", "batch_size": 3}, "batch_size"),
    ("missing batch", {"type": "set_batch_size"}, "batch_size"),
    ("missing lrate", {"type": "set_learning_rate"}, "lrate"),
    ("missing cache", {"type": "set_cache_size"}, "cache_size"),
    ("missing optimizer", {"type": "set_optimizer"}, "optimizer"),
    ("missing decay", {"type": "set_lr_decay"}, "lr_decay"),
    ("missing weights", {"type": "set_weights"}, "weights"),
    ("missing label", {"type": "train_drawing", "pixels": PIXELS}, "label"),
    ("missing pixels", {"type": "train_drawing", "label": 1}, "pixels"),
    ("typo", {"type": "set_batch_size", "batchsize": 3}, "batchsize"),
    # id
    ("id bool", {"type": "start", "id": True}, "id"), ("id negative", {"type": "start", "id": -1}, "id"),
    ("id float", {"type": "start", "id": 1.0}, "id"), ("id huge", {"type": "start", "id": 2**53}, "id"),
    ("id str", {"type": "start", "id": "1"}, "id"),
    # batch size
    ("batch bool", {"type": "set_batch_size", "batch_size": True}, "batch_size"),
    ("batch np bool", {"type": "set_batch_size", "batch_size": np.bool_(True)}, "batch_size"),
    ("batch float", {"type": "set_batch_size", "batch_size": 64.0}, "batch_size"),
    ("batch str", {"type": "set_batch_size", "batch_size": "64"}, "batch_size"),
    ("batch none", {"type": "set_batch_size", "batch_size": None}, "batch_size"),
    ("batch zero", {"type": "set_batch_size", "batch_size": 0}, "batch_size"),
    ("batch negative", {"type": "set_batch_size", "batch_size": -64}, "batch_size"),
    ("batch huge", {"type": "set_batch_size", "batch_size": 4097}, "batch_size"),
    ("batch enormous", {"type": "set_batch_size", "batch_size": 10**100}, "batch_size"),
    ("batch nan", {"type": "set_batch_size", "batch_size": NAN}, "batch_size"),
    ("batch list", {"type": "set_batch_size", "batch_size": [64]}, "batch_size"),
    # learning rate
    ("lr nan", {"type": "set_learning_rate", "lrate": NAN}, "lrate"),
    ("lr inf", {"type": "set_learning_rate", "lrate": INF}, "lrate"),
    ("lr -inf", {"type": "set_learning_rate", "lrate": -INF}, "lrate"),
    ("lr np nan", {"type": "set_learning_rate", "lrate": np.float32("nan")}, "lrate"),
    ("lr zero", {"type": "set_learning_rate", "lrate": 0.0}, "lrate"),
    ("lr negative", {"type": "set_learning_rate", "lrate": -0.1}, "lrate"),
    ("lr huge", {"type": "set_learning_rate", "lrate": 10.5}, "lrate"),
    ("lr enormous int", {"type": "set_learning_rate", "lrate": 10**400}, "lrate"),
    ("lr bool", {"type": "set_learning_rate", "lrate": True}, "lrate"),
    ("lr str", {"type": "set_learning_rate", "lrate": "0.1"}, "lrate"),
    ("lr none", {"type": "set_learning_rate", "lrate": None}, "lrate"),
    ("lr complex", {"type": "set_learning_rate", "lrate": 1j}, "lrate"),
    # lr decay
    ("decay zero", {"type": "set_lr_decay", "lr_decay": 0}, "lr_decay"),
    ("decay above one", {"type": "set_lr_decay", "lr_decay": 1.5}, "lr_decay"),
    ("decay nan", {"type": "set_lr_decay", "lr_decay": NAN}, "lr_decay"),
    ("decay bool", {"type": "set_lr_decay", "lr_decay": False}, "lr_decay"),
    # cache size
    ("cache zero", {"type": "set_cache_size", "cache_size": 0}, "cache_size"),
    ("cache negative", {"type": "set_cache_size", "cache_size": -1}, "cache_size"),
    ("cache huge", {"type": "set_cache_size", "cache_size": 1025}, "cache_size"),
    ("cache float", {"type": "set_cache_size", "cache_size": 8.5}, "cache_size"),
    ("cache inf", {"type": "set_cache_size", "cache_size": INF}, "cache_size"),
    ("cache bool", {"type": "set_cache_size", "cache_size": False}, "cache_size"),
    # optimizer
    ("optimizer unknown", {"type": "set_optimizer", "optimizer": "rmsprop"}, "optimizer"),
    ("optimizer case", {"type": "set_optimizer", "optimizer": "Adam"}, "optimizer"),
    ("optimizer int", {"type": "set_optimizer", "optimizer": 1}, "optimizer"),
    # reset
    ("hidden zero", {"type": "reset", "hidden": 0}, "hidden"),
    ("hidden huge", {"type": "reset", "hidden": 4097}, "hidden"),
    ("hidden bool", {"type": "reset", "hidden": True}, "hidden"),
    ("hidden float", {"type": "reset", "hidden": 128.0}, "hidden"),
    ("hidden empty", {"type": "reset", "hidden": []}, "hidden"),
    ("hidden a zero layer", {"type": "reset", "hidden": [256, 0]}, "hidden"),
    ("hidden too deep", {"type": "reset", "hidden": [16] * 9}, "hidden"),
    ("hidden text", {"type": "reset", "hidden": "256,128"}, "hidden"),
    ("hidden list of floats", {"type": "reset", "hidden": [256.0]}, "hidden"),
    ("augment not a bool", {"type": "set_augment", "augment": 1}, "augment"),
    ("augment missing", {"type": "set_augment"}, "augment"),
    ("epochs zero", {"type": "start", "epochs": 0}, "epochs"),
    ("epochs huge", {"type": "start", "epochs": 1001}, "epochs"),
    ("epochs fraction", {"type": "start", "epochs": 0.5}, "epochs"),
    ("seed negative", {"type": "reset", "seed": -1}, "seed"),
    ("seed huge", {"type": "reset", "seed": 2**32}, "seed"),
    ("seed nan", {"type": "reset", "seed": NAN}, "seed"),
    # train_drawing
    ("label 10", {"type": "train_drawing", "pixels": PIXELS, "label": 10}, "label"),
    ("label negative", {"type": "train_drawing", "pixels": PIXELS, "label": -1}, "label"),
    ("label bool", {"type": "train_drawing", "pixels": PIXELS, "label": True}, "label"),
    ("label float", {"type": "train_drawing", "pixels": PIXELS, "label": 3.0}, "label"),
    ("pixels short", {"type": "train_drawing", "pixels": PIXELS[:783], "label": 1}, "pixels"),
    ("pixels 2-D", {"type": "train_drawing", "pixels": PIXELS.reshape(28, 28), "label": 1}, "pixels"),
    ("pixels nan", {"type": "train_drawing", "pixels": np.where(PIXELS > 0.5, np.nan, PIXELS), "label": 1}, "pixels"),
    ("pixels inf", {"type": "train_drawing", "pixels": np.where(PIXELS > 0.5, np.inf, PIXELS), "label": 1}, "pixels"),
    ("pixels above 1", {"type": "train_drawing", "pixels": PIXELS * 255, "label": 1}, "pixels"),
    ("pixels negative", {"type": "train_drawing", "pixels": PIXELS - 1, "label": 1}, "pixels"),
    ("pixels str", {"type": "train_drawing", "pixels": "0" * 784, "label": 1}, "pixels"),
    ("pixels bools", {"type": "train_drawing", "pixels": [True] * 784, "label": 1}, "pixels"),
    ("pixels object", {"type": "train_drawing", "pixels": np.array([None] * 784), "label": 1}, "pixels"),
    ("pixels bool array", {"type": "train_drawing", "pixels": np.ones(784, bool), "label": 1}, "pixels"),
    ("pixels odd bytes", {"type": "train_drawing", "pixels": b"\0" * 3135, "label": 1}, "pixels"),
    ("pixels none", {"type": "train_drawing", "pixels": None, "label": 1}, "pixels"),
    # set_weights
    ("weights list", {"type": "set_weights", "weights": []}, "weights"),
    ("weights empty", {"type": "set_weights", "weights": {}}, "weights"),
    ("weights bad name", {"type": "set_weights", "weights": {"W0": {"shape": [1, 1], "data": [0.0]}}}, "weights.W0"),
    ("weights not dict", {"type": "set_weights", "weights": {"W1": [0.0]}}, "weights.W1"),
    ("weights no shape", {"type": "set_weights", "weights": {"b1": {"data": [0.0]}}}, "weights.b1.shape"),
    ("weights no data", {"type": "set_weights", "weights": {"b1": {"shape": [1]}}}, "weights.b1.data"),
    ("weights extra key", {"type": "set_weights", "weights": {"b1": {"shape": [1], "data": [0.0], "x": 1}}},
     "weights.b1.x"),
    ("weights shape ndim", {"type": "set_weights", "weights": {"W1": {"shape": [2], "data": [0.0, 1.0]}}},
     "weights.W1.shape"),
    ("weights shape zero", {"type": "set_weights", "weights": {"b1": {"shape": [0], "data": []}}}, "weights.b1.shape"),
    ("weights shape bool", {"type": "set_weights", "weights": {"b1": {"shape": [True], "data": [0.0]}}},
     "weights.b1.shape"),
    ("weights shape huge", {"type": "set_weights", "weights": {"W1": {"shape": [10**6, 10**6], "data": []}}},
     "weights.W1.shape"),
    ("weights size mismatch", {"type": "set_weights", "weights": {"b1": {"shape": [3], "data": [0.0, 1.0]}}},
     "weights.b1.data"),
    ("weights nan", {"type": "set_weights", "weights": {"b1": {"shape": [2], "data": [0.0, NAN]}}}, "weights.b1.data"),
    ("weights inf", {"type": "set_weights", "weights": {"b1": {"shape": [1], "data": np.array([INF])}}},
     "weights.b1.data"),
    ("weights too big for f32", {"type": "set_weights", "weights": {"b1": {"shape": [1], "data": [1e300]}}},
     "weights.b1.data"),
    ("weights str data", {"type": "set_weights", "weights": {"b1": {"shape": [1], "data": "1"}}}, "weights.b1.data"),
    ("weights 2-D data", {"type": "set_weights", "weights": {"b1": {"shape": [4], "data": np.zeros((2, 2))}}},
     "weights.b1.data"),
    ("weights complex", {"type": "set_weights", "weights": {"b1": {"shape": [1], "data": np.ones(1, complex)}}},
     "weights.b1.data"),
    ("weights too many values", {"type": "set_weights", "weights": {
        f"W{i}": {"shape": [4096, 4096], "data": np.zeros(4096 * 4096, np.float32)} for i in (1, 2)}}, "weights"),
]


@pytest.mark.parametrize("raw, field", [(raw, field) for _, raw, field in INVALID], ids=[n for n, _, _ in INVALID])
def test_invalid_commands_are_rejected_naming_the_field(raw: Any, field: str) -> None:
    with pytest.raises(ProtocolError) as info:
        p.decode_command(raw)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ") and len(info.value.reason) > 5


@pytest.mark.parametrize(
    "raw, field",
    [
        ({"type": "signal"}, "seq"),
        ({**p.encode_signal(_signal()), "loss": NAN}, "loss"),
        ({**p.encode_signal(_signal()), "training": 1}, "training"),
        ({**p.encode_signal(_signal()), "seq": -1}, "seq"),
        ({**p.encode_signal(_signal()), "extra": 1}, "extra"),
        ({**p.encode_signal(_signal()), "acc": 1.5}, "acc"),
        ({**p.encode_signal(_signal()), "optimizer": "lbfgs"}, "optimizer"),
        ({**p.encode_signal(_signal()), "weights": {"W1": {"shape": [784, 16], "data": b"\0" * 8}}}, "weights.W1.data"),
        ({"type": "error", "seq": 1, "kind": "oops", "message": "x", "field": None, "command": None, "reply_to": None},
         "kind"),
        ({"type": "progress", "stage": 3, "detail": ""}, "stage"),
        ({"type": "hello"}, "type"),
        ("signal", "signal"),
    ],
)
def test_invalid_signals_are_rejected_naming_the_field(raw: Any, field: str) -> None:
    with pytest.raises(ProtocolError) as info:
        p.decode_signal(raw)
    assert info.value.field == field


# ---- junk never raises anything but ProtocolError -------------------------------------------

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.binary(max_size=16), st.sampled_from(list(p.COMMAND_CLASSES) + ["id", "type", "weights", "shape", "data"]),
)
# Shapes the browser fuzz sends that plain JSON-like junk misses: what to_py leaves behind for a
# Date/Blob (an opaque object), sets, deep nesting, huge ints, NaN/-0 and non-float buffers.
_odd = st.one_of(
    st.builds(object), st.sets(st.integers(), max_size=3), st.frozensets(st.text(max_size=3), max_size=3),
    st.integers(min_value=-(10**400), max_value=10**400), st.sampled_from([-0.0, math.nan, -math.inf, 2.0**53]),
    st.integers(0, 900).map(lambda depth: _nested(depth)), st.just(p.UnreadableMessage("RangeError")),
    st.binary(max_size=64).map(memoryview), st.lists(st.integers(-3, 3), max_size=8).map(
        lambda xs: memoryview(np.array(xs, dtype=np.int64))),
    st.builds(lambda: memoryview(np.zeros((2, 2), np.float32))), st.complex_numbers(max_magnitude=10),
)


def _nested(depth: int) -> Any:
    value: Any = 1
    for i in range(depth):
        value = [value] if i % 2 else {"type": value}
    return value


_junk = st.recursive(
    st.one_of(_scalars, _odd),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(["type", "id", "shape", "data", "W1", "b1"])),
                        inner, max_size=4),
    ),
    max_leaves=12,
)
_field_names = st.sampled_from(["id", "batch_size", "lrate", "lr_decay", "cache_size", "optimizer", "hidden", "seed",
                                "pixels", "label", "weights", "extra"])
_plausible = st.builds(
    lambda kind, extra: {"type": kind, **extra},
    st.sampled_from(list(p.COMMAND_CLASSES)),
    st.dictionaries(_field_names, _junk, max_size=3),
)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_junk, _plausible))
def test_decode_command_raises_only_protocol_errors(raw: Any) -> None:
    try:
        command = p.decode_command(raw)
    except ProtocolError as exc:
        assert isinstance(exc.field, str) and exc.field
    else:
        # What decodes must encode and decode to the same thing.
        assert _same(p.decode_command(p.encode_command(command)), command)


@settings(max_examples=150, deadline=None, database=None)
@given(st.one_of(_junk, st.builds(lambda kind, extra: {"type": kind, **extra},
                                  st.sampled_from(["signal", "error", "progress", "ready"]),
                                  st.dictionaries(st.text(max_size=10), _junk, max_size=4))))
def test_decode_signal_raises_only_protocol_errors(raw: Any) -> None:
    try:
        p.decode_signal(raw)
    except ProtocolError:
        pass


def test_an_unreadable_message_is_refused_with_its_reason() -> None:
    with pytest.raises(ProtocolError) as info:
        p.decode_command(p.UnreadableMessage("RangeError: Maximum call stack size exceeded"))
    assert info.value.field == "command" and "Maximum call stack" in str(info.value)


class _Unprintable:
    """Like a JS object whose own ``toString`` is not a function: printing it throws."""

    def __repr__(self) -> str:
        raise TypeError("Cannot convert object to primitive value")


@pytest.mark.parametrize("raw, field", [
    (_Unprintable(), "command"), ({"type": _Unprintable()}, "type"),
    ({"type": "set_batch_size", "batch_size": _Unprintable()}, "batch_size"),
])
def test_a_value_that_cannot_be_printed_is_still_refused_by_name(raw: Any, field: str) -> None:
    with pytest.raises(ProtocolError) as info:
        p.decode_command(raw)
    assert info.value.field == field and "cannot be shown" in str(info.value)


def _js_message_types() -> set[str]:
    """Every message type the JS glue builds or tests for: ``type: "x"`` and ``.type === "x"``."""
    found = set()
    for path in [*ROOT.joinpath("web").glob("*.js"), *ROOT.joinpath("workers").glob("*.js")]:
        text = path.read_text()
        found |= set(re.findall(r"\btype:\s*\"([a-z_]+)\"", text))
        found |= set(re.findall(r"\.type\s*===\s*\"([a-z_]+)\"", text))
    return found - {"module"}  # new Worker(url, {type: "module"}) is not a message


def test_every_message_the_js_glue_makes_or_reads_is_in_the_protocol() -> None:
    known = set(p.COMMAND_CLASSES) | set(p.SIGNAL_CLASSES) | set(p.GLUE_ONLY)
    used = _js_message_types()
    assert used - known == set()
    assert set(p.GLUE_ONLY) <= used  # and the glue's own types are really used
    assert {"start_failed", "worker_lost", "offline", "status"} <= used


def test_the_glue_events_are_checked_like_any_signal() -> None:
    with pytest.raises(ProtocolError) as info:
        p.decode_signal({"type": "offline", "state": "sleeping", "detail": ""})
    assert info.value.field == "state"
    with pytest.raises(ProtocolError) as info:
        p.decode_signal({"type": "error", "seq": None, "kind": "internal", "message": "x", "field": None,
                         "command": None, "reply_to": None})
    assert info.value.field == "seq"  # an error always carries a real number (the glue sends start_failed)


def test_the_page_has_words_for_every_offline_state() -> None:
    from inkling.page.offline import OFFLINE_TEXTS

    assert set(OFFLINE_TEXTS) == set(p.OFFLINE_STATES)
