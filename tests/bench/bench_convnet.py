"""convnet: training samples/s of a convnet in the page's worker against the same Trainer natively.

The network is the one `shared/RUNTIME.md` measured reaching 99.3% (``c16:5,p2,c32:5,p2,128``, valid
convolutions). Browser: the page's worker, forced engine per page (``?engine=NAME``); native: the same
Trainer in CPython with numpy on one BLAS thread, in the same run (`native_step.py`).
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .bench_kernel import timing_page
from .bench_throughput import _native_rate, rate_entry, rate_rows
from .harness import Bench, measure_rate, set_field, start_training, stop_training, wait_signal

NAME = "convnet"
NETWORK = "c16:5,p2,c32:5,p2,128"
BATCHES = (32, 64)
ENGINES = ("numpy", "wasm relaxed-simd")  # the fallback and what a user gets on Chromium


def _browser_rate(page: Any, batch: int, warmup_s: float, window_s: float) -> dict[str, float]:
    set_field(page, "batch-size", batch)
    wait_signal(page, f"s.batch_size === {batch}")
    start_training(page)
    page.wait_for_timeout(warmup_s * 1000)
    rate = measure_rate(page, window_s)
    stop_training(page)
    return rate


def run(bench: Bench) -> dict[str, Any]:
    """Per run: one page per engine measuring each batch size, then CPython measuring the same."""
    warmup_s, window_s = bench.settings.pick((2.0, 4.0), (4.0, 10.0), smoke=(0.5, 1.0))
    keys = [f"{NETWORK}/b{b}" for b in BATCHES]
    browser: dict[str, dict[str, list[float]]] = {e: {k: [] for k in keys} for e in ENGINES}
    native: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
    for _ in range(bench.settings.runs):
        for engine in ENGINES:
            with bench.ready_page(f"?engine={quote(engine)}&hidden-size={quote(NETWORK)}") as page:
                wait_signal(page, f"s.hidden.join() === '{NETWORK}'")
                for batch, key in zip(BATCHES, keys):
                    browser[engine][key].append(_browser_rate(page, batch, warmup_s, window_s)["samples_per_s"])
        for batch, key in zip(BATCHES, keys):
            native[key].append(_native_rate(bench.settings.dist, NETWORK, batch, 1.0, min(window_s, 4.0)))
    result: dict[str, Any] = {"phases_ms": timing_page(bench, "convnet_timing")}
    for key in keys:
        result[key] = rate_entry(native[key], {engine: browser[engine][key] for engine in ENGINES})
    result["note"] = (f"browser: the page's worker with ?engine=NAME&hidden-size={NETWORK}, momentum, no augmentation, "
                      f"{window_s:g} s window after {warmup_s:g} s warm-up; native: the same Trainer in CPython, one "
                      "BLAS thread, same run")
    return result


def rows(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """The lines of the printed table."""
    return [line for key, entry in result.items() if key not in ("note", "phases_ms")
            for line in rate_rows(key, entry, ENGINES)]
