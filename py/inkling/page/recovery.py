"""Surviving the training worker's death: keep what the page holds, start a new worker, give it the
newest weights and settings, go on training; how often to restart it, and stats that count on
across restarts.

No ``js`` here: the rules are tested in CPython, and the page's parts are reached through what
`RecoveringPage` names (the `App` is one; it owns this module's `WorkerRecovery`, so it is not imported here).
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from typing import Any, Awaitable, Callable, Protocol, Sequence

from ..messages.protocol import Command, ResponseSignal, Start
from ..messages.saved_state import TrainingSettings, machine_commands, settings_from_signal
from .controls import Controls
from .inference import Predictor
from .loading import Loading
from .storage import AUTOSAVE_EVERY_S, Autosave
from .weights_files import WeightsFiles
from .worker_client import Reply, WorkerClient

MAX_RESTARTS = 3  # in RESTART_WINDOW_S; one more death in that window means something is broken for good
RESTART_WINDOW_S = 120.0


class RestartGuard:
    """Allows a new worker after a death, unless `max_restarts` happened in the last `window_s` seconds.

    Args:
        max_restarts: Restarts allowed within the window.
        window_s: The window's length in seconds.
        clock: Monotonic seconds (a parameter so tests can drive time).
    """

    def __init__(self, max_restarts: int = MAX_RESTARTS, window_s: float = RESTART_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_restarts = max_restarts
        self.window_s = window_s
        self._clock = clock
        self._restarts: deque[float] = deque()
        self.total = 0  # restarts since the page loaded

    def allow(self) -> bool:
        """True (and the restart is counted) if another restart is allowed now."""
        now = self._clock()
        while self._restarts and now - self._restarts[0] >= self.window_s:
            self._restarts.popleft()
        if len(self._restarts) >= self.max_restarts:
            return False
        self._restarts.append(now)
        self.total += 1
        return True


class Continuity:
    """Keeps the iteration, samples-seen and epoch counts going up across worker restarts and reloads.

    A new worker counts from 0; the page adds what the lost one (or the saved run) had reached. A reset of the
    weights (the worker's own count falling, or the page sending ``reset``) starts from 0 again.
    """

    def __init__(self) -> None:
        self.iteration = 0
        self.samples_seen = 0
        self.epoch = 0.0
        self._last_iteration = 0  # the worker's own count in its last signal

    def restarted(self, shown: ResponseSignal | None) -> None:
        """The worker was replaced; ``shown`` is the last signal the page showed (counts included)."""
        if shown is not None:
            self.carry(shown.iteration, shown.samples_seen, shown.epoch)
        self._last_iteration = 0

    def carry(self, iteration: int, samples_seen: int, epoch: float) -> None:
        """Count on from these counts (a run restored from a saved record, or a lost worker's)."""
        self.iteration, self.samples_seen, self.epoch = iteration, samples_seen, epoch

    def clear(self) -> None:
        """The weights were reset: counts start from 0."""
        self.iteration, self.samples_seen, self.epoch = 0, 0, 0.0

    def apply(self, signal: ResponseSignal) -> ResponseSignal:
        """``signal`` with the counts the page shows."""
        if signal.iteration < self._last_iteration:
            self.clear()  # the worker reset its weights
        self._last_iteration = signal.iteration
        if not (self.iteration or self.samples_seen or self.epoch):
            return signal
        return dataclasses.replace(signal, iteration=signal.iteration + self.iteration,
                                   samples_seen=signal.samples_seen + self.samples_seen,
                                   epoch=signal.epoch + self.epoch)


class RecoveringPage(Protocol):
    """The parts of the page that a worker's loss and its successor's start touch."""

    ready: bool  # the page was all ready once (a worker lost before that is a failed start)
    worker_ready: bool
    signal: ResponseSignal | None  # the last one shown
    counts: Continuity
    loading: Loading
    autosave: Autosave
    client: WorkerClient
    controls: Controls
    predictor: Predictor
    weights_files: WeightsFiles
    bridge: Any  # web/bridge.js's inklingBridge

    def set_training_enabled(self, enabled: bool) -> None: ...
    def show_train_state(self, text: str) -> None: ...
    def notify(self, kind: str, text: str) -> None: ...
    def send(self, command: Start) -> int: ...
    def follow(self, signal: ResponseSignal) -> None: ...
    def give_settings(self, settings: TrainingSettings | None, machine: Sequence[Command] = ()) -> Awaitable[Reply]: ...


class WorkerRecovery:
    """What the page does when its worker dies (bridge.js notices) and when the new one is ready."""

    def __init__(self, app: RecoveringPage) -> None:
        self._app = app
        self.guard = RestartGuard()
        self.recovering = False  # from a worker's loss until its successor has the weights
        self._losses = 0  # bumped at every loss, so a recovery that outlived its worker stops
        self._resume_training = False
        self._lost_settings: TrainingSettings | None = None
        self._lost_machine: list[Command] = []  # the workers the lost one was asked to share its steps with
        self._lost_seed: int | None = None  # of the run the lost worker trained

    def lost(self, reason: str) -> None:
        """The worker died: keep what the page holds, start a new one if sensible."""
        app = self._app
        if not app.ready:
            app.loading.fail(app.loading.active.get("worker"),
                             f"the training worker stopped while starting: {reason}. Reload the page.")
            return
        if not self.recovering:
            shown = app.signal
            self._resume_training = bool(shown is not None and shown.training)
            self._lost_settings = None if shown is None else settings_from_signal(shown)
            self._lost_machine = [] if shown is None else machine_commands(shown)
            self._lost_seed = None if shown is None else shown.seed
            app.counts.restarted(shown)
            app.autosave.save_now()  # the page's newest weights, in case the tab goes too
        app.autosave.enabled = False
        self.recovering = True
        app.worker_ready = False
        self._losses += 1
        app.client.fail_pending(f"the training worker stopped ({reason})")
        app.set_training_enabled(False)
        app.controls.resync()
        app.show_train_state("stopped")
        if not self.guard.allow():
            app.loading.say("error: the training worker keeps stopping")
            app.notify("error", f"The training worker stopped again ({reason}), {self.guard.max_restarts + 1} times "
                                f"within {RESTART_WINDOW_S / 60:.0f} minutes, so no new one is started. Your weights "
                                "are saved in this browser: reload the page to go on.")
            return
        app.loading.say("restarting the training worker")
        app.notify("error", f"The training worker stopped ({reason}). Starting a new one with your newest weights "
                            f"and settings; at most the last {AUTOSAVE_EVERY_S:.0f} s of training (the autosave "
                            "interval) can be lost. Drawing and predictions keep working meanwhile.")
        app.bridge.restartWorker()

    async def recover(self) -> None:
        """A new worker is ready after a loss: give it the newest weights and settings, resume training."""
        app, losses = self._app, self._losses
        weights, source, seed = app.predictor.weights(), "your newest weights", self._lost_seed
        if weights is None:
            saved = await app.autosave.restore()
            weights, source, seed = ((None, "new random weights", None) if saved is None
                                     else (saved.network_weights, "the saved weights", saved.seed))
        if weights is not None and not await app.weights_files.apply(weights, source, seed):
            source = "new random weights"
        reply = await app.give_settings(self._lost_settings, self._lost_machine)
        if losses != self._losses or not isinstance(reply, ResponseSignal):
            return  # this worker was lost too; its successor recovers
        if self._resume_training:
            app.send(Start())
        self.recovering = False
        app.follow(reply)
        app.autosave.enabled = True
        app.set_training_enabled(True)
        app.loading.say("ready")
        goes_on = " Training goes on." if self._resume_training else ""
        app.notify("info", f"A new training worker took over with {source} and your settings "
                           f"(restart {self.guard.total} of this page).{goes_on}")
