"""Keeping weights: autosave weights and settings to IndexedDB and restore them, export and import .npz files."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

import numpy as np

from ..errors import SavedStateError, WeightsError
from ..messages.curve import Curve
from ..messages.saved_state import SavedState, TrainingSettings, from_bytes, from_legacy_npz, to_bytes
from ..network.layers import describe_network
from ..network.mlp import describe_sizes, sizes_of
from ..network.onnx_model import onnx_model
from ..network.weight_rules import param_names
from ..network.weights_io import NetworkWeights, check_file_size, weights_from_npz, weights_to_npz

STATE_KEY = "state"  # weights + settings, in the format of inkling.messages.saved_state
LEGACY_KEY = "weights.npz"  # the previous release's record: the bare .npz of the weights (read, never written)
AUTOSAVE_EVERY_S = 10.0  # while training; on stop and after any other change of weights or settings, at once


def to_uint8array(data: bytes) -> Any:
    """A JS ``Uint8Array`` holding a copy of ``data``."""
    from js import Uint8Array

    array = Uint8Array.new(len(data))
    array.assign(data)
    return array


def architecture(network: NetworkWeights) -> str:
    """``"784-128-10"`` for an MLP's weights W1 (784, 128), b1, W2 (128, 10), b2; ``"784-c16:5-p2-128-10"``
    for a convnet's."""
    if network.hidden is not None:
        return describe_network(network.hidden)
    weights = network.weights
    return describe_sizes(sizes_of([weights[name] for name in param_names(len(weights) // 2)]))


def export_weights(bridge: Any, network: NetworkWeights, onnx: bool = False) -> str:
    """Offer weights with their layers as a downloaded ``.npz`` file (``onnx``: as an ONNX model);
    returns the file name."""
    stem = f"inkling-{architecture(network).replace(':', '_')}"  # no ':' in file names
    data, filename = (onnx_model(*network), f"{stem}.onnx") if onnx else (weights_to_npz(*network), f"{stem}.npz")
    bridge.download(to_uint8array(data), filename, "application/octet-stream")
    return filename


async def read_weights_file(file: Any) -> NetworkWeights:
    """The weights in a user's ``File`` (from a file input).

    Raises:
        WeightsError: Not a valid Inkling .npz (the message says why).
    """
    check_file_size(int(file.size))  # a huge file is refused before it is read into memory
    try:
        buffer = await file.arrayBuffer()
    except Exception as error:  # the browser could not read it (moved, changed, unreadable): say so
        raise WeightsError(f"the browser could not read the file: {error}") from None
    return weights_from_npz(buffer.to_bytes())


@dataclass(frozen=True)
class Snapshot:
    """What the page would save now: the predictor's weights (``version`` says when they changed,
    ``weights()`` copies them), the worker's settings, how far training has come and the
    charts' curve (``curve()`` builds it, only when a save is due)."""

    version: int
    weights: Callable[[], Mapping[str, np.ndarray] | None]
    training: bool
    settings: TrainingSettings
    iteration: int = 0
    samples_seen: int = 0
    epoch: float = 0.0
    curve: Callable[[], Curve] = Curve
    seed: int | None = None  # of the run, as the worker reports it


class Autosave:
    """Saves the newest weights and settings to IndexedDB: every `AUTOSAVE_EVERY_S` while
    training, at once when training stops, the settings change, or the weights change while
    idle (reset, import, teach).

    Storage that does not work (private mode, quota) is reported once; the page goes on
    without it, and the autosave line says saving is off until a save works again.

    Args:
        bridge: The page's JS bridge (``save``/``load``).
        notify: Shows a message to the user.
        show_time: Shows when the last save happened (the ``autosave`` line).
    """

    def __init__(self, bridge: Any, notify: Callable[[str, str], None], show_time: Callable[[str], None]) -> None:
        self._bridge = bridge
        self._notify = notify
        self._show_time = show_time
        self.enabled = False  # off until the stored state was restored, so it is not overwritten first
        self._saved: tuple[int, TrainingSettings] | None = None  # (weights version, settings) last saved
        # No save yet: the first is due at once. (time.monotonic counts from the page's start in the
        # browser, and the page is ready within a few seconds: 0.0 here held it back ~10 s.)
        self._last_save = -math.inf
        self._saving: asyncio.Task | None = None
        self._was_training = False
        self._stopped = False
        self._latest: Snapshot | None = None
        self.storage_problem: str | None = None  # set once storage failed and the user was told
        self.failures = 0

    async def restore(self) -> SavedState | None:
        """The state saved by an earlier visit, or None (nothing saved, or unusable: then says why).

        A record of the previous release (a bare .npz under `LEGACY_KEY`) is read as weights
        without settings.
        """
        try:
            stored = await self._bridge.load(STATE_KEY)
            legacy = None if stored is not None else await self._bridge.load(LEGACY_KEY)
        except Exception as error:  # IndexedDB unavailable: private mode, blocked storage
            self._storage_failed(f"could not read this browser's storage ({_js_error(error)})")
            return None
        try:
            if stored is not None:
                return from_bytes(stored.to_bytes())
            if legacy is not None:
                return from_legacy_npz(legacy.to_bytes())
        except SavedStateError as error:
            self._notify("error", f"The weights and settings saved in this browser were rejected, so the "
                                  f"page starts fresh (they will be replaced at the next autosave): {error}")
        return None

    def consider(self, snapshot: Snapshot) -> None:
        """Save now if the weights or settings changed and a save is due."""
        if self._was_training and not snapshot.training:
            self._stopped = True
        self._was_training = snapshot.training
        self._latest = snapshot
        if not self.enabled or self._saving is not None or self._saved == (snapshot.version, snapshot.settings):
            return
        now = time.monotonic()
        settings_changed = self._saved is not None and _chosen(self._saved[1]) != _chosen(snapshot.settings)
        if (snapshot.training and not self._stopped and not settings_changed
                and now - self._last_save < AUTOSAVE_EVERY_S):
            return
        current = snapshot.weights()
        if current is None:
            return
        self._stopped = False
        self._saved = (snapshot.version, snapshot.settings)
        self._last_save = now
        state = SavedState(dict(current.weights), snapshot.settings, time.time(), snapshot.iteration,
                           snapshot.samples_seen, snapshot.epoch, snapshot.curve(), snapshot.seed, current.hidden)
        self._saving = asyncio.ensure_future(self._save(state))

    def save_now(self) -> None:
        """Save the newest snapshot at once (the worker was lost: keep what the page holds)."""
        if self._latest is not None and self._saving is None:
            enabled, self.enabled, self._stopped = self.enabled, True, True
            self.consider(self._latest)
            self.enabled = enabled

    async def settled(self) -> None:
        """Return once no save is under way (the newest one has reached storage, or failed and said so)."""
        while self._saving is not None:
            await self._saving

    async def _save(self, state: SavedState) -> None:
        try:
            # Serialising (the .npz, its hash) and the store's own copy take tens of ms each: each in
            # a task of its own, not in the frame that showed the signal, so none makes a long task.
            await asyncio.sleep(0)
            data = to_uint8array(to_bytes(state))
            await asyncio.sleep(0)
            await self._bridge.save(STATE_KEY, data)
        except Exception as error:  # storage full or blocked: tell the user once, keep training
            self.failures += 1
            self._storage_failed(f"saving failed ({_js_error(error)})")
        else:
            self.storage_problem = None
            self._show_time(f"Autosaved at {time.strftime('%H:%M:%S')} "
                            f"(every {AUTOSAVE_EVERY_S:.0f} s while training).")
        finally:
            self._saving = None
        if self._latest is not None:
            self.consider(self._latest)  # weights that changed during the save (say, a stop) are saved now

    def _storage_failed(self, what: str) -> None:
        self._show_time(f"Autosave is off: {what}. Use Export .npz to keep your weights.")
        if self.storage_problem is None:  # once: a failure every 10 s must not bury other messages
            self.storage_problem = what
            self._notify("error", f"This browser's storage does not work here: {what}. Training and drawing "
                                  "go on, but nothing is kept across a reload: use Export .npz to keep your weights.")


def _chosen(settings: TrainingSettings | None) -> TrainingSettings | None:
    """The settings as a person chose them: the learning rate decays by itself every epoch, which
    is no reason to save at once (a rate the person changed is saved within the interval)."""
    return None if settings is None else replace(settings, lrate=0.0)


def _js_error(error: Exception) -> str:
    """A JS exception's ``Name: message`` without Python's wrapping."""
    text = str(error).strip()
    return text.splitlines()[-1] if text else type(error).__name__
