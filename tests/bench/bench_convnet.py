"""convnet: training samples/s of a convnet in the page's worker against the same Trainer natively and
against TensorFlow.js training the same network in the same browser.

The network is the one `shared/RUNTIME.md` measured reaching 99.3% (``c16:5,p2,c32:5,p2,128``, valid
convolutions). Browser: the page's worker, forced engine per page (``?engine=NAME``); native: the same
Trainer in CPython with numpy on one BLAS thread, in the same run (`native_step.py`); TensorFlow.js: the
pinned 4.22 (`py/inkling_build/pins.py` BENCH_PINS, bench only) on each of its backends, once per bench
(`tests/bench/tfjs/`).
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .bench_kernel import timing_page
from .bench_throughput import _native_rate, rate_entry, rate_rows
from .harness import (TFJS_FILES, TFJS_PREFIX, Bench, measure_rate, result_page, set_field, start_training,
                      stop_training, summary, wait_signal)

NAME = "convnet"
NETWORK = "c16:5,p2,c32:5,p2,128"
BATCHES = (32, 64)
ENGINES = ("numpy", "wasm relaxed-simd")  # the fallback and what a user gets on Chromium
TFJS_BACKENDS = ("wasm", "cpu", "webgl")
RECIPE_BATCH = 32  # the convnet recipe's batch size


def _browser_rate(page: Any, batch: int, augment: bool, warmup_s: float, window_s: float) -> dict[str, float]:
    set_field(page, "batch-size", batch)
    if page.get_by_test_id("augment").is_checked() != augment:
        page.get_by_test_id("augment").click()
    wait_signal(page, f"s.batch_size === {batch} && s.augment === {str(augment).lower()}")
    start_training(page)
    page.wait_for_timeout(warmup_s * 1000)
    rate = measure_rate(page, window_s)
    stop_training(page)
    return rate


def run(bench: Bench) -> dict[str, Any]:
    """Per run: one page per engine measuring each batch size (and the recipe's batch with augmentation),
    then CPython measuring the same."""
    warmup_s, window_s = bench.settings.pick((2.0, 4.0), (4.0, 10.0), smoke=(0.5, 1.0))
    configs = {**{f"{NETWORK}/b{b}": (b, False) for b in BATCHES}, f"{NETWORK}/b{RECIPE_BATCH}+augment": (RECIPE_BATCH, True)}
    browser: dict[str, dict[str, list[float]]] = {e: {k: [] for k in configs} for e in ENGINES}
    native: dict[str, list[dict[str, Any]]] = {k: [] for k in configs}
    for _ in range(bench.settings.runs):
        for engine in ENGINES:
            with bench.ready_page(f"?engine={quote(engine)}&hidden-size={quote(NETWORK)}") as page:
                wait_signal(page, f"s.hidden.join() === '{NETWORK}'")
                for key, (batch, augment) in configs.items():
                    browser[engine][key].append(_browser_rate(page, batch, augment, warmup_s, window_s)["samples_per_s"])
        for key, (batch, augment) in configs.items():
            native[key].append(_native_rate(bench.settings.dist, NETWORK, batch, 1.0, min(window_s, 4.0), augment))
    result: dict[str, Any] = {"phases_ms": timing_page(bench, "convnet_timing"), "tfjs": _tfjs(bench, warmup_s, window_s)}
    for key, (batch, augment) in configs.items():
        result[key] = rate_entry(native[key], {engine: browser[engine][key] for engine in ENGINES})
        tfjs = [rates[f"b{batch}"]["samples_per_s"] for rates in _tfjs_rates(result["tfjs"]).values()
                if "samples_per_s" in rates.get(f"b{batch}", {})]
        if tfjs and not augment:
            result[key]["over_tfjs_fastest"] = summary(
                [rate / max(tfjs) for rate in browser[ENGINES[-1]][key]], "x")
    result["note"] = (f"browser: the page's worker with ?engine=NAME&hidden-size={NETWORK}, momentum, "
                      f"{window_s:g} s window after {warmup_s:g} s warm-up, without augmentation and (+augment, the "
                      "recipe's step) with it; native: the same Trainer in CPython, one BLAS thread, numpy engine, "
                      "same run; tfjs: TensorFlow.js training the same layers with momentum on random "
                      "images in one page's main thread, per backend (at least 2 timed steps), once per bench; "
                      "over_tfjs_fastest: the worker's fastest engine over TensorFlow.js's fastest backend")
    return result


def _tfjs(bench: Bench, warmup_s: float, window_s: float) -> dict[str, Any]:
    """TensorFlow.js's samples/s per backend and batch, or why it could not be measured."""
    if not (TFJS_FILES / "tf.min.js").is_file():
        return {"unavailable": f"TensorFlow.js is not in {TFJS_FILES}: `python build.py bench` fetches it (pinned)"}
    query = f"backends={','.join(TFJS_BACKENDS)}&batches={','.join(map(str, BATCHES))}&warmup={warmup_s:g}&window={window_s:g}"
    try:
        return result_page(bench, f"{TFJS_PREFIX}index.html?{query}", timeout_ms=900_000)
    except Exception as error:  # noqa: BLE001 - a comparison that fails is said, the bench goes on
        return {"unavailable": f"{type(error).__name__}: {error}"}


def _tfjs_rates(tfjs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each backend's rates by batch ("b32": {...}); a backend that could not run has none."""
    return {name: entry.get("rates", {}) for name, entry in tfjs.get("backends", {}).items()}


def rows(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """The lines of the printed table."""
    lines = []
    for key, entry in result.items():
        if key in ("note", "phases_ms", "tfjs"):
            continue
        lines += rate_rows(key, entry, ENGINES)
        batch = key.rsplit("/", 1)[1]
        if batch.endswith("+augment"):
            continue  # TensorFlow.js trains without augmentation
        for backend, rates in _tfjs_rates(result.get("tfjs", {})).items():
            rate = rates.get(batch, {}).get("samples_per_s")
            lines.append((f"{key} TensorFlow.js samples/s [{backend}]",
                          summary([rate], "samples/s") if rate else {"median": None}))
        if "over_tfjs_fastest" in entry:
            lines.append((f"{key} worker [{ENGINES[-1]}] / fastest TensorFlow.js", entry["over_tfjs_fastest"]))
    return lines
