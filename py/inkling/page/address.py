"""The page's address as the settings' home: the link it opened with applies, and from then on the
address follows every setting (`link` holds the pure rules; this is their browser side).
"""

from __future__ import annotations

import time
from typing import Any, Awaitable, Callable

from ..messages.protocol import Command, Reset, ResponseSignal, Status
from ..messages.tunables import TUNABLES
from .link import Link, changes, describe, link_query, read_link
from .worker_client import Reply

Said = list[tuple[str, str]]  # (kind, text) for the person
RATE_ONLY_EVERY_S = 10.0
_RATE = [t.field for t in TUNABLES].index("lrate")


class Address:
    """Applies the opening link once, then writes the settings into the address as they change.

    Args:
        send: Sends a command to the worker.
        request: Sends one and waits for the reply.
        follow: Shows a signal (the reply after the link's settings applied).
        propose_run: Fills the Reset inputs with a run (hidden layers, seed) without starting it.
        notify: Shows a message to the person.
    """

    def __init__(self, send: Callable[[Command], int], request: Callable[[Command], Awaitable[Reply]],
                 follow: Callable[[ResponseSignal], None], propose_run: Callable[[Any, Any], None],
                 notify: Callable[[str, str], None]) -> None:
        self._send, self._request, self._follow = send, request, follow
        self._propose_run, self._notify = propose_run, notify
        self._link = Link()  # what the address asked for when the page opened
        self._key: tuple | None = None  # None: the address is not written to before its link applied
        self._written_at = -RATE_ONLY_EVERY_S
        self._waiting: ResponseSignal | None = None  # a rate change not yet written

    def read(self) -> None:
        """Read the opening link (before any signal writes the address)."""
        from js import location

        self._link = read_link(str(location.search))

    async def apply(self, shown: ResponseSignal | None, restored: bool) -> Said:
        """Apply what the link asks for and differs from ``shown``; what to tell the person.

        A run the link names (hidden layers, seed) replaces fresh weights at once, but never weights
        restored from this browser: its values are filled in for Reset instead.
        """
        link = changes(self._link, shown) if shown is not None else self._link
        said: Said = []
        # Each asked, not just sent: the worker is the judge of what fits its memory (the cache's
        # budget, a network at the batch size), and what it refuses must not be announced as applied.
        applied = []
        for command in link.commands:
            reply = await self._request(command)
            if isinstance(reply, ResponseSignal):
                applied.append(command)
            else:
                said.append(("error", f"This link's {describe(Link([command]))} could not be used: {reply.message}."))
        run = {} if restored else link.run
        if run:
            reply = await self._request(Reset(**run))
            if not isinstance(reply, ResponseSignal):
                said.append(("error", f"This link's {describe(Link(run=run))} could not be used: {reply.message}; "
                                      "the network you had stays."))
                run = {}
        if applied or run:
            reply = await self._request(Status())
            if isinstance(reply, ResponseSignal):
                self._follow(reply)
                shown = reply
            said.append(("info", f"This link's settings apply: {describe(Link(applied, run))}."))
        if link.run and restored:
            # Filled in for Reset. Said only if the network differs: another seed for the same network
            # is not worth words (a plain reload restores the run's own seed, and does not land here).
            self._propose_run(link.run.get("hidden"), link.run.get("seed"))
            if shown is not None and link.run.get("hidden", shown.hidden) != shown.hidden:
                said.append(("info", f"This link's network ({describe(Link(run=link.run))}) starts when you press "
                                     "Reset weights: its values are filled in."))
        if link.refused:
            said.append(("error", f"This link's {'; '.join(link.refused)} could not be used; the rest applies."))
        self.follow_settings()
        if shown is not None:
            self.show(shown)
        return said

    def follow_settings(self) -> None:
        """From now on the address follows the settings (once the opening link has applied)."""
        self._key = ()

    def show(self, signal: ResponseSignal) -> None:
        """Write the settings into the address (without a new history entry), when they change.

        While training, the learning rate decays by itself every epoch (every second or two), and
        each write costs the main thread about 10 ms (`history.replaceState`): a change of the rate
        alone is written at most every `RATE_ONLY_EVERY_S` then, any other change at once.
        """
        key = _key_of(signal)
        if self._key is None or key == self._key:
            self._waiting = None
            return
        now = time.monotonic()
        rate_only = all(new == old for i, (new, old) in enumerate(zip(key, self._key)) if i != _RATE)
        if signal.training and rate_only and now - self._written_at < RATE_ONLY_EVERY_S:
            self._waiting = signal
            return
        self._write(signal, key, now)

    def _write(self, signal: ResponseSignal, key: tuple, now: float) -> None:
        from js import history, location  # each name from js costs a lookup: only when it is written

        self._key, self._written_at, self._waiting = key, now, None
        history.replaceState(None, "", link_query(signal, str(location.search)))

    async def share(self) -> None:
        """Copy the page's address (which carries the settings and seed) to the clipboard."""
        from js import location, navigator

        if self._waiting is not None:  # the link shared carries the rate in use now
            self._write(self._waiting, _key_of(self._waiting), time.monotonic())
        href = str(location.href)
        try:
            await navigator.clipboard.writeText(href)
        except Exception:  # noqa: BLE001 - no clipboard here (an insecure page, a refused permission)
            self._notify("info", f"Copy this link to share these settings: {href}")
            return
        self._notify("info", f"Copied a link to these settings: {href}")


def _key_of(signal: ResponseSignal) -> tuple:
    """Every setting of the table as ``signal`` reports it, in the table's order."""
    return tuple(getattr(signal, t.field) for t in TUNABLES)
