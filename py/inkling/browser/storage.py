"""Keeping weights: autosave to IndexedDB and restore on reload, export and import as .npz files."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Mapping

import numpy as np

from ..errors import WeightsError
from ..weights_io import check_file_size, weights_from_npz, weights_to_npz

AUTOSAVE_KEY = "weights.npz"
AUTOSAVE_EVERY_S = 10.0  # while training; on stop and after any other change of weights, at once


def to_uint8array(data: bytes) -> Any:
    """A JS ``Uint8Array`` holding a copy of ``data``."""
    from js import Uint8Array

    array = Uint8Array.new(len(data))
    array.assign(data)
    return array


def architecture(weights: Mapping[str, np.ndarray]) -> str:
    """``"784-128-10"`` for weights W1 (784, 128), W2 (128, 10)."""
    sizes = [weights["W1"].shape[0]]
    layer = 1
    while f"W{layer}" in weights:
        sizes.append(weights[f"W{layer}"].shape[1])
        layer += 1
    return "-".join(str(s) for s in sizes)


def export_weights(bridge: Any, weights: Mapping[str, np.ndarray]) -> str:
    """Offer ``weights`` as a downloaded ``.npz`` file; returns the file name."""
    filename = f"inkling-{architecture(weights)}.npz"
    bridge.download(to_uint8array(weights_to_npz(weights)), filename, "application/octet-stream")
    return filename


async def read_weights_file(file: Any) -> dict[str, np.ndarray]:
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


class Autosave:
    """Saves the newest weights to IndexedDB: every `AUTOSAVE_EVERY_S` while training, at once
    when training stops or the weights change while idle (reset, import, teach).

    Args:
        bridge: The page's JS bridge (``save``/``load``).
        notify: Shows a message to the user.
        show_time: Shows when the last save happened.
    """

    def __init__(self, bridge: Any, notify: Callable[[str, str], None], show_time: Callable[[str], None]) -> None:
        self._bridge = bridge
        self._notify = notify
        self._show_time = show_time
        self.enabled = False  # off until the stored weights were restored, so they are not overwritten first
        self._saved_version = -1
        self._last_save = 0.0
        self._saving: asyncio.Task | None = None
        self._was_training = False
        self._stopped = False
        self._latest: tuple[int, Callable[[], Mapping[str, np.ndarray] | None], bool] | None = None

    async def restore(self) -> dict[str, np.ndarray] | None:
        """The weights saved by an earlier visit, or None (nothing saved, or unreadable: then says why)."""
        try:
            stored = await self._bridge.load(AUTOSAVE_KEY)
        except Exception as error:  # IndexedDB may be unavailable (private mode, blocked storage)
            self._notify("error", f"Could not read saved weights from this browser's storage: {error}")
            return None
        if stored is None:
            return None
        try:
            return weights_from_npz(stored.to_bytes())
        except WeightsError as error:
            self._notify("error", f"The weights saved in this browser are unusable and were ignored: {error}")
            return None

    def consider(self, version: int, weights: Callable[[], Mapping[str, np.ndarray] | None], training: bool) -> None:
        """Save now if the weights (``version``) changed and a save is due."""
        if self._was_training and not training:
            self._stopped = True
        self._was_training = training
        self._latest = (version, weights, training)
        if not self.enabled or version == self._saved_version or self._saving is not None:
            return
        now = time.monotonic()
        if training and not self._stopped and now - self._last_save < AUTOSAVE_EVERY_S:
            return
        current = weights()
        if current is None:
            return
        self._stopped = False
        self._saved_version = version
        self._last_save = now
        self._saving = asyncio.ensure_future(self._save(weights_to_npz(current)))

    async def _save(self, data: bytes) -> None:
        try:
            await self._bridge.save(AUTOSAVE_KEY, to_uint8array(data))
            self._show_time(f"Autosaved at {time.strftime('%H:%M:%S')} (every {AUTOSAVE_EVERY_S:.0f} s while training).")
        except Exception as error:  # storage full or blocked: tell the user, keep training
            self._notify("error", f"Autosave failed: {error}")
        finally:
            self._saving = None
        if self._latest is not None:
            self.consider(*self._latest)  # weights that changed during the save (say, a stop) are saved now
