"""workers: training samples/s in the page with 1, 2, ... workers sharing each step, the time the
training worker waits for the others' shares, what two independent workers get from this machine
(the ceiling any sharing can reach here), and a model of 4, 8 and 16 cores from those measurements.
"""
from __future__ import annotations

import os
from typing import Any

from inkling.network.layers import parse_hidden, step_flops_per_sample
from inkling.training.data_parallel import share_count

from .harness import Bench, measure_rate, set_field, start_training, stop_training, summary, wait_signal

NAME = "workers"
CONVNET = "c16:5,p2,c32:5,p2,128"  # the convnet recipe's network
CONFIGS = (("128", 32), ("128", 64), ("128", 256), ("512", 256), (CONVNET, 32))  # (hidden layers, batch size)
MODEL_CORES = (4, 8, 16)


def _key(hidden: str, batch: int) -> str:
    return f"{'convnet ' + hidden if hidden == CONVNET else f'784-{hidden}-10'}/b{batch}"


def _rate(page: Any, hidden: str, batch: int, workers: int, warmup_s: float, window_s: float) -> dict[str, float]:
    set_field(page, "workers", workers)
    start_training(page)
    # Helpers boot their own runtime: measure once every share has its worker (a small step has fewer
    # shares than workers: inkling.training.data_parallel.share_count).
    parts = share_count(step_flops_per_sample(parse_hidden(hidden)), batch, workers)
    wait_signal(page, f"s.workers === {workers} && s.workers_training === {parts}", timeout_ms=120_000)
    page.wait_for_timeout(warmup_s * 1000)
    rate = measure_rate(page, window_s)
    last = wait_signal(page, "true")
    stop_training(page)
    return {**rate, "barrier_ms": last["barrier_ms"]}


def _independent(bench: Bench, hidden: str, batch: int, warmup_s: float, window_s: float) -> float:
    """Samples/s of two pages training one worker each at once, summed: what two cores give here
    with nothing shared."""
    with bench.ready_page(f"?workers=1&hidden-size={hidden}&batch-size={batch}") as first, \
            bench.ready_page(f"?workers=1&hidden-size={hidden}&batch-size={batch}") as second:
        for page in (first, second):
            wait_signal(page, f"s.batch_size === {batch}")
            start_training(page)
        first.wait_for_timeout(warmup_s * 1000)
        a, b = (page.evaluate("() => window.__bench.last") for page in (first, second))
        first.wait_for_timeout(window_s * 1000)
        c, d = (page.evaluate("() => window.__bench.last") for page in (first, second))
        return sum((y["samples_seen"] - x["samples_seen"]) / ((y["t"] - x["t"]) / 1000) for x, y in ((a, c), (b, d)))


def model(one: float, two: float, barrier_s: float, batch: int, cores: int) -> float:
    """The rate on ``cores`` workers over one worker's, from the samples/s of 1 and 2 workers and the wait
    per step measured with 2. A step is serial work ``s`` (batch, augmentation, combining, optimizer: the
    training worker's alone), gradient work ``p`` shared evenly, and a wait ``w`` for the slowest share:
    one worker's step takes s + p, two workers' s + p/2 + w, so p = 2 (t1 - t2 + w). Assumes every worker
    gets a core of its own as fast as today's, the wait stays what 2 workers measured, and combining the
    shares grows negligibly."""
    t1, t2 = batch / one, batch / two
    p = max(0.0, min(t1, 2 * (t1 - t2 + barrier_s)))
    s = t1 - p
    return t1 / (s + p / cores + barrier_s)


def run(bench: Bench) -> dict[str, Any]:
    warmup_s, window_s = bench.settings.pick((2.0, 4.0), (3.0, 8.0), smoke=(0.5, 1.0))
    counts = list(range(1, max(2, os.cpu_count() or 2) + 1))
    result: dict[str, Any] = {"cores_here": os.cpu_count()}
    for hidden, batch in CONFIGS[:2] if bench.settings.smoke else CONFIGS:
        per_count: dict[int, list[dict[str, float]]] = {n: [] for n in counts}
        ceiling: list[float] = []
        for _ in range(bench.settings.runs):
            with bench.ready_page(f"?hidden-size={hidden}&batch-size={batch}") as page:
                wait_signal(page, f"s.batch_size === {batch}")
                for n in counts:
                    per_count[n].append(_rate(page, hidden, batch, n, warmup_s, window_s))
            ceiling.append(_independent(bench, hidden, batch, warmup_s, window_s))
        one = [r["samples_per_s"] for r in per_count[1]]
        entry: dict[str, Any] = {}
        for n in counts:
            rates = [r["samples_per_s"] for r in per_count[n]]
            entry[f"{n}_workers"] = {"samples_per_s": summary(rates, "samples/s"),
                                     "over_1_worker": summary([x / y for x, y in zip(rates, one)], "x"),
                                     "barrier_ms_per_step": summary([r["barrier_ms"] for r in per_count[n]], "ms")}
        entry["2_independent_workers_over_1"] = summary([c / y for c, y in zip(ceiling, one)], "x")
        two = [r["samples_per_s"] for r in per_count[2]]
        waits = [r["barrier_ms"] / 1000 for r in per_count[2]]
        entry["model_over_1_worker"] = {
            str(cores): summary([model(o, t, w, batch, cores) for o, t, w in zip(one, two, waits)], "x")
            for cores in (2, *counts[2:], *MODEL_CORES)}
        result[_key(hidden, batch)] = entry
    result["note"] = (
        f"one page per configuration, workers set live (1, 2, ... up to the cores here), {window_s:g} s window "
        f"after {warmup_s:g} s once every worker computes shares; barrier: the training worker's mean wait per "
        "step for the helpers' shares. 2_independent_workers: two pages each training on one worker at once "
        "(nothing shared): what two cores of this machine give at best. model: see bench_workers.model "
        "(every worker on a core of its own as fast as today's; the 2-worker wait stays)")
    return result


def rows(result: dict[str, Any]) -> list[tuple[str, Any]]:
    lines = []
    for key, entry in result.items():
        if not isinstance(entry, dict):
            continue
        for name, value in entry.items():
            if name.endswith("_workers"):
                lines += [(f"{key} {name} samples/s", value["samples_per_s"]),
                          (f"{key} {name} / 1 worker", value["over_1_worker"]),
                          (f"{key} {name} barrier ms/step", value["barrier_ms_per_step"])]
        lines.append((f"{key} 2 independent workers / 1", entry["2_independent_workers_over_1"]))
        lines += [(f"{key} model {cores} cores / 1", value) for cores, value in entry["model_over_1_worker"].items()]
    return lines
