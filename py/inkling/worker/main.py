"""The training worker's one Python entry point: a Trainer wired to postMessage and pyfetch.

``workers/worker.js`` loads Pyodide, numpy and this package, then calls `boot`,
and hands every message it receives to the function `boot` returns.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from ..data.block_fetcher import DEFAULT_TIMEOUT
from ..data.blocks import DigestedBytes
from ..errors import DataError
from ..messages.protocol import ProgressSignal, ReadySignal, encode_signal
from ..messages.wire import from_js_message, to_js_message
from ..network.engine import use_engine
from ..network.engine.select import choose_engine
from ..training.pacing import EVAL_EVERY_S, SIGNAL_EVERY_S, WEIGHTS_EVERY_S
from ..messages.tunables import MAX_WORKERS
from ..training.trainer import Trainer
from .group import WorkerGroup

_running: set[asyncio.Task] = set()  # the trainer loop; asyncio only keeps weak references


def post(message: dict[str, Any]) -> None:
    """Send a wire dict to the page, every array's buffer transferred (never copied or JSON'd)."""
    from js import self as worker_scope

    js_message, transfer = to_js_message(message)
    worker_scope.postMessage(js_message, transfer)


# With the kernel a step takes about as long as one yield to the event loop: so steps run in slices
# of a frame, each ending with one yield (commands wait at most that long). Progress signals and
# weights go out at the rates the page shows them (`pacing`), not after every slice.
SLICE_S = 1 / 60


def make_fetch(data_url: str, timeout: float = DEFAULT_TIMEOUT) -> Callable[[str], Awaitable[bytes]]:
    """The Trainer's ``fetch``: the bytes of ``data_url + path``, via ``pyfetch``.

    The request is aborted after ``timeout`` seconds (headers and body), so a server
    that stalls frees its connection; the cache's own timeout (cancelling the task,
    which pyfetch also turns into an abort) is what counts the failure.

    Raises (from the returned coroutine):
        DataError: The request failed, timed out, or the server did not answer 200.
    """
    from js import AbortSignal, crypto
    from pyodide.http import pyfetch

    subtle = getattr(crypto, "subtle", None)  # WebCrypto exists only in secure contexts (https, localhost)

    async def fetch(path: str) -> bytes:
        url = data_url + path
        try:
            response = await pyfetch(url, signal=AbortSignal.timeout(int(timeout * 1000)))
            if not response.ok:
                raise DataError(f"{url} answered HTTP {response.status}", path)
            # Not response.buffer(): pyodide 0.27's wrapper turns a body that breaks off (a dropped
            # connection) into "'NoneType' object has no attribute 'message'"; the JS read says why.
            try:
                buffer = await response.js_response.arrayBuffer()
            except asyncio.CancelledError:  # the cache's own timeout: free the connection now
                response.abort()
                raise
            if subtle is None:
                return buffer.to_bytes()
            # Native code: hashlib in WebAssembly took ~3 ms a block, and training ran 10-17% faster without it.
            digest = await subtle.digest("SHA-256", buffer)
            return DigestedBytes(buffer.to_bytes(), digest.to_bytes().hex())
        except DataError:
            raise
        except Exception as error:  # a failed or aborted fetch surfaces as a JS error (AbortError)
            raise DataError(f"could not fetch {url}: {error}", path) from None

    return fetch


def engine_detail(name: str, passed_over: list[str]) -> str:
    """What to say about the engine in use, and why any faster one was passed over."""
    return f"engine: {name}" + (f" ({'; '.join(passed_over)})" if passed_over else "")


async def boot(data_url: str, engine: str = "auto", workers: int = 1) -> Callable[[Any], None]:
    """Choose the engine, start the trainer; report the data stage and ``ready``; return the message handler.

    Args:
        data_url: Absolute URL of the site's data folder, ending in ``/``.
        engine: ``auto`` or an engine name (see `inkling.network.engine.select.load_engine`).
        workers: How many workers share each step until the page says otherwise (the table's
            limits apply: a count beyond them is held to them).

    Returns:
        ``handle(message)`` for every message the page sends (a JS object).
        Its proxy lives as long as the worker, so it is never destroyed.
    """
    post(encode_signal(ProgressSignal("package", "loading the WebAssembly kernel")))
    chosen, passed_over = choose_engine(engine)
    use_engine(chosen)
    post(encode_signal(ProgressSignal("package", engine_detail(chosen.name, passed_over))))
    post(encode_signal(ProgressSignal("data", "reading the data manifest")))
    from js import self as worker_scope

    group = WorkerGroup(worker_scope.inklingSpawnHelper)
    trainer = Trainer(post, make_fetch(data_url), weights_every_s=WEIGHTS_EVERY_S, signal_every_s=SIGNAL_EVERY_S,
                      slice_s=SLICE_S, eval_every_s=EVAL_EVERY_S, group=group,
                      workers=min(max(int(workers), 1), MAX_WORKERS))
    await trainer.setup()  # a DataError here (no manifest) fails start-up, reported by worker.js
    assert trainer.cache is not None
    post(encode_signal(ProgressSignal("data", "fetching the first block of MNIST")))
    task = asyncio.ensure_future(_run(trainer))
    _running.add(task)
    try:
        # The cache retries and skips bad blocks: one flaky block does not fail start-up, but a
        # data folder from which not a single block arrives does, saying why.
        await trainer.cache.first_block()
    except DataError:
        trainer.close()
        raise
    post(encode_signal(ReadySignal()))

    def handle(message: Any) -> None:
        try:
            trainer.submit(from_js_message(message))
        except Exception as error:  # the last line of defence: report it, keep the worker alive
            trainer.report_failure(f"the worker could not take a command: {error!r}")

    return handle


async def _run(trainer: Trainer) -> None:
    try:
        await trainer.run()
    except Exception as error:
        trainer.report_failure(f"the training loop stopped: {error!r}")
