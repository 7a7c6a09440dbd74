"""The training worker's one Python entry point: a Trainer wired to postMessage and pyfetch.

``workers/worker.js`` loads Pyodide, numpy and this package, then calls `boot`,
and hands every message it receives to the function `boot` returns.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from ..errors import DataError
from ..trainer import Trainer
from .wire import from_js_message, to_js_message

_running: set[asyncio.Task] = set()  # the trainer loop; asyncio only keeps weak references


def post(message: dict[str, Any]) -> None:
    """Send a wire dict to the page, every array's buffer transferred (never copied or JSON'd)."""
    from js import self as worker_scope

    js_message, transfer = to_js_message(message)
    worker_scope.postMessage(js_message, transfer)


# The page shows ten sets of weights a second at most; sending fewer spares both threads a copy.
WEIGHTS_EVERY_S = 0.05


def make_fetch(data_url: str) -> Callable[[str], Awaitable[bytes]]:
    """The Trainer's ``fetch``: the bytes of ``data_url + path``, via ``pyfetch``.

    Raises (from the returned coroutine):
        DataError: The request failed or the server did not answer 200.
    """
    from pyodide.http import pyfetch

    async def fetch(path: str) -> bytes:
        url = data_url + path
        try:
            response = await pyfetch(url)
        except Exception as error:  # a failed fetch surfaces as a JS TypeError
            raise DataError(f"could not fetch {url}: {error}", path) from None
        if not response.ok:
            raise DataError(f"{url} answered HTTP {response.status}", path)
        return await response.bytes()

    return fetch


def _internal_error(message: str) -> dict[str, Any]:
    return {"type": "error", "seq": 0, "kind": "internal", "field": None, "message": message,
            "command": None, "reply_to": None}


async def boot(data_url: str) -> Callable[[Any], None]:
    """Start the trainer; report the data stage and ``ready``; return the message handler.

    Args:
        data_url: Absolute URL of the site's data folder, ending in ``/``.

    Returns:
        ``handle(message)`` for every message the page sends (a JS object).
        Its proxy lives as long as the worker, so it is never destroyed.
    """
    fetch = make_fetch(data_url)
    # Resolved by the first block the cache fetches (or its failure): start-up's last stage.
    first_block: asyncio.Future = asyncio.get_event_loop().create_future()

    async def fetch_and_note(path: str) -> bytes:
        try:
            data = await fetch(path)
        except DataError as error:
            if not first_block.done():
                first_block.set_exception(error)
            raise
        if path != "manifest.json" and not first_block.done():
            first_block.set_result(path)
        return data

    post({"type": "progress", "stage": "data", "detail": "reading the data manifest"})
    trainer = Trainer(post, fetch_and_note, weights_every_s=WEIGHTS_EVERY_S)
    await trainer.setup()
    post({"type": "progress", "stage": "data", "detail": "fetching the first block of MNIST"})
    task = asyncio.ensure_future(_run(trainer))
    _running.add(task)
    await first_block  # a DataError here fails start-up, reported by worker.js with its stage
    post({"type": "ready"})

    def handle(message: Any) -> None:
        try:
            trainer.submit(from_js_message(message))
        except Exception as error:  # the last line of defence: report it, keep the worker alive
            post(_internal_error(f"the worker could not take a command: {error!r}"))

    return handle


async def _run(trainer: Trainer) -> None:
    try:
        await trainer.run()
    except Exception as error:
        post(_internal_error(f"the training loop stopped: {error!r}"))
