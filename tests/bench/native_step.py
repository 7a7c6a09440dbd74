"""The same inkling Trainer the page's worker runs, in CPython with native numpy.

Run as a script (a subprocess of the throughput benchmark, so its BLAS threads are set before
numpy loads): `python native_step.py DATA_DIR HIDDEN BATCH WARMUP_S WINDOW_S [augment]` (HIDDEN as the page writes
it: 128, or c16:5,p2,c32:5,p2,128; `augment`: with augmentation on, as the recipes train) prints one JSON line
{"samples_per_s", "step_only_samples_per_s", "blas_threads"}. The first number is the whole
Trainer iteration (cache, step, signal with weights, as in the worker); the second is only
`loss_and_grads` + the optimizer step on one in-memory batch.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "py"))

import numpy as np  # noqa: E402 (after the path)

from inkling.network.layers import parse_hidden  # noqa: E402
from inkling.network.models import fresh_network  # noqa: E402
from inkling.network.optim import make_optimizer  # noqa: E402
from inkling.training.augment import Augmenter  # noqa: E402
from inkling.training.trainer import Trainer  # noqa: E402


async def trainer_rate(data: Path, hidden: str, batch: int, warmup_s: float, window_s: float,
                       augment: bool = False) -> float:
    """Samples/s of a running Trainer over `window_s`, after `warmup_s`."""
    async def fetch(path: str) -> bytes:
        return (data / path).read_bytes()

    trainer = Trainer(lambda _message: None, fetch)
    trainer.submit({"type": "reset", "hidden": list(parse_hidden(hidden))})
    trainer.submit({"type": "set_batch_size", "batch_size": batch})
    trainer.submit({"type": "set_augment", "augment": augment})
    trainer.submit({"type": "start"})
    task = asyncio.ensure_future(trainer.run())
    await asyncio.sleep(warmup_s)
    t0, s0 = time.perf_counter(), trainer.learner.samples_seen
    await asyncio.sleep(window_s)
    t1, s1 = time.perf_counter(), trainer.learner.samples_seen
    trainer.close()
    await task
    return (s1 - s0) / (t1 - t0)


def step_rate(hidden: str, batch: int, window_s: float, augment: bool = False) -> float:
    """Samples/s of the bare step (forward, backward, optimizer, and augmentation if on) on one fixed batch."""
    rng = np.random.default_rng(0)
    x = rng.random((batch, 784), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    model = fresh_network(parse_hidden(hidden), 0)
    optimizer = make_optimizer("momentum", 0.05)
    augmenter = Augmenter(0)
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < window_s:
        optimizer.step(model.params, model.loss_and_grads(augmenter(x) if augment else x, y).grads)
        steps += 1
    return steps * batch / (time.perf_counter() - started)


def main() -> None:
    data, hidden, batch, warmup_s, window_s = sys.argv[1:6]
    augment = sys.argv[6:7] == ["augment"]
    trainer = asyncio.run(trainer_rate(Path(data), hidden, int(batch), float(warmup_s), float(window_s), augment))
    step = step_rate(hidden, int(batch), min(float(window_s), 3.0), augment)
    print(json.dumps({"samples_per_s": trainer, "step_only_samples_per_s": step,
                      "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}))


if __name__ == "__main__":
    main()
