"""A helper worker's one Python entry point: it computes the gradients of its share of each step on
the board the training worker gives it (`inkling.training.data_parallel`), and nothing else: no
data, no optimizer, no signals to the page.

``workers/worker.js`` started with ``role=helper`` loads Pyodide, numpy and this package, calls
`boot`, then hands it every message from the training worker that started it.
"""

from __future__ import annotations

from typing import Any, Callable

from ..messages.protocol import BoardJoined, JoinBoard, ReadySignal, decode_helper_message, encode_signal
from ..messages.wire import from_js_message
from ..network.engine import use_engine
from ..network.engine.select import choose_engine
from ..network.layers import parse_hidden
from ..network.models import fresh_network
from ..training.data_parallel import BoardLayout, serve_steps
from .board import JsBoard
from .main import post  # to whoever started this worker: for a helper, the training worker


def boot(engine: str = "auto") -> Callable[[Any], None]:
    """Choose the engine as the training worker does (the same engine gives the same bits), say
    ``ready``; return the handler of the training worker's messages."""
    chosen, _ = choose_engine(engine)
    use_engine(chosen)
    post(encode_signal(ReadySignal()))

    def handle(data: Any) -> None:
        board = getattr(data, "board", None)
        if board is not None:
            del data.board  # shared memory: read through the board, never converted to Python
        try:
            join = decode_helper_message(from_js_message(data))
            if not isinstance(join, JoinBoard) or board is None:
                raise ValueError("expected a board to join")
            layout = BoardLayout(join.param_sizes, join.max_batch, join.helpers)
            model = fresh_network(parse_hidden(join.hidden), 0)  # its weights come from the board
            sizes = tuple(int(p.size) for p in model.params)
            if sizes != layout.param_sizes:
                raise ValueError(f"the network {join.hidden} has parameters {sizes}, the board {layout.param_sizes}")
        except Exception as error:  # noqa: BLE001 - said to the training worker, which goes on without it
            # The training worker knows which helper spoke: slot and generation matter only when they are right.
            post(encode_signal(BoardJoined(0, 0, f"could not join: {error}")))
            return
        post(encode_signal(BoardJoined(join.slot, join.generation)))
        # Blocks this worker until the board's quit flag: it has nothing else to do, and a blocked
        # worker wakes within microseconds of a step, where its event loop would take a task per step.
        serve_steps(JsBoard(board), layout, join.slot, model)

    return handle
