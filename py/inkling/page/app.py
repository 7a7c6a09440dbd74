"""The page: starts its parts, routes the worker's messages to the grid, controls, stats and charts,
and keeps the newest weights. Talking to the worker is `worker_client`'s, surviving its loss
`recovery`'s, the address `address`'s and the weights as files `weights_files`'s.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Sequence

import numpy as np

from ..errors import InklingError
from ..messages.protocol import (Command, ErrorSignal, Evaluate, OfflineState, ProgressSignal, ReadySignal, Reset,
                                 ResponseSignal, Signal, StartFailed, Status, TrainDrawing, WorkerLost)
from ..messages.saved_state import SavedState, TrainingSettings, settings_from_signal
from ..network.engine import use_engine
from ..network.engine.select import choose_engine
from ..training.pacing import SIGNAL_EVERY_S
from .address import Address
from .charts import Charts
from .confusion_view import ConfusionView
from .controls import Controls
from .dom import LiveText, by_testid, document, listen, set_text
from .grid import GridManager
from .inference import Predictor
from .loading import Loading
from .offline import OfflineStatus
from .recovery import Continuity, WorkerRecovery
from .response_view import ResponseView
from .samples import TestDigits, fetch_site_file
from .stats import data_news, stat_texts, train_state_text
from .storage import Autosave, Snapshot, architecture
from .theme import current_theme, follow_theme
from .weights_files import WeightsFiles
from .weights_view import WeightsView
from .worker_client import Reply, WorkerClient

CELLS = 12  # tiles in the grid
FIRST_DIGITS = 8  # of them start with a test digit; the rest wait for a drawing
class App:
    """Everything the page does, driven by user events and one callback per animation frame."""

    def __init__(self) -> None:
        from js import inklingBridge

        self.bridge = inklingBridge
        self.client = WorkerClient(self.bridge, self._event, self.follow, lambda text: self.notify("error", text))
        self.loading = Loading()
        self.message = by_testid("message")
        self.predictor = Predictor()
        self.controls = Controls(self.send, self.notify, self.evaluate)
        self.charts = Charts(document().getElementById("charts"), by_testid("chart-loss"), by_testid("chart-acc"),
                             current_theme())
        self.grid = GridManager(by_testid("grid"), CELLS, self.predictor, TestDigits(fetch_site_file),
                                self.teach, self.notify, self.bridge.requestFrame)
        self.confusion = ConfusionView(by_testid("confusion-matrix"), self.grid.show_pair)
        self.weights_view = WeightsView(by_testid("weights-view"), self.predictor)
        self.response_view = ResponseView(by_testid("activation-view"), by_testid("activation-caption"),
                                          self.predictor, lambda: self.grid.focus)
        self.weights_files = WeightsFiles(self.bridge, self.predictor, self.client.request, self.notify, self._spawn)
        self.address = Address(self.send, self.client.request, self.follow, self.controls.propose_run, self.notify)
        self.train_state = by_testid("train-state")
        self.autosave = Autosave(self.bridge, self.notify, lambda text: set_text(by_testid("autosave"), text))
        self.offline = OfflineStatus(by_testid("offline"), by_testid("update-now"), self.notify,
                                     lambda: self._spawn(self._switch_to_update()))
        self.signal: ResponseSignal | None = None
        self.page_ready = False
        self._saved: SavedState | None = None  # read at start-up, handed to the worker once it is ready
        self.worker_ready = False
        self.ready = False
        self._stat_nodes: dict[str, LiveText] = {}
        self._tasks: set[asyncio.Task] = set()
        self.counts = Continuity()  # iteration etc. count on across workers and reloads
        self.recovery = WorkerRecovery(self)
        follow_theme([self.charts, self.weights_view, self.response_view], self.bridge.requestFrame)

        listen(by_testid("samples-all"), "click", lambda _e: self.grid.new_samples())
        listen(by_testid("clear-all"), "click", lambda _e: self.grid.clear_all())
        listen(by_testid("share-link"), "click", lambda _e: self._spawn(self.address.share()))
        self._set_enabled(False)

    # ---- start-up ----------------------------------------------------------------------------

    def start(self) -> None:
        """Take over from the bridge: receive frames, load the first test digits."""
        from pyodide.ffi import create_proxy

        self.address.read()  # before any signal writes the address
        self._use_engine()
        self._frame_proxy = create_proxy(self.on_frame)  # lives as long as the page
        self.bridge.attach(self._frame_proxy)
        self.loading.stage("page", "loading the test digits")
        self._spawn(self._page_setup())

    def _use_engine(self) -> None:
        """Predict with the fastest engine that works here (or the one ``?engine=`` names), and show it."""
        from js import URLSearchParams, location

        engine, passed_over = choose_engine(URLSearchParams.new(location.search).get("engine"))
        use_engine(engine)
        set_text(by_testid("stat-page-engine"), engine.name)
        if passed_over:
            self.notify("info", f"Engine: {engine.name} ({'; '.join(passed_over)}).")

    async def _page_setup(self) -> None:
        # Drawing and predicting need only this runtime: the page works while the worker still loads,
        # with the weights saved in this browser, else the untrained network the worker starts from.
        self._saved = await self.autosave.restore()
        self.predictor.start_with(None if self._saved is None else self._saved.network_weights)
        try:
            await self.grid.fill(FIRST_DIGITS)
        except InklingError as error:
            self.loading.fail("page", f"the page could not load its test digits: {error}")
            return
        self.loading.finish("page")
        self.page_ready = True
        if not self.worker_ready and not self.loading.failed:
            self.loading.drawing_ready()
            self._set_drawing_enabled(True)
        await self._maybe_ready()

    async def _maybe_ready(self) -> None:
        if self.ready or not (self.page_ready and self.worker_ready) or self.loading.failed:
            return
        self.ready = True
        first = await self.client.request(Status())
        if isinstance(first, ResponseSignal):
            self.follow(first)
        restored, self._saved = self._saved, None
        said: list[tuple[str, str]] = []
        if restored is not None and await self.weights_files.apply(restored.network_weights, seed=restored.seed):
            what = "weights" if restored.settings is None else "weights and settings"
            # The new worker counts from 0: the page counts on from the saved run, as after a worker's loss.
            self.counts.carry(restored.iteration, restored.samples_seen, restored.epoch)
            self.charts.resume(restored.curve)
            reply = await self.give_settings(restored.settings)
            if isinstance(reply, ResponseSignal):
                self.follow(reply)
            when = f" at {time.strftime('%H:%M:%S', time.localtime(restored.saved_at))}" if restored.saved_at else ""
            progress = f", {restored.iteration:,} iterations in" if restored.iteration else ""
            said.append(("info", f"Restored the {architecture(restored.network_weights)} {what} saved in this browser"
                                  f"{when}{progress}."))
        else:
            restored = None  # weights that did not apply were not restored
        said += await self.address.apply(self.signal, restored is not None)
        if said:
            self.notify("error" if any(kind == "error" for kind, _ in said) else "info", " ".join(t for _, t in said))
        if not self.bridge.watchesWorker:
            self.notify("info", "This page is not served from a secure context (https or localhost), so a training "
                                "worker that stops without an error is noticed only when it leaves a status request "
                                f"unanswered for {self.bridge.silenceLimitS:g} s.")
        self.autosave.enabled = True
        self._set_enabled(True)
        self.loading.ready()
        self.bridge.keepOffline()  # now, not sooner: keeping the site must not slow the start

    async def give_settings(self, settings: TrainingSettings | None, machine: Sequence[Command] = ()) -> Reply:
        """Send the worker these settings (if any) and the machine's; its reply to a status request once taken."""
        for command in [*(settings.commands() if settings is not None else []), *machine]:
            self.send(command)
        return await self.client.request(Status())

    def set_training_enabled(self, enabled: bool) -> None:
        """Training controls and import (they need the worker); drawing and export do not."""
        self.controls.set_enabled(enabled)
        self.weights_files.set_enabled(True, enabled)

    def _set_enabled(self, enabled: bool) -> None:
        self.controls.set_enabled(enabled)
        self.weights_files.set_enabled(enabled, enabled)
        by_testid("share-link").disabled = not enabled
        self._set_drawing_enabled(enabled)

    def _set_drawing_enabled(self, enabled: bool) -> None:
        """The grid and its buttons: all they need is this page's runtime."""
        self.grid.set_enabled(enabled)
        for testid in ("samples-all", "clear-all"):
            by_testid(testid).disabled = not enabled

    # ---- what the worker says ------------------------------------------------------------------

    def send(self, command: Command) -> int:
        """Send a command to the worker; returns its id. A reset starts the page's counts from 0."""
        if isinstance(command, Reset):
            self.counts.clear()
        return self.client.send(command)

    def on_frame(self, batch: Any) -> float | None:
        """Called by the bridge at most once per animation frame with what arrived since the last one.

        The worker already paces its signals and weights (`pacing`), so whatever arrived is shown.
        Returns the milliseconds until this page wants a frame of its own accord (a chart redraw or
        a tile's prediction that waits), or None: the bridge sets a timer instead of asking for
        every frame in between.
        """
        self.client.frame(batch, follow=lambda: not self.recovery.recovering)
        now = time.monotonic()
        later = [self.charts.redraw(now), self.weights_view.refresh(now), self.response_view.refresh(now)]
        if self.signal is not None and self.signal.training:
            # The next progress signal's frame redraws the charts and the weights picture: a frame of
            # their own would cost a second render. The timer is only for a signal that does not come
            # (data ran out).
            later = [None if wait is None else max(wait, 1.5 * SIGNAL_EVERY_S) for wait in later]
        waits = [wait for wait in (self.grid.refresh(now), *later) if wait is not None]
        return 1000 * min(waits) if waits else None

    def _event(self, message: Signal) -> None:
        """Each message in order (the newest progress signal goes to `follow` instead)."""
        if isinstance(message, ProgressSignal):
            if self.recovery.recovering:  # the loading screen is gone: the status line tells the new worker's
                self.loading.say(f"restarting the training worker: {message.detail}")
            else:
                self.loading.stage(message.stage, message.detail)
        elif isinstance(message, ReadySignal):
            self.worker_ready = True
            self._spawn(self.recovery.recover() if self.ready else self._maybe_ready())
        elif isinstance(message, WorkerLost):
            self.recovery.lost(message.reason)
        elif isinstance(message, OfflineState):
            self.offline.show(message.state, message.detail)
        elif isinstance(message, (ErrorSignal, StartFailed)):
            self._error(message)
        elif isinstance(message, ResponseSignal):  # a reply, or a signal with a confusion matrix: never dropped
            if message.confusion is not None:
                self.confusion.show(message.confusion)  # rides once: a newer signal in this frame lacks it
            if message.reply_to is not None:
                self.controls.replied(message.reply_to)

    def _error(self, error: ErrorSignal | StartFailed) -> None:
        if not self.ready:
            self.loading.fail(self.loading.active.get("worker"), error.message)
            return
        if self.recovery.recovering and not self.worker_ready:  # the new worker could not start
            self.recovery.lost(f"a new one could not start: {error.message}")
            return
        if isinstance(error, StartFailed):
            return  # a worker that failed to start later on is lost: the bridge says so
        self.notify("error", error.message)
        self.controls.worker_error(error.field, error.message)
        if error.reply_to is not None:
            self.controls.replied(error.reply_to)

    def follow(self, signal: ResponseSignal) -> None:
        """Show a signal: stats, charts, buttons, and its weights in every prediction."""
        signal = self.counts.apply(signal)
        news = data_news(self.signal, signal)
        if news is not None:
            self.notify("info", news)
        self.signal = signal
        for testid, text in stat_texts(signal).items():
            node = self._stat_nodes.get(testid)
            if node is None:
                node = self._stat_nodes[testid] = LiveText(by_testid(testid))
            node.set(text)  # only what changed touches the DOM
        self.charts.add(signal)
        self.confusion.follow(signal)
        self.controls.sync(signal)
        self.address.show(signal)
        self.show_train_state(train_state_text(signal))  # also says when it waits for data
        if signal.weights is not None:
            self.predictor.use_signal_weights(signal.weights, signal.hidden)
        self.autosave.consider(Snapshot(self.predictor.version, self.predictor.weights, bool(signal.training),
                                        settings_from_signal(signal), signal.iteration, signal.samples_seen,
                                        signal.epoch, self.charts.curve, signal.seed))

    def show_train_state(self, text: str) -> None:
        """What the worker is doing, in words (training, paused, waiting for data, stopped)."""
        set_text(self.train_state, text)

    async def _switch_to_update(self) -> None:
        """Keep the newest weights and settings, then let the waiting build take over (the page reloads)."""
        self.autosave.save_now()
        await self.autosave.settled()
        if not self.bridge.applyUpdate():
            self.notify("error", "No new version of Inkling is waiting any more: reload the page to look again.")

    # ---- actions -------------------------------------------------------------------------------

    def notify(self, kind: str, text: str) -> None:
        """Show ``text`` in the message area (``kind`` is "info" or "error")."""
        self.message.className = f"message {kind}"
        self.message.textContent = text

    def evaluate(self) -> None:
        """Measure the accuracy on the whole test set (in the worker) and report it."""
        self._spawn(self._evaluate())

    async def _evaluate(self) -> None:
        button = by_testid("evaluate")
        button.disabled = True
        button.setAttribute("data-busy", "")
        self.notify("info", "Evaluating on the 10,000 test digits…")
        try:
            reply = await self.client.request(Evaluate())
        finally:
            button.removeAttribute("data-busy")
            button.disabled = False
        if isinstance(reply, ResponseSignal) and reply.test_acc is not None:
            self.notify("info", f"Test accuracy: {100 * reply.test_acc:.2f}% of the 10,000 test digits.")

    def teach(self, pixels: np.ndarray, label: int) -> None:
        """Train on one drawing (already preprocessed) as digit ``label``."""
        if self.recovery.recovering:
            self.notify("error", "Teaching waits for the new training worker: try again in a few seconds.")
            return
        self.send(TrainDrawing(np.asarray(pixels, np.float32), label))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)  # asyncio keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)


def main() -> App:
    """Start the page (called by web/main.py once PyScript has loaded numpy and inkling)."""
    app = App()
    app.start()
    return app
