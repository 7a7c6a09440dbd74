"""The page: routes the worker's messages to the grid, controls, stats and charts, and keeps the weights."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any, Mapping

import numpy as np

from ..confusion import Confusion
from ..engine import use_engine
from ..engine.select import choose_engine
from ..errors import DataError, InklingError, ProtocolError, WeightsError
from ..layers import weights_problem
from ..protocol import (Command, ErrorSignal, Evaluate, Reset, ResponseSignal, SetWeights, Start, Status, TrainDrawing,
                        decode_command, decode_signal, encode_command)
from ..saved_state import TrainingSettings, settings_from_signal
from ..tunables import TUNABLES
from .charts import Charts
from .confusion_view import ConfusionView
from .controls import Controls
from .dom import LiveText, by_testid, document, listen, set_text
from .grid import GridManager
from .inference import Predictor
from .link import Link, changes, describe, link_query, read_link
from .loading import Loading
from .offline import OfflineStatus
from ..pacing import SIGNAL_EVERY_S
from .recovery import RESTART_WINDOW_S, Continuity, RestartGuard
from .samples import TestDigits
from .stats import data_news, stat_texts, train_state_text
from .storage import AUTOSAVE_EVERY_S, Autosave, Snapshot, architecture, export_weights, read_weights_file
from .weights_view import WeightsView
from ..wire import from_js_message, to_js_message

CELLS = 12  # tiles in the grid
FIRST_DIGITS = 8  # of them start with a test digit; the rest wait for a drawing
DATA_URL = "./data/"  # relative to the page


async def fetch_site_file(path: str) -> bytes:
    """A data file of this site (``path`` relative to the data folder).

    Raises:
        DataError: The server did not answer with the file.
    """
    from pyodide.http import pyfetch

    try:
        response = await pyfetch(DATA_URL + path)
    except Exception as error:  # a network failure surfaces as a JS error
        raise DataError(f"could not fetch {DATA_URL}{path}: {error}", path) from None
    if not response.ok:
        raise DataError(f"{DATA_URL}{path} answered HTTP {response.status}: rebuild the site with "
                        "'python build.py'", path)
    return await response.bytes()


class App:
    """Everything the page does, driven by user events and one callback per animation frame."""

    def __init__(self) -> None:
        from js import inklingBridge

        self.bridge = inklingBridge
        self.loading = Loading()
        self.message = by_testid("message")
        self.predictor = Predictor()
        self.controls = Controls(self.send, self.notify, self.evaluate)
        self.charts = Charts(document().getElementById("charts"), by_testid("chart-loss"), by_testid("chart-acc"))
        self.grid = GridManager(by_testid("grid"), CELLS, self.predictor, TestDigits(fetch_site_file),
                                self.teach, self.notify, self.bridge.requestFrame)
        self.confusion = ConfusionView(by_testid("confusion-matrix"), self._show_pair)
        self.weights_view = WeightsView(by_testid("weights-view"), self.predictor)
        self.train_state = by_testid("train-state")
        self.autosave = Autosave(self.bridge, self.notify, lambda text: set_text(by_testid("autosave"), text))
        self.offline = OfflineStatus(by_testid("offline"), by_testid("update-now"), self.notify,
                                     lambda: self._spawn(self._switch_to_update()))
        self.signal: ResponseSignal | None = None
        self.page_ready = False
        self.worker_ready = False
        self.ready = False
        self._stat_nodes: dict[str, LiveText] = {}
        self._next_id = 1
        self._replies: dict[int, asyncio.Future] = {}
        self._tasks: set[asyncio.Task] = set()
        # Worker deaths: a new worker takes over with the page's newest weights and settings.
        self.guard = RestartGuard()
        self.counts = Continuity()  # iteration etc. count on across workers
        self.recovering = False  # from a worker's loss until its successor has the weights
        self._losses = 0  # bumped at every loss, so a recovery that outlived its worker stops
        self._resume_training = False
        self._lost_settings: TrainingSettings | None = None
        self._lost_seed: int | None = None  # of the run the lost worker trained
        self._link = Link()  # the settings the page's address asked for when it opened
        self._address_key: tuple | None = None  # None: the address is not written to before its link applied

        self.export_button = by_testid("export-weights")
        self.import_input = by_testid("import-weights")
        listen(self.export_button, "click", lambda _e: self.export())
        listen(self.import_input, "change", lambda _e: self._import_chosen())
        listen(by_testid("samples-all"), "click", lambda _e: self.grid.new_samples())
        listen(by_testid("clear-all"), "click", lambda _e: self.grid.clear_all())
        listen(by_testid("share-link"), "click", lambda _e: self._spawn(self.share_link()))
        self._set_enabled(False)

    # ---- start-up ----------------------------------------------------------------------------

    def start(self) -> None:
        """Take over from the bridge: receive frames, load the first test digits."""
        from js import location
        from pyodide.ffi import create_proxy

        self._link = read_link(str(location.search))  # before any signal writes the address
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
        try:
            await self.grid.fill(FIRST_DIGITS)
        except InklingError as error:
            self.loading.fail("page", f"the page could not load its test digits: {error}")
            return
        self.loading.finish("page")
        self.page_ready = True
        await self._maybe_ready()

    async def _maybe_ready(self) -> None:
        if self.ready or not (self.page_ready and self.worker_ready) or self.loading.failed:
            return
        self.ready = True
        first = await self.request(Status())
        if isinstance(first, ResponseSignal):
            self._follow(first)
        restored = await self.autosave.restore()
        said: list[tuple[str, str]] = []
        if restored is not None and await self.apply_weights(restored.weights, seed=restored.seed):
            what = "weights" if restored.settings is None else "weights and settings"
            # The new worker counts from 0: the page counts on from the saved run, as after a worker's loss.
            self.counts.carry(restored.iteration, restored.samples_seen, restored.epoch)
            self.charts.resume(restored.curve)
            reply = await self._give_settings(restored.settings)
            if isinstance(reply, ResponseSignal):
                self._follow(reply)
            when = f" at {time.strftime('%H:%M:%S', time.localtime(restored.saved_at))}" if restored.saved_at else ""
            progress = f", {restored.iteration:,} iterations in" if restored.iteration else ""
            said.append(("info", f"Restored the {architecture(restored.weights)} {what} saved in this browser"
                                  f"{when}{progress}."))
        else:
            restored = None  # weights that did not apply were not restored
        said += await self._apply_link(restored is not None)
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

    async def _apply_link(self, restored: bool) -> list[tuple[str, str]]:
        """Apply what the page's address asks for and differs from now; what to tell the user.

        A run the link names (hidden layers, seed) replaces fresh weights at once, but never weights
        restored from this browser: its values are filled in for Reset instead.
        """
        link = changes(self._link, self.signal) if self.signal is not None else self._link
        said: list[tuple[str, str]] = []
        for command in link.commands:
            self.send(command)
        if link.run and not restored:
            self.send(Reset(**link.run))
        if link.commands or (link.run and not restored):
            reply = await self.request(Status())
            if isinstance(reply, ResponseSignal):
                self._follow(reply)
            applied = Link(link.commands, {} if restored else link.run)
            said.append(("info", f"This link's settings apply: {describe(applied)}."))
        if link.run and restored:
            # Filled in for Reset. Said only if the network differs: another seed for the same network
            # is not worth words (a plain reload restores the run's own seed, and does not land here).
            self.controls.propose_run(link.run.get("hidden"), link.run.get("seed"))
            if self.signal is not None and link.run.get("hidden", self.signal.hidden) != self.signal.hidden:
                said.append(("info", f"This link's network ({describe(Link(run=link.run))}) starts when you press "
                                     "Reset weights: its values are filled in."))
        if link.refused:
            said.append(("error", f"This link's {'; '.join(link.refused)} could not be used; the rest applies."))
        self._address_key = ()  # from now on the address follows the settings
        if self.signal is not None:
            self._show_in_address(self.signal)
        return said

    def _show_in_address(self, signal: ResponseSignal) -> None:
        """Write the settings into the page's address (without a new history entry), when they change."""
        from js import history, location

        key = tuple(getattr(signal, t.field) for t in TUNABLES)
        if self._address_key is None or key == self._address_key:
            return
        self._address_key = key
        history.replaceState(None, "", link_query(signal, str(location.search)))

    async def share_link(self) -> None:
        """Copy the page's address (which carries the settings and seed) to the clipboard."""
        from js import location, navigator

        href = str(location.href)
        try:
            await navigator.clipboard.writeText(href)
        except Exception:  # noqa: BLE001 - no clipboard here (an insecure page, a refused permission)
            self.notify("info", f"Copy this link to share these settings: {href}")
            return
        self.notify("info", f"Copied a link to these settings: {href}")

    async def _give_settings(self, settings: TrainingSettings | None) -> ResponseSignal | ErrorSignal:
        """Send the worker these settings (if any); its reply to a status request once it took them."""
        for command in settings.commands() if settings is not None else []:
            self.send(command)
        return await self.request(Status())

    def _set_training_enabled(self, enabled: bool) -> None:
        """Training controls and import (they need the worker); drawing and export do not."""
        self.controls.set_enabled(enabled)
        self.import_input.disabled = not enabled

    def _set_enabled(self, enabled: bool) -> None:
        self.controls.set_enabled(enabled)
        self.grid.set_enabled(enabled)
        self.export_button.disabled = not enabled
        self.import_input.disabled = not enabled
        by_testid("samples-all").disabled = not enabled
        by_testid("share-link").disabled = not enabled
        by_testid("clear-all").disabled = not enabled

    # ---- talking to the worker -------------------------------------------------------------------

    def send(self, command: Command) -> int:
        """Send a command to the worker (encoded, and checked, by the protocol); returns its id."""
        command_id = self._next_id
        self._next_id += 1
        if isinstance(command, Reset):
            self.counts.clear()
        wire = encode_command(replace(command, id=command_id))
        decode_command(wire)  # the worker's own checks, so a bad value fails here, where it was made
        message, transfer = to_js_message(wire)
        self.bridge.post(message, transfer)
        return command_id

    async def request(self, command: Command) -> ResponseSignal | ErrorSignal:
        """Send a command and wait for the worker's reply to it."""
        command_id = self.send(command)
        future = asyncio.get_event_loop().create_future()
        self._replies[command_id] = future
        return await future

    def on_frame(self, batch: Any) -> float | None:
        """Called by the bridge at most once per animation frame with what arrived since the last one.

        The worker already paces its signals and weights (`pacing`), so whatever arrived is shown.
        Returns the milliseconds until this page wants a frame of its own accord (a chart redraw or
        a tile's prediction that waits), or None: the bridge sets a timer instead of asking for
        every frame in between.
        """
        for event in batch.events:
            try:
                self._event(from_js_message(event))
            except Exception as error:  # one bad message must not stop the page
                self.notify("error", f"A message from the worker could not be handled: {error}")
        # A new worker's signals (its random first weights) must not reach the predictions
        # or the autosave until it holds the page's weights.
        if batch.signal is not None and not self.recovering:
            raw = from_js_message(batch.signal)
            raw["weights"] = None if batch.weights is None else from_js_message(batch.weights)
            try:
                self._follow(decode_signal(raw))
            except (ProtocolError, WeightsError) as error:
                self.notify("error", f"The worker sent a signal the page cannot use: {error}")
        now = time.monotonic()
        chart_wait = self.charts.redraw(now)
        if chart_wait is not None and self.signal is not None and self.signal.training:
            # The next progress signal's frame redraws the charts: a frame of their own would cost a
            # second commit. The timer is only for a signal that does not come (data ran out).
            chart_wait = max(chart_wait, 1.5 * SIGNAL_EVERY_S)
        picture_wait = self.weights_view.refresh(now, busy=batch.signal is not None)
        waits = [wait for wait in (self.grid.refresh(now), chart_wait, picture_wait) if wait is not None]
        return 1000 * min(waits) if waits else None

    def _event(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "progress":
            if self.recovering:  # the loading screen is gone: the status line tells the new worker's progress
                set_text(self.loading.status, f"restarting the training worker: {message.get('detail')}")
            else:
                self.loading.stage(str(message.get("stage")), str(message.get("detail")))
        elif kind == "ready":
            self.worker_ready = True
            self._spawn(self._recover() if self.ready else self._maybe_ready())
        elif kind == "worker_lost":
            self._worker_lost(str(message.get("reason")))
        elif kind == "offline":
            self.offline.show(str(message.get("state")), str(message.get("detail") or ""))
        elif kind == "error":
            self._error(message)
        elif kind == "signal":
            # Replies come here too, and signals with a confusion matrix: each one, never dropped.
            reply = decode_signal(message)
            if isinstance(reply, ResponseSignal) and reply.confusion is not None:
                self.confusion.show(reply.confusion)  # rides once: a newer signal in this frame lacks it
            self._reply(message.get("reply_to"), reply)

    def _error(self, message: dict[str, Any]) -> None:
        try:
            error = decode_signal(message)
        except ProtocolError:
            error = ErrorSignal(seq=0, kind="internal", field=None, message=str(message.get("message")),
                                command=None, reply_to=None)
        if not self.ready:
            self.loading.fail(self.loading.active.get("worker"), error.message)
            return
        if self.recovering and not self.worker_ready:  # the new worker could not start
            self._worker_lost(f"a new one could not start: {error.message}")
            return
        self.notify("error", error.message)
        self.controls.worker_error(error.field, error.message)
        self._reply(error.reply_to, error)

    def _reply(self, reply_to: int | None, reply: ResponseSignal | ErrorSignal) -> None:
        if reply_to is None:
            return
        self.controls.replied(reply_to)
        future = self._replies.pop(reply_to, None)
        if future is not None and not future.done():
            future.set_result(reply)

    def _follow(self, signal: ResponseSignal) -> None:
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
        self._show_in_address(signal)
        set_text(self.train_state, train_state_text(signal))  # also says when it waits for data
        if signal.weights is not None:
            self.predictor.use_signal_weights(signal.weights)
        self.autosave.consider(Snapshot(self.predictor.version, self.predictor.weights, bool(signal.training),
                                        settings_from_signal(signal), signal.iteration, signal.samples_seen,
                                        signal.epoch, self.charts.curve, signal.seed))

    async def _switch_to_update(self) -> None:
        """Keep the newest weights and settings, then let the waiting build take over (the page reloads)."""
        self.autosave.save_now()
        await self.autosave.settled()
        if not self.bridge.applyUpdate():
            self.notify("error", "No new version of Inkling is waiting any more: reload the page to look again.")

    # ---- the worker's death ------------------------------------------------------------------

    def _worker_lost(self, reason: str) -> None:
        """The worker died (bridge.js noticed): keep what the page holds, start a new one if sensible."""
        if not self.ready:
            self.loading.fail(self.loading.active.get("worker"),
                              f"the training worker stopped while starting: {reason}. Reload the page.")
            return
        if not self.recovering:
            self._resume_training = bool(self.signal is not None and self.signal.training)
            self._lost_settings = None if self.signal is None else settings_from_signal(self.signal)
            self._lost_seed = None if self.signal is None else self.signal.seed
            self.counts.restarted(self.signal)
            self.autosave.save_now()  # the page's newest weights, in case the tab goes too
        self.autosave.enabled = False
        self.recovering = True
        self.worker_ready = False
        self._losses += 1
        self._fail_pending(f"the training worker stopped ({reason})")
        self._set_training_enabled(False)
        self.controls.resync()
        set_text(self.train_state, "stopped")
        if not self.guard.allow():
            set_text(self.loading.status, "error: the training worker keeps stopping")
            self.notify("error", f"The training worker stopped again ({reason}), {self.guard.max_restarts + 1} times "
                                 f"within {RESTART_WINDOW_S / 60:.0f} minutes, so no new one is started. Your weights "
                                 "are saved in this browser: reload the page to go on.")
            return
        set_text(self.loading.status, "restarting the training worker")
        self.notify("error", f"The training worker stopped ({reason}). Starting a new one with your newest weights "
                             f"and settings; at most the last {AUTOSAVE_EVERY_S:.0f} s of training (the autosave "
                             "interval) can be lost. Drawing and predictions keep working meanwhile.")
        self.bridge.restartWorker()

    def _fail_pending(self, why: str) -> None:
        """Commands the lost worker will never answer: their waiters get an error instead."""
        replies, self._replies = self._replies, {}
        for future in replies.values():
            if not future.done():
                future.set_result(ErrorSignal(seq=0, kind="internal", message=why))

    async def _recover(self) -> None:
        """A new worker is ready after a loss: give it the newest weights and settings, resume training."""
        losses = self._losses
        weights, source, seed = self.predictor.weights(), "your newest weights", self._lost_seed
        if weights is None:
            saved = await self.autosave.restore()
            weights, source, seed = ((None, "new random weights", None) if saved is None
                                     else (saved.weights, "the saved weights", saved.seed))
        if weights is not None and not await self.apply_weights(weights, source, seed):
            source = "new random weights"
        reply = await self._give_settings(self._lost_settings)
        if losses != self._losses or not isinstance(reply, ResponseSignal):
            return  # this worker was lost too; its successor recovers
        if self._resume_training:
            self.send(Start())
        self.recovering = False
        self._follow(reply)
        self.autosave.enabled = True
        self._set_training_enabled(True)
        set_text(self.loading.status, "ready")
        goes_on = " Training goes on." if self._resume_training else ""
        self.notify("info", f"A new training worker took over with {source} and your settings "
                            f"(restart {self.guard.total} of this page).{goes_on}")

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
            reply = await self.request(Evaluate())
        finally:
            button.removeAttribute("data-busy")
            button.disabled = False
        if isinstance(reply, ResponseSignal) and reply.test_acc is not None:
            self.notify("info", f"Test accuracy: {100 * reply.test_acc:.2f}% of the 10,000 test digits.")

    def _show_pair(self, true: int, predicted: int, confusion: Confusion) -> None:
        """Fill the grid with the test digits labelled ``true`` that were read as ``predicted``."""
        indices = confusion.pair_examples(true, predicted)
        count = int(confusion.counts[true, predicted])
        self.grid.show_digits(indices)
        what = "read right" if true == predicted else f"read as {predicted}"
        self.notify("info", f"The grid shows {len(indices)} of the {count:,} test digits that are {true}, {what} "
                            "at the last evaluation.")

    def teach(self, pixels: np.ndarray, label: int) -> None:
        """Train on one drawing (already preprocessed) as digit ``label``."""
        if self.recovering:
            self.notify("error", "Teaching waits for the new training worker: try again in a few seconds.")
            return
        self.send(TrainDrawing(np.asarray(pixels, np.float32), label))

    def export(self) -> None:
        """Download the current weights as an .npz file."""
        weights = self.predictor.weights()
        if weights is None:
            self.notify("error", "No weights yet: wait for the worker to report.")
            return
        name = export_weights(self.bridge, weights)
        self.notify("info", f"Exported {name}: load it in Python with numpy.load('{name}').")

    def _import_chosen(self) -> None:
        files = self.import_input.files
        if files.length == 0:
            return
        file = files.item(0)
        self.import_input.value = ""  # choosing the same file again is a new change
        self._spawn(self._import(file))

    async def _import(self, file: Any) -> None:
        try:
            weights = await read_weights_file(file)
        except WeightsError as error:
            self.notify("error", f"{file.name} was not loaded (your current weights are kept): {error}")
            return
        if await self.apply_weights(weights, file.name):
            self.notify("info", f"Loaded {file.name} ({architecture(weights)}).")

    async def apply_weights(self, weights: Mapping[str, np.ndarray], source: str = "the saved weights",
                            seed: int | None = None) -> bool:
        """Give the worker these weights (with new hidden layers if they need them); True if it took them.

        ``seed`` is the seed of the run they come from, if known: the page goes on showing it.
        """
        problem = weights_problem(weights)
        if problem is not None:
            self.notify("error", f"{source} cannot be used (your current weights are kept): {problem}")
            return False
        # Weights of other hidden layers make the worker switch to a network of that shape.
        reply = await self.request(SetWeights(dict(weights), seed=seed))
        return isinstance(reply, ResponseSignal)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)  # asyncio keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)


def main() -> App:
    """Start the page (called by web/main.py once PyScript has loaded numpy and inkling)."""
    app = App()
    app.start()
    return app
