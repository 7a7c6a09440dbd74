"""throughput: training samples/s in the page's worker, per engine, vs the same Trainer in CPython (native numpy).

Each engine gets its own page, forced with `?engine=NAME`; "auto" is what a user gets (the fastest that works).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .harness import (Bench, measure_rate, set_field, start_training, stop_training, summary,
                      wait_signal)

NAME = "throughput"
CONFIGS = ((128, 64), (128, 256), (512, 256))  # (hidden units, batch size) of a 784-h-10 MLP
NATIVE = Path(__file__).with_name("native_step.py")
# Slowest first; each is forced with ?engine=NAME. The ratio to native is quoted for the fastest.
ENGINES = ("numpy", "wasm simd128", "wasm relaxed-simd")


def _browser_rate(page: Any, hidden: int, batch: int, warmup_s: float, window_s: float) -> dict[str, float]:
    set_field(page, "hidden-size", hidden)
    page.get_by_test_id("reset").click()
    set_field(page, "batch-size", batch)
    wait_signal(page, f"s.hidden.join() === '{hidden}' && s.batch_size === {batch}")
    start_training(page)
    page.wait_for_timeout(warmup_s * 1000)
    rate = measure_rate(page, window_s)
    stop_training(page)
    return rate


def _native_rate(dist: Path, hidden: int | str, batch: int, warmup_s: float, window_s: float,
                 augment: bool = False) -> dict[str, Any]:
    # One BLAS thread: the worker has one core too, and the other core is the page's.
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, str(NATIVE), str(dist / "data"), str(hidden), str(batch),
                          str(warmup_s), str(window_s), *(["augment"] if augment else [])], env=env, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"native_step.py failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(bench: Bench) -> dict[str, Any]:
    """Per run: one fresh page per engine measuring every configuration, then CPython measuring the same."""
    warmup_s, window_s = bench.settings.pick((1.0, 2.0), (3.0, 8.0), smoke=(0.3, 0.6))
    native_warmup_s = bench.settings.pick(1.0, 1.0, smoke=0.2)
    configs = CONFIGS[:1] if bench.settings.smoke else CONFIGS  # the smoke run checks the numbers are written
    keys = [f"784-{h}-10/b{b}" for h, b in configs]
    browser: dict[str, dict[str, list[dict[str, float]]]] = {e: {key: [] for key in keys} for e in ENGINES}
    native: dict[str, list[dict[str, Any]]] = {key: [] for key in keys}
    engines_seen: dict[str, str] = {}
    for _ in range(bench.settings.runs):
        for engine in ENGINES:
            with bench.ready_page(f"?engine={quote(engine)}") as page:
                engines_seen[engine] = page.get_by_test_id("stat-engine").text_content()
                for (hidden, batch), key in zip(configs, keys):
                    browser[engine][key].append(_browser_rate(page, hidden, batch, warmup_s, window_s))
        for (hidden, batch), key in zip(configs, keys):
            native[key].append(_native_rate(bench.settings.dist, hidden, batch, native_warmup_s, min(window_s, 4.0)))
    result: dict[str, Any] = {}
    fastest = ENGINES[-1]
    for key in keys:
        entry = rate_entry(native[key], {e: [r["samples_per_s"] for r in browser[e][key]] for e in ENGINES})
        for engine in ENGINES:
            entry[engine]["browser_cache_waits_in_window"] = [r["cache_waits"] for r in browser[engine][key]]
        base = [r["samples_per_s"] for r in browser[ENGINES[0]][key]]
        best = [r["samples_per_s"] for r in browser[fastest][key]]
        entry["fastest_over_numpy_engine"] = summary([x / y for x, y in zip(best, base)], "x")
        result[key] = entry
    result["engines_shown"] = engines_seen
    result["note"] = (f"browser: the page's worker with ?engine=NAME, default optimizer (momentum), {window_s:g} s "
                      f"window after {warmup_s:g} s warm-up, from the worker's own samples_seen; native: the same "
                      f"Trainer (cache, step, signal with weights) in CPython, one BLAS thread, same run, {native_warmup_s:g} s warm-up, "
                      f"{min(window_s, 4.0):g} s window; native_step_only: loss_and_grads + optimizer step alone")
    return result


def rate_entry(native: list[dict[str, Any]], browser: dict[str, list[float]]) -> dict[str, Any]:
    """One configuration's figures: native samples/s (whole Trainer and bare step) and, per engine, the
    worker's samples/s and its ratio to native run by run."""
    n = [r["samples_per_s"] for r in native]
    entry: dict[str, Any] = {
        "native_samples_per_s": summary(n, "samples/s"),
        "native_step_only_samples_per_s": summary([r["step_only_samples_per_s"] for r in native], "samples/s"),
    }
    for engine, b in browser.items():
        entry[engine] = {"browser_samples_per_s": summary(b, "samples/s"),
                         "browser_over_native": summary([x / y for x, y in zip(b, n)], "x")}
    return entry


def rate_rows(key: str, entry: dict[str, Any], engines: tuple[str, ...]) -> list[tuple[str, Any]]:
    """The printed lines of a `rate_entry`: each engine, native, and the fastest engine over native."""
    return [*((f"{key} browser samples/s [{engine}]", entry[engine]["browser_samples_per_s"]) for engine in engines),
            (f"{key} native samples/s", entry["native_samples_per_s"]),
            (f"{key} browser / native [{engines[-1]}]", entry[engines[-1]]["browser_over_native"])]


def rows(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """The lines of the printed table."""
    lines = []
    for key, entry in result.items():
        if key in ("note", "engines_shown"):
            continue
        lines += rate_rows(key, entry, ENGINES)
        lines.append((f"{key} {ENGINES[-1]} / numpy engine", entry["fastest_over_numpy_engine"]))
    return lines
