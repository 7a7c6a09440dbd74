"""The training controls: buttons and settings that become commands, kept in step with the worker."""

from __future__ import annotations

import random
from typing import Any, Callable

from ..messages.protocol import (MAX_SEED, Command, Reset, ResponseSignal, Start, Stop, setting_command,
                                 setting_command_from_text)
from ..messages.tunables import (BY_FIELD, DEFAULTS, HIDDEN_SIZE, KEPT, LEARNING_RATE, OPTIMIZER, SEED, TUNABLES,
                                 SettingError, Tunable)
from ..network.layers import format_hidden
from ..network.optim import SUGGESTED_LRATES
from ..training.recipes import RECIPES, Recipe
from .dom import by_testid, document, listen, set_text

Send = Callable[[Command], int]  # sends a command, returns its id
Notify = Callable[[str, str], None]

_TYPED = tuple(t for t in TUNABLES if t.kind in ("whole", "real", "layers"))  # text inputs
_FOLLOWED = tuple(t for t in _TYPED if t is not SEED)  # inputs that show the worker's value
_HANDOVER = {"start": "stop", "train-epoch": "stop", "stop": "start"}  # a button -> the one that undoes it


class Controls:
    """Start, stop, evaluate, reset, the recipes, and the settings inputs (applied on change).

    A value is checked in the page first (with the protocol's rules) and refused
    with a message; a value the worker still rejects shows the worker's error on
    the same input. Inputs follow the worker's values except while the user edits
    one, while it holds a refused value, or while its command is on the way.

    Args:
        send: Sends a command to the worker; returns its id.
        notify: Shows a message.
        evaluate: Runs an evaluation on the test set (the app tracks its reply).
    """

    def __init__(self, send: Send, notify: Notify, evaluate: Callable[[], None]) -> None:
        self._send = send
        self._notify = notify
        self.signal: ResponseSignal | None = None
        self._in_flight: dict[str, int] = {}  # input testid -> id of the command that sets it
        self._synced: tuple | None = None  # what `sync` last showed
        self.buttons = {name: by_testid(name) for name in ("start", "train-epoch", "stop", "evaluate", "reset")}
        self.inputs = {t.testid: by_testid(t.testid) for t in _TYPED}
        self.choices = {t.testid: by_testid(t.testid) for t in TUNABLES if t.kind == "choice"}  # selects
        self.switches = {t.testid: by_testid(t.testid) for t in TUNABLES if t.kind == "switch"}  # checkboxes
        self.recipes = {name: by_testid(f"recipe-{name}") for name in RECIPES}
        self.hidden_note = by_testid("hidden-note")
        self.train_state = by_testid("train-state")
        self.enabled = False

        listen(self.buttons["start"], "click", lambda _e: self._command(Start()))
        listen(self.buttons["train-epoch"], "click", lambda _e: self._command(Start(epochs=1)))
        listen(self.buttons["stop"], "click", lambda _e: self._command(Stop()))
        listen(self.buttons["evaluate"], "click", lambda _e: evaluate())
        listen(self.buttons["reset"], "click", lambda _e: self._reset())
        for name, button in self.recipes.items():
            listen(button, "click", lambda _e, r=RECIPES[name]: self._use_recipe(r))
        for setting in _TYPED:
            listen(self.inputs[setting.testid], "input", lambda _e, s=setting: self._mark(s.testid, None))
            if setting.live:
                listen(self.inputs[setting.testid], "change", lambda _e, s=setting: self._apply(s))
        listen(self.inputs[HIDDEN_SIZE.testid], "change", lambda _e: self._hidden_changed())
        for setting in TUNABLES:
            if setting.kind == "choice":
                listen(self.choices[setting.testid], "change", lambda _e, s=setting: self._chosen(s))
            elif setting.kind == "switch":
                listen(self.switches[setting.testid], "change", lambda _e, s=setting: self._command(
                    setting_command(s, bool(self.switches[s.testid].checked)), s.testid))

    # ---- commands ------------------------------------------------------------------------

    def _command(self, command: Command, testid: str | None = None) -> None:
        command_id = self._send(command)
        if testid is not None:
            self._in_flight[testid] = command_id

    def _apply(self, setting: Tunable) -> None:
        node = self.inputs[setting.testid]
        try:
            command = setting_command_from_text(setting, node.value)
        except SettingError as error:
            self._mark(setting.testid, str(error))
            self._notify("error", f"{error}. Training goes on with the current value.")
            return
        self._mark(setting.testid, None)
        self._command(command, setting.testid)

    def _chosen(self, setting: Tunable) -> None:
        name = self.choices[setting.testid].value
        self._command(setting_command(setting, name), setting.testid)
        if setting is not OPTIMIZER:
            return
        # A rate that suits one optimizer can wreck another (Adam at momentum's 0.05 diverges within
        # a few steps), so choosing one also sets its suggested rate, and says so.
        self.inputs[LEARNING_RATE.testid].value = LEARNING_RATE.text(SUGGESTED_LRATES[name])
        self._apply(LEARNING_RATE)  # as if typed: checked, sent, and followed like any rate
        self._notify("info", f"Optimizer {name}: the learning rate is now {SUGGESTED_LRATES[name]:g}, the rate "
                             "that suits it (type another to change it).")

    def _reset_value(self, setting: Tunable) -> Any:
        """The value typed for the next Reset, or None (and a message) when it is not valid."""
        try:
            command = setting_command_from_text(setting, self.inputs[setting.testid].value)
        except SettingError as error:
            self._mark(setting.testid, str(error))
            self._notify("error", str(error))
            return None
        self._mark(setting.testid, None)
        return getattr(command, setting.field)

    def _hidden_value(self) -> tuple[int, ...] | None:
        return self._reset_value(HIDDEN_SIZE)

    def _hidden_changed(self) -> None:
        hidden = self._hidden_value()
        current = self.signal.hidden if self.signal is not None else None
        if hidden is None or hidden == current:
            self.hidden_note.hidden = True
            return
        set_text(self.hidden_note, f"Hidden layers {format_hidden(hidden)} take effect when you press Reset "
                                   "weights (that starts a new network: the current weights are discarded).")
        self.hidden_note.hidden = False

    def propose_run(self, hidden: tuple[int, ...] | None, seed: int | None) -> None:
        """Fill in a run's hidden layers and seed for the next Reset (a link or a recipe named them)."""
        if seed is not None:
            self.inputs[SEED.testid].value = str(seed)
        if hidden is not None:
            self.inputs[HIDDEN_SIZE.testid].value = format_hidden(hidden)
            self._hidden_changed()

    def _reset(self) -> None:
        said = self._new_run()
        if said is not None:
            self._notify("info", f"{said}.")

    def _new_run(self) -> str | None:
        """Send a reset to the hidden layers and seed typed; what it did, or None (and a message) if it could not."""
        hidden = self._hidden_value()
        if hidden is None:
            return None
        typed = self.inputs[SEED.testid].value.strip() != ""
        # No seed typed: a new random run each time; the seed drawn is shown, so it can be repeated.
        seed = self._reset_value(SEED) if typed else random.SystemRandom().randint(0, MAX_SEED)
        if seed is None:
            return None
        self.hidden_note.hidden = True
        self._command(Reset(hidden=hidden, seed=seed), HIDDEN_SIZE.testid)
        layers = (f"{hidden[0]} hidden units" if len(hidden) == 1 and isinstance(hidden[0], int)
                  else f"hidden layers {format_hidden(hidden)}")
        return (f"New random weights with {layers} from seed {seed}"
                f"{'' if typed else ' (drawn at random: type it under Seed to repeat this run)'}")

    def _use_recipe(self, recipe: Recipe) -> None:
        """Give the worker the recipe's settings and a new network of its shape: one click, then Start."""
        cache_size = self.signal.cache_size if self.signal is not None else DEFAULTS["cache_size"]
        for setting, command in zip(KEPT, recipe.settings(cache_size).commands()):
            self._command(command, setting.testid)
        for testid in self.inputs:
            self._mark(testid, None)  # a refused value typed before is replaced by the recipe's
        self.propose_run(recipe.hidden, None)
        said = self._new_run()
        if said is not None:
            self._notify("info", f"Recipe “{self.recipes[recipe.name].textContent}”: {said}. Press Start: it "
                                 f"reaches {recipe.reaches}.")

    # ---- feedback ------------------------------------------------------------------------

    def replied(self, command_id: int) -> None:
        """The worker answered command ``command_id``: its input may follow the worker again."""
        for testid, pending in list(self._in_flight.items()):
            if pending == command_id:
                del self._in_flight[testid]

    def worker_error(self, field: str | None, message: str) -> None:
        """The worker refused a value: mark its input."""
        setting = BY_FIELD.get(field or "")
        if setting is not None and setting.testid in self.inputs:  # a select or a checkbox holds no refusable text
            self._mark(setting.testid, message)

    def _mark(self, testid: str, problem: str | None) -> None:
        node = self.inputs[testid]
        if problem is None:
            node.removeAttribute("aria-invalid")
            node.removeAttribute("title")
        else:
            node.setAttribute("aria-invalid", "true")
            node.setAttribute("title", problem)

    def set_enabled(self, enabled: bool) -> None:
        """Enable the controls once the page is ready."""
        self.enabled = enabled
        for node in (*self.inputs.values(), *self.choices.values(), *self.switches.values(), *self.recipes.values()):
            node.disabled = not enabled
        self._sync_buttons()

    def sync(self, signal: ResponseSignal) -> None:
        """Follow the worker's state: buttons by training or not, inputs by its values."""
        self.signal = signal
        values = {t.testid: t.text(getattr(signal, t.field)) for t in _FOLLOWED}
        chosen = {t.testid: getattr(signal, t.field) for t in TUNABLES if t.kind in ("choice", "switch")}
        state = (signal.training, tuple(values.values()), tuple(chosen.values()), tuple(self._in_flight.values()))
        if state == self._synced:
            return  # nothing the controls show has changed (most signals while training)
        self._synced = state
        self._sync_buttons()
        set_text(self.train_state, "training" if signal.training else "idle")
        document().body.classList.toggle("training", bool(signal.training))
        focused = document().activeElement
        for testid, value in values.items():
            node = self.inputs[testid]
            if testid in self._in_flight or node.getAttribute("aria-invalid") == "true" or node == focused:
                continue
            if testid == HIDDEN_SIZE.testid and not self.hidden_note.hidden:
                continue  # the user chose a size that waits for Reset
            if node.value != value:
                node.value = value
        for testid, value in chosen.items():
            if testid in self._in_flight or (testid in self.choices and self.choices[testid] == focused):
                continue
            if testid in self.choices and self.choices[testid].value != value:
                self.choices[testid].value = value
            elif testid in self.switches and bool(self.switches[testid].checked) != value:
                self.switches[testid].checked = value

    def resync(self) -> None:
        """Show the next signal in full even if it looks like the last one (a new worker took over)."""
        self._synced = None
        self._in_flight.clear()

    def _sync_buttons(self) -> None:
        training = self.signal is not None and self.signal.training
        known = self.signal is not None
        focused = str(getattr(document().activeElement, "id", "") or "")
        self.buttons["start"].disabled = not (self.enabled and known and not training)
        self.buttons["train-epoch"].disabled = not (self.enabled and known and not training)
        self.buttons["stop"].disabled = not (self.enabled and training)
        # Start hands over to Stop and back: keyboard focus goes along, or it would fall to the page's top.
        if focused in _HANDOVER and self.buttons[focused].disabled:
            other = self.buttons[_HANDOVER[focused]]
            if not other.disabled:
                other.focus()
        self.buttons["reset"].disabled = not self.enabled
        if not self.buttons["evaluate"].hasAttribute("data-busy"):
            self.buttons["evaluate"].disabled = not self.enabled
