"""The browser's saved record: a round trip keeps everything, and every kind of damage is a clear error."""
from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import replace

import numpy as np
import pytest

from inkling.errors import InklingError, SavedStateError
from inkling.messages import protocol as p
from inkling.messages.curve import MAX_POINTS, Curve
from inkling.messages.saved_state import (FORMAT_VERSION, MAGIC, SavedState, TrainingSettings, from_bytes,
                                          from_legacy_npz, to_bytes)
from inkling.messages.tunables import DEFAULTS, KEPT
from inkling.network.mlp import MLP
from inkling.network.weights_io import weights_to_npz

SETTINGS = TrainingSettings(batch_size=48, lrate=0.0625, lr_decay=0.9, optimizer="momentum", cache_size=6)
CURVE = Curve((1, 2, 1234), (2.3, 1.1, 0.25), (2.3, 2.18, 0.5), (10.0, 15.5, 91.0), (None, None, 96.87))
PREFIX = len(MAGIC) + 6


def weights(hidden: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    return MLP((784, hidden, 10), seed=seed).get_weights()


def record(**changes) -> bytes:
    fields = dict(weights=weights(), settings=SETTINGS, saved_at=1_700_000_000.5, iteration=1234,
                  samples_seen=59_232, epoch=0.9872, curve=CURVE)
    fields.update(changes)
    return to_bytes(SavedState(**fields))


def split(data: bytes) -> tuple[int, dict, bytes]:
    version, header_len = struct.unpack_from(">HI", data, len(MAGIC))
    header = json.loads(data[PREFIX:PREFIX + header_len])
    return version, header, data[PREFIX + header_len:]


def join(header: dict, weights_data: bytes, version: int = FORMAT_VERSION) -> bytes:
    raw = json.dumps(header).encode()
    return MAGIC + struct.pack(">HI", version, len(raw)) + raw + weights_data


def test_a_round_trip_keeps_weights_settings_and_progress_exactly() -> None:
    original = weights(hidden=32, seed=3)
    state = from_bytes(record(weights=original))
    assert state.settings == SETTINGS
    assert (state.saved_at, state.iteration, state.samples_seen, state.epoch) == (1_700_000_000.5, 1234, 59_232, 0.9872)
    assert state.curve == CURVE
    assert list(state.weights) == ["W1", "b1", "W2", "b2"]
    for name, array in original.items():
        assert state.weights[name].dtype == np.float32
        np.testing.assert_array_equal(state.weights[name], array)


def test_the_settings_become_the_commands_a_fresh_worker_needs() -> None:
    commands = SETTINGS.commands()
    assert commands[0] == p.SetOptimizer("momentum")  # first: choosing one resets the learning rate
    assert [c.type for c in commands] == [t.command for t in KEPT]  # one per kept live setting
    assert all(getattr(c, t.field) == getattr(SETTINGS, t.field) for c, t in zip(commands, KEPT))
    assert p.SetBatchSize(48) in commands and p.SetLearningRate(0.0625) in commands


def test_a_record_of_the_previous_release_reads_as_weights_without_settings() -> None:
    original = weights()
    state = from_legacy_npz(weights_to_npz(original))
    assert state.settings is None
    np.testing.assert_array_equal(state.weights["W1"], original["W1"])
    with pytest.raises(SavedStateError, match="unusable"):
        from_legacy_npz(b"PK\x03\x04 not really a zip")


def test_another_format_version_names_both_versions() -> None:
    _, header, weights_data = split(record())
    with pytest.raises(SavedStateError, match=r"format version 7; this version of Inkling reads version 1, 2, 3") as info:
        from_bytes(join(header, weights_data, version=7))
    assert info.value.version == 7


@pytest.mark.parametrize("data, reason", [
    (b"", "not an Inkling saved state"),
    (b"PK\x03\x04rest of a zip", "not an Inkling saved state"),
    (b"\x80\x04\x95pickle", "not an Inkling saved state"),
    (MAGIC + b"\x00", "shorter than the 14-byte prefix"),
    (MAGIC + struct.pack(">HI", 1, 10_000) + b"{}", "header claims 10000 bytes"),
    (MAGIC + struct.pack(">HI", 1, 4) + b"\xff\xfe{}", "not UTF-8 JSON"),
    (MAGIC + struct.pack(">HI", 1, 2) + b"[]", "expected an object"),
    (MAGIC + struct.pack(">HI", 1, 2) + b"{}", "missing"),
])
def test_bytes_that_are_no_record_are_refused_with_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(SavedStateError, match=reason):
        from_bytes(data)


def test_not_bytes_at_all_is_refused() -> None:
    with pytest.raises(SavedStateError, match="expected the bytes"):
        from_bytes("a string")  # type: ignore[arg-type]


def test_every_truncation_is_refused_never_crashes() -> None:
    data = record()
    for cut in sorted({*range(0, 64), *range(64, len(data), 97), len(data) - 1}):
        with pytest.raises(SavedStateError):
            from_bytes(data[:cut])


def test_every_single_byte_flip_anywhere_is_refused() -> None:
    """The prefix and header are checked field by field, the weights by their sha256."""
    data = record(weights=weights(hidden=2))
    for pos in range(len(data)):
        damaged = bytearray(data)
        damaged[pos] ^= 0x5A
        with pytest.raises(SavedStateError):
            from_bytes(bytes(damaged))


def test_damaged_weights_are_caught_by_their_checksum() -> None:
    _, header, weights_data = split(record())
    damaged = bytearray(weights_data)
    damaged[len(damaged) // 2] ^= 1
    with pytest.raises(SavedStateError, match="sha256 does not match"):
        from_bytes(join(header, bytes(damaged)))


def test_valid_checksum_over_bad_weights_is_refused_by_the_weights_reader() -> None:
    _, header, _ = split(record())
    bad = b"PK\x03\x04" + b"\x00" * 40
    header.update(weights_bytes=len(bad), weights_sha256=hashlib.sha256(bad).hexdigest())
    with pytest.raises(SavedStateError, match="weights are unusable"):
        from_bytes(join(header, bad))


def test_nan_weights_are_refused() -> None:
    bad = weights()
    bad["W2"][0, 0] = np.nan
    _, header, _ = split(record())
    npz = _raw_npz(bad)
    header.update(weights_bytes=len(npz), weights_sha256=hashlib.sha256(npz).hexdigest())
    with pytest.raises(SavedStateError, match="weights are unusable"):
        from_bytes(join(header, npz))


def _raw_npz(arrays: dict[str, np.ndarray]) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize("change, reason", [
    ({"iteration": -1}, "iteration must be a whole number"),
    ({"iteration": 1.5}, "iteration must be a whole number"),
    ({"samples_seen": True}, "samples_seen must be a whole number"),
    ({"saved_at": "yesterday"}, "saved_at must be a number"),
    ({"epoch": -0.5}, "epoch must be a number"),
    ({"weights_sha256": 12}, "weights_sha256 must be 64 hex digits"),
    ({"weights_bytes": 3}, "the header says 3"),
    ({"extra": 1}, "unexpected \\['extra'\\]"),
])
def test_a_damaged_header_says_which_field(change: dict, reason: str) -> None:
    _, header, weights_data = split(record())
    header.update(change)
    with pytest.raises(SavedStateError, match=reason):
        from_bytes(join(header, weights_data))


def test_nan_in_the_header_is_refused() -> None:
    _, header, weights_data = split(record())
    raw = json.dumps(header).replace('"epoch": 0.9872', '"epoch": NaN').encode()
    data = MAGIC + struct.pack(">HI", 1, len(raw)) + raw + weights_data
    with pytest.raises(SavedStateError, match="NaN"):
        from_bytes(data)


@pytest.mark.parametrize("settings, reason", [
    ({"batch_size": 0}, "settings.batch_size"),
    ({"batch_size": 100_000}, "settings.batch_size"),
    ({"batch_size": "64"}, "settings.batch_size"),
    ({"lrate": 0.0}, "settings.lrate"),
    ({"lrate": 1e9}, "settings.lrate"),
    ({"lr_decay": 2.0}, "settings.lr_decay"),
    ({"optimizer": "rmsprop"}, "settings.optimizer"),
    ({"cache_size": 0}, "settings.cache_size"),
    ({"cache_size": None}, "settings.cache_size"),
])
def test_settings_the_worker_would_refuse_are_refused(settings: dict, reason: str) -> None:
    _, header, weights_data = split(record())
    header["settings"].update(settings)
    with pytest.raises(SavedStateError, match=reason):
        from_bytes(join(header, weights_data))


def test_settings_with_an_unknown_key_are_refused_and_a_missing_one_takes_its_default() -> None:
    _, header, weights_data = split(record())
    del header["settings"]["batch_size"]
    assert SETTINGS.batch_size != DEFAULTS["batch_size"]
    assert from_bytes(join(header, weights_data)).settings == replace(SETTINGS, batch_size=DEFAULTS["batch_size"])
    header["settings"]["momentum"] = 0.9
    with pytest.raises(SavedStateError, match=r"unexpected \['momentum'\]"):
        from_bytes(join(header, weights_data))
    header["settings"] = [1, 2]
    with pytest.raises(SavedStateError, match="settings: expected an object"):
        from_bytes(join(header, weights_data))


def test_saved_state_error_is_an_inkling_error() -> None:
    assert issubclass(SavedStateError, InklingError)


def test_a_state_without_settings_cannot_be_written() -> None:
    with pytest.raises(SavedStateError, match="needs its settings"):
        to_bytes(SavedState(weights(), None, 0.0))


# ---- the run's seed and augmentation (format version 3) ----------------------------------------------


def test_the_seed_and_augmentation_round_trip() -> None:
    augmented = TrainingSettings(batch_size=32, lrate=0.05, lr_decay=0.6, optimizer="momentum", cache_size=8,
                                 augment=True)
    state = from_bytes(record(settings=augmented, seed=2**32 - 1))
    assert (state.settings, state.seed) == (augmented, 2**32 - 1)
    assert from_bytes(record(seed=None)).seed is None


def test_a_version_2_record_reads_without_a_seed_and_without_augmentation() -> None:
    _, header, weights_data = split(record(seed=5))
    del header["seed"], header["settings"]["augment"]
    state = from_bytes(join(header, weights_data, version=2))
    assert (state.seed, state.settings, state.curve) == (None, SETTINGS, CURVE)
    assert state.settings.augment is False


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True, "7"])
def test_a_damaged_seed_is_refused(seed: object) -> None:
    _, header, weights_data = split(record())
    header["seed"] = seed
    with pytest.raises(SavedStateError, match="seed must be null or a whole number"):
        from_bytes(join(header, weights_data))


# ---- the charts' curve (format version 2) --------------------------------------------------------


def test_a_version_1_record_still_reads_with_an_empty_curve() -> None:
    _, header, weights_data = split(record())
    del header["curve"], header["seed"], header["settings"]["augment"]
    state = from_bytes(join(header, weights_data, version=1))
    assert (state.iteration, state.samples_seen, state.settings) == (1234, 59_232, SETTINGS)
    assert state.curve == Curve() and len(state.curve) == 0
    _, header, weights_data = split(record())  # a curve in a version 1 record is damage, not news
    del header["seed"], header["settings"]["augment"]
    with pytest.raises(SavedStateError, match=r"unexpected \['curve'\]"):
        from_bytes(join(header, weights_data, version=1))


def test_a_long_curve_is_thinned_over_the_whole_run_and_rounded() -> None:
    n = 5000
    long = Curve(tuple(range(1, n + 1)), tuple(1 / i for i in range(1, n + 1)), (0.5,) * n, (None,) * n,
                 tuple(90.123456789 if i % 1000 == 0 else None for i in range(1, n + 1)))
    state = from_bytes(record(curve=long))
    kept = state.curve.iteration
    assert len(kept) <= MAX_POINTS and kept[0] == 1 and kept[-1] == n
    assert max(b - a for a, b in zip(kept, kept[1:])) <= 2 * n / MAX_POINTS  # spread, not just the start
    assert state.curve.loss[-1] == pytest.approx(1 / n, rel=1e-5)
    assert all(v is None for v in state.curve.acc_smoothed)
    assert len(record(curve=long)) - len(record(curve=Curve())) < 16_000  # what it costs each autosave


@pytest.mark.parametrize("curve, reason", [
    ([], "curve: expected an object"),
    ({"iteration": []}, "curve: missing"),
    ({**CURVE.as_dict(), "loss": [1.0]}, "one equal length"),
    ({**CURVE.as_dict(), "iteration": [1, 1, 2]}, "increasing order"),
    ({**CURVE.as_dict(), "iteration": [0, 1, 2]}, "above 0"),
    ({**CURVE.as_dict(), "iteration": [1, 2.5, 3]}, "whole numbers"),
    ({**CURVE.as_dict(), "test_acc": [None, "high", 1]}, "test_acc must hold finite numbers or null"),
    ({**CURVE.as_dict(), "loss": [True, 1, 1]}, "loss must hold finite numbers"),
    ({name: list(range(1, MAX_POINTS + 2)) for name in CURVE.as_dict()}, f"at most {MAX_POINTS}"),
])
def test_a_damaged_curve_is_refused_saying_what(curve: object, reason: str) -> None:
    _, header, weights_data = split(record())
    header["curve"] = curve
    with pytest.raises(SavedStateError, match=reason):
        from_bytes(join(header, weights_data))
