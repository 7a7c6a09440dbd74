"""The page's side of the training worker: numbered commands, replies to requests, every message
decoded once, and the newest signal of each frame. Its JS half is ``web/bridge.js``, which holds
the worker and hands over one batch per animation frame.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, Callable

from ..errors import ProtocolError, WeightsError
from ..messages.protocol import (Command, ErrorSignal, ResponseSignal, Signal, decode_command, decode_signal,
                                 encode_command)
from ..messages.wire import from_js_message, to_js_message

Reply = ResponseSignal | ErrorSignal


class WorkerClient:
    """Sends typed commands to the worker and hands what comes back to narrow callbacks.

    Args:
        bridge: ``web/bridge.js``'s ``inklingBridge`` (``post(message, transfer)``).
        on_event: Every message in order, decoded (progress, ready, errors, replies, the glue's
            events); a reply also resolves its request first.
        on_signal: The newest progress signal of a frame, with the newest weights.
        on_trouble: A message that cannot be used: what to tell the person.
    """

    def __init__(self, bridge: Any, on_event: Callable[[Signal], None], on_signal: Callable[[ResponseSignal], None],
                 on_trouble: Callable[[str], None]) -> None:
        self._bridge = bridge
        self._on_event = on_event
        self._on_signal = on_signal
        self._on_trouble = on_trouble
        self._next_id = 1
        self._replies: dict[int, asyncio.Future[Reply]] = {}

    def send(self, command: Command) -> int:
        """Send a command (encoded, and checked, by the protocol); returns its id."""
        command_id = self._next_id
        self._next_id += 1
        wire = encode_command(replace(command, id=command_id))
        decode_command(wire)  # the worker's own checks, so a bad value fails here, where it was made
        message, transfer = to_js_message(wire)
        self._bridge.post(message, transfer)
        return command_id

    async def request(self, command: Command) -> Reply:
        """Send a command and wait for the worker's reply to it."""
        command_id = self.send(command)
        future: asyncio.Future[Reply] = asyncio.get_event_loop().create_future()
        self._replies[command_id] = future
        return await future

    def fail_pending(self, why: str) -> None:
        """Requests the lost worker will never answer: their waiters get an error instead."""
        replies, self._replies = self._replies, {}
        for future in replies.values():
            if not future.done():
                future.set_result(ErrorSignal(seq=0, kind="internal", message=why))

    def frame(self, batch: Any, follow: Callable[[], bool]) -> bool:
        """Take a frame's batch from the bridge: every event, then (if ``follow()``) the newest signal.

        ``follow()`` is False while a new worker does not yet hold the page's weights: its signals
        (its random first weights) must not reach the predictions. It is asked after the events,
        since one of them may be the loss of the worker whose last signal this batch holds: that
        signal is then the lost worker's last word, and the page's counts have already moved on.
        Returns whether a signal came.
        """
        for event in batch.events:
            try:
                message = decode_signal(from_js_message(event))
            except ProtocolError as error:
                self._on_trouble(f"A message from the worker could not be used: {error}")
                continue
            reply_to = getattr(message, "reply_to", None)
            if reply_to is not None:
                future = self._replies.pop(reply_to, None)
                if future is not None and not future.done():
                    future.set_result(message)
            try:
                self._on_event(message)
            except Exception as error:  # one bad message must not stop the page
                self._on_trouble(f"A message from the worker could not be handled: {error}")
        if batch.signal is None or not follow():
            return batch.signal is not None
        raw = from_js_message(batch.signal)
        raw["weights"] = None if batch.weights is None else from_js_message(batch.weights)
        try:
            signal = decode_signal(raw)
        except (ProtocolError, WeightsError) as error:
            self._on_trouble(f"The worker sent a signal the page cannot use: {error}")
            return True
        if isinstance(signal, ResponseSignal):
            self._on_signal(signal)
        return True
