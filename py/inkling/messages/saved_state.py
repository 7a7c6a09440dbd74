"""What the page keeps in the browser between visits: weights and training settings in one versioned record.

Layout of a record (all integers big-endian)::

    b"INKSTATE"            8 bytes, says what the bytes are
    format version         uint16 (this module writes `FORMAT_VERSION`)
    header length          uint32
    header                 UTF-8 JSON: settings, saved_at, iteration, samples_seen, epoch,
                           curve (from version 2: the charts' points, see `curve.Curve`),
                           seed (from version 3: of the run, or null), weights_bytes, weights_sha256
    weights                the .npz bytes of `weights_io` (float32 W1, b1, W2, b2)

`from_bytes` is strict: any damage or an unknown version raises `SavedStateError`
saying what is wrong; nothing is ever unpickled. Version 1 records (no curve) and
version 2 records (no seed, no augmentation setting) are still read, so an upgrade keeps
what the previous releases saved.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from dataclasses import dataclass, field, make_dataclass
from typing import Any

import numpy as np

from ..errors import SavedStateError, WeightsError
from ..network.layers import HiddenLayer
from ..network.weights_io import NetworkWeights, weights_from_npz, weights_to_npz
from .checks import MAX_SEED
from .curve import Curve
from .protocol import Command, setting_command
from .tunables import BY_FIELD, KEPT, LIVE, SettingError

MAGIC = b"INKSTATE"
FORMAT_VERSION = 3
SUPPORTED_VERSIONS = (1, 2, 3)
_PREFIX = struct.Struct(">HI")  # format version, header length
_MAX_HEADER = 64 << 10  # a real header is a few hundred bytes, plus about 10 KB of curve
_V1_KEYS = {"settings", "saved_at", "iteration", "samples_seen", "epoch", "weights_bytes", "weights_sha256"}
_HEADER_KEYS = {1: _V1_KEYS, 2: _V1_KEYS | {"curve"}, 3: _V1_KEYS | {"curve", "seed"}}


class _LiveSettings:
    """What `TrainingSettings` does; its fields are made from the settings table."""

    def commands(self) -> list[Command]:
        """The commands that give a fresh worker these settings, in the table's order (the
        optimizer first: choosing one resets the learning rate to the last one set)."""
        return [setting_command(t, getattr(self, t.field)) for t in KEPT]

    def as_dict(self) -> dict[str, Any]:
        """The settings as a plain JSON-able dict."""
        return {t.field: getattr(self, t.field) for t in KEPT}

    @classmethod
    def from_mapping(cls, raw: Any) -> Any:
        """Settings read from a record, each held to the setting's rule (the worker's own).

        A setting the record does not name takes the table's default: the record was written
        before that setting existed (version 2 knew no augmentation), and a worker that never heard
        of it trains with the default too.

        Raises:
            SavedStateError: Not a dict, a key the table does not have, or a value the worker would refuse.
        """
        if not isinstance(raw, dict):
            raise SavedStateError(f"settings: expected an object, found {type(raw).__name__}")
        extra = sorted(set(raw) - {t.field for t in KEPT})
        if extra:
            raise SavedStateError(f"settings: unexpected {extra}")
        values = {}
        for name, value in raw.items():
            try:
                values[name] = getattr(setting_command(BY_FIELD[name], value), name)
            except SettingError as error:
                raise SavedStateError(f"settings.{name}: {error}") from None
        return cls(**values)


# The live settings (`tunables.KEPT`, one field each, the table's defaults), as the worker reported
# them (``lrate`` is the rate in use).
TrainingSettings = make_dataclass(
    "TrainingSettings", [(t.field, "Any", field(default=t.default)) for t in KEPT], bases=(_LiveSettings,),
    namespace={"__module__": __name__, "__doc__": "The live settings, one field per row of `tunables.KEPT`."},
    frozen=True,
)


@dataclass(frozen=True, eq=False)
class SavedState:
    """One saved record: the weights, the settings (None in a record of the previous release),
    when it was saved (Unix seconds), how far training had come and the charts' curve of it
    (empty in records before version 2)."""

    weights: dict[str, np.ndarray]
    settings: TrainingSettings | None
    saved_at: float
    iteration: int = 0
    samples_seen: int = 0
    epoch: float = 0.0
    curve: Curve = Curve()
    seed: int | None = None  # of the run that made the weights; None if unknown
    hidden: tuple[HiddenLayer, ...] | None = None  # the weights' layers (kept in their .npz); None: an MLP's

    @property
    def network_weights(self) -> NetworkWeights:
        """The weights with their layers."""
        return NetworkWeights(self.weights, self.hidden)


def to_bytes(state: SavedState) -> bytes:
    """Serialise ``state`` in the current format.

    Raises:
        WeightsError: The weights are not a valid set of weights.
        SavedStateError: ``state`` has no settings (only legacy records lack them).
    """
    if state.settings is None:
        raise SavedStateError("a saved state needs its settings")
    weights = weights_to_npz(state.weights, state.hidden)
    header = json.dumps({
        "settings": state.settings.as_dict(),
        "saved_at": float(state.saved_at),
        "iteration": int(state.iteration),
        "samples_seen": int(state.samples_seen),
        "epoch": float(state.epoch),
        "curve": state.curve.thinned().as_dict(),
        "seed": state.seed,
        "weights_bytes": len(weights),
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
    }, allow_nan=False, sort_keys=True).encode()
    return MAGIC + _PREFIX.pack(FORMAT_VERSION, len(header)) + header + weights


def from_bytes(data: Any) -> SavedState:
    """Read a record written by `to_bytes`, checking every part of it.

    Raises:
        SavedStateError: Not a saved state, another format version (the message names the
            versions), a damaged or truncated header, invalid settings, or damaged weights.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SavedStateError(f"expected the bytes of a saved state, got {type(data).__name__}")
    data = bytes(data)
    start = len(MAGIC) + _PREFIX.size
    if not data.startswith(MAGIC):
        raise SavedStateError(f"not an Inkling saved state (it starts with {data[:8]!r}, not {MAGIC!r})")
    if len(data) < start:
        raise SavedStateError(f"truncated: {len(data)} bytes, shorter than the {start}-byte prefix")
    version, header_len = _PREFIX.unpack_from(data, len(MAGIC))
    if version not in SUPPORTED_VERSIONS:
        raise SavedStateError(
            f"saved in format version {version}; this version of Inkling reads version "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))}", version=version)
    if header_len > _MAX_HEADER or start + header_len > len(data):
        raise SavedStateError(f"truncated or damaged: the header claims {header_len} bytes, "
                              f"{len(data) - start} follow the prefix")
    header = _header(data[start:start + header_len], version)
    weights_data = data[start + header_len:]
    if len(weights_data) != header["weights_bytes"]:
        raise SavedStateError(f"truncated or damaged: {len(weights_data)} bytes of weights, "
                              f"the header says {header['weights_bytes']}")
    if hashlib.sha256(weights_data).hexdigest() != header["weights_sha256"]:
        raise SavedStateError("the weights are damaged (their sha256 does not match the header)")
    try:
        loaded = weights_from_npz(weights_data)
    except WeightsError as error:
        raise SavedStateError(f"the weights are unusable: {error}") from None
    return SavedState(loaded.weights, TrainingSettings.from_mapping(header["settings"]), header["saved_at"],
                      header["iteration"], header["samples_seen"], header["epoch"], header["curve"],
                      header.get("seed"), loaded.hidden)


def from_legacy_npz(data: Any, saved_at: float = 0.0) -> SavedState:
    """A record of the previous release (the bare .npz of the weights): weights, no settings.

    Raises:
        SavedStateError: The bytes are not valid weights.
    """
    try:
        loaded = weights_from_npz(data)
        return SavedState(loaded.weights, None, saved_at, hidden=loaded.hidden)
    except WeightsError as error:
        raise SavedStateError(f"the weights are unusable: {error}") from None


def _reject_constant(name: str) -> Any:
    raise SavedStateError(f"damaged header: {name} is not a number JSON allows")


def _header(raw: bytes, version: int) -> dict[str, Any]:
    try:
        header = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise SavedStateError(f"damaged header (not UTF-8 JSON): {error}") from None
    if not isinstance(header, dict):
        raise SavedStateError(f"damaged header: expected an object, found {type(header).__name__}")
    keys = _HEADER_KEYS[version]
    if set(header) != keys:
        raise SavedStateError(f"damaged header: missing {sorted(keys - set(header))}, "
                              f"unexpected {sorted(set(header) - keys)}")
    for name in ("iteration", "samples_seen", "weights_bytes"):
        value = header[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SavedStateError(f"damaged header: {name} must be a whole number >= 0, found {value!r}")
    for name in ("saved_at", "epoch"):
        value = header[name]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
            raise SavedStateError(f"damaged header: {name} must be a number >= 0, found {value!r}")
        header[name] = float(value)
    seed = header.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED):
        raise SavedStateError(f"damaged header: seed must be null or a whole number 0..{MAX_SEED}, found {seed!r}")
    digest = header["weights_sha256"]
    if not isinstance(digest, str) or len(digest) != 64:
        raise SavedStateError(f"damaged header: weights_sha256 must be 64 hex digits, found {digest!r}")
    try:
        header["curve"] = Curve.from_mapping(header["curve"]) if "curve" in header else Curve()
    except ValueError as error:
        raise SavedStateError(f"damaged header: curve: {error}") from None
    return header


def machine_commands(signal: Any) -> list[Command]:
    """The commands for the machine's settings a `ResponseSignal` reports (the workers): not kept by
    the autosave, but given to a worker that takes over from a lost one, as the person chose them."""
    return [setting_command(t, getattr(signal, t.field)) for t in LIVE if not t.kept]


def settings_from_signal(signal: Any) -> TrainingSettings:
    """The settings a `ResponseSignal` reports (already checked by `decode_signal`)."""
    return TrainingSettings(**{t.field: getattr(signal, t.field) for t in KEPT})
