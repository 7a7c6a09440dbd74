"""The long run: ten minutes of training while the user keeps drawing, and nothing piles up.

The ten minutes are the long form (`python build.py test --run-slow -k soak`); every run of the suite
runs a short form (about 15 s) of the same checks. Memory is read at three points after a
warm-up: page JS heap (after a forced GC), the page's wasm memory (Pyodide's heap), the worker's
JS heap and ArrayBuffers (after a GC there; they hold its wasm heap) and the page's live Python
objects (a leaked PyProxy keeps its Python object alive, so leaks show as a climbing count). A leak
grows with time, so the checks are on the second half of the run, after caches and buffers have
settled. Throughput at the start and the end is measured and printed, never asserted: the brief
forbids timing thresholds in tests, and a shared 2-core machine swings more than 10% on its own.
INKLING_SOAK_SECONDS sets the run's length (a short run's growth bounds say less: the same bounds
over a shorter time).
"""
from __future__ import annotations

import json
import os
import time
from typing import Any


from tests.bench.bench_memory import snapshot
from tests.bench.harness import PROBE_JS, measure_rate, start_training, wait_ready

# (run, warm-up, each throughput window) in seconds: the short form, then the long form (--run-slow).
FORMS = {False: (14.0, 4.0, 2.0), True: (600.0, 60.0, 20.0)}
CELLS = 4  # cells the simulated user draws in, one after another
# What "flat" means over the second half (about five minutes) of the run. Each bound is well
# above what one run's noise gives (a GC'd JS heap moves by a few MB) and well below what a leak of
# one object, proxy or buffer per frame, signal or stroke would add in five minutes.
MAX_GROWTH_MB = {"page_js_heap_mb": 8.0, "page_wasm_memory_mb": 16.0,
                 "worker_js_heap_mb": 8.0, "worker_array_buffers_mb": 16.0}
MAX_PYTHON_OBJECT_GROWTH = 5_000


def _stroke(page: Any, box: dict[str, float], k: int) -> None:
    """A digit-like stroke: down, across and down again, shifted a little each time."""
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    dx = 0.03 * (k % 4)
    page.mouse.move(x + w * (0.3 + dx), y + h * 0.25)
    page.mouse.down()
    page.mouse.move(x + w * (0.7 + dx), y + h * 0.25, steps=5)
    page.mouse.move(x + w * (0.45 + dx), y + h * 0.8, steps=8)
    page.mouse.up()


def _measure(browser: Any, page: Any, cdp: Any) -> dict[str, Any]:
    cdp.send("HeapProfiler.collectGarbage")
    memory = snapshot(browser, page, cdp, collect_worker_garbage=True)
    python = page.evaluate("() => inklingBridge.pythonObjects()")
    signal = page.evaluate("() => window.__bench.last")
    return {"memory": memory, "python_objects": python, "iteration": signal["iteration"],
            "samples_seen": signal["samples_seen"], "at_s": time.monotonic()}


def _draw_for(page: Any, seconds: float, counter: list[int]) -> None:
    """Draw and clear cells like a user trying digits, until `seconds` have passed."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        k = counter[0]
        cell = k % CELLS
        page.get_by_test_id(f"clear-{cell}").click()
        _stroke(page, page.get_by_test_id(f"cell-{cell}").bounding_box(), k)
        counter[0] += 1
        page.wait_for_timeout(300)


def test_training_while_drawing_leaves_memory_flat(browser: Any, site_url: str, long_form: bool) -> None:
    soak_s, warm_up_s, rate_window_s = FORMS[long_form]
    soak_s = float(os.environ.get("INKLING_SOAK_SECONDS", soak_s))
    context = browser.new_context()
    context.add_init_script(PROBE_JS)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
        page.goto(site_url)
        wait_ready(page)
        cdp = page.context.new_cdp_session(page)
        cdp.send("HeapProfiler.enable")
        start_training(page)
        strokes = [0]
        t0 = time.monotonic()
        _draw_for(page, warm_up_s, strokes)
        rate_start = measure_rate(page, rate_window_s)
        first = _measure(browser, page, cdp)
        _draw_for(page, max(0.0, (soak_s - (time.monotonic() - t0)) / 2), strokes)
        middle = _measure(browser, page, cdp)
        _draw_for(page, max(0.0, soak_s - rate_window_s - (time.monotonic() - t0)), strokes)
        rate_end = measure_rate(page, rate_window_s)
        last = _measure(browser, page, cdp)
        predictions = [page.get_by_test_id(f"prediction-{c}").text_content().strip() for c in range(CELLS)]
    finally:
        context.close()

    growth = {key: last["memory"][key] - middle["memory"][key] for key in MAX_GROWTH_MB}
    python_growth = last["python_objects"]["total"] - middle["python_objects"]["total"]
    report = {
        "seconds": round(time.monotonic() - t0, 1), "strokes": strokes[0],
        "iterations": last["iteration"], "samples_seen": last["samples_seen"],
        "memory_mb": {key: {"after_warm_up": round(first["memory"][key], 2),
                            "middle": round(middle["memory"][key], 2),
                            "end": round(last["memory"][key], 2)} for key in MAX_GROWTH_MB},
        "second_half_growth_mb": {key: round(value, 2) for key, value in growth.items()},
        "python_objects": {"after_warm_up": first["python_objects"], "middle": middle["python_objects"],
                           "end": last["python_objects"]},
        "samples_per_s": {"start": round(rate_start["samples_per_s"]), "end": round(rate_end["samples_per_s"]),
                          "end_over_start": round(rate_end["samples_per_s"] / rate_start["samples_per_s"], 3)},
        "console_errors": errors,
    }
    print("soak:", json.dumps(report, indent=1))

    assert not errors, f"console errors during the soak: {errors[:10]}"
    assert last["iteration"] > middle["iteration"] > first["iteration"], "training stalled during the soak"
    assert all(p != "" for p in predictions), f"a drawn cell shows no prediction: {predictions}"
    for key, bound in MAX_GROWTH_MB.items():
        assert growth[key] <= bound, f"{key} grew {growth[key]:.1f} MB in the second half (bound {bound} MB): {report}"
    assert python_growth <= MAX_PYTHON_OBJECT_GROWTH, (
        f"the page's live Python objects grew by {python_growth} in the second half: {report['python_objects']}")
