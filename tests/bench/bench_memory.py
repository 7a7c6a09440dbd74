"""memory: JS heap and wasm memory of the page and the worker, at start and after training + drawing."""
from __future__ import annotations

import json
import time
from typing import Any

from .bench_main_thread import CELL, _stroke
from .harness import Bench, start_training, summary

NAME = "memory"
MB = 1024 * 1024


def _worker_heap(bench: Bench, page: Any) -> dict[str, float]:
    """Runtime.getHeapUsage of the training worker, through a browser-level CDP session."""
    cdp = bench.browser.new_browser_cdp_session()
    try:
        targets = cdp.send("Target.getTargets")["targetInfos"]
        worker = next((t for t in targets if t["type"] == "worker" and t["url"].endswith("/workers/worker.js")), None)
        if worker is None:
            raise RuntimeError("no worker target for workers/worker.js")
        answer: dict[str, Any] = {}
        cdp.on("Target.receivedMessageFromTarget",
               lambda event: answer.update(json.loads(event["message"])))
        session = cdp.send("Target.attachToTarget", {"targetId": worker["targetId"], "flatten": False})["sessionId"]
        cdp.send("Target.sendMessageToTarget", {"sessionId": session, "message": json.dumps(
            {"id": 1, "method": "Runtime.getHeapUsage"})})
        for _ in range(100):
            if "result" in answer:
                break
            page.wait_for_timeout(50)
        if "result" not in answer:
            raise RuntimeError(f"the worker did not answer Runtime.getHeapUsage: {answer}")
        cdp.send("Target.detachFromTarget", {"sessionId": session})
        return answer["result"]
    finally:
        cdp.detach()


def _snapshot(bench: Bench, page: Any, cdp: Any) -> dict[str, float]:
    main = cdp.send("Runtime.getHeapUsage")
    worker = _worker_heap(bench, page)
    return {
        "page_js_heap_mb": main["usedSize"] / MB,
        "page_array_buffers_mb": main.get("backingStorageSize", 0) / MB,
        "page_wasm_memory_mb": page.evaluate("() => window.__bench.wasmBytes()") / MB,
        "worker_js_heap_mb": worker["usedSize"] / MB,
        "worker_array_buffers_mb": worker.get("backingStorageSize", 0) / MB,
    }


def _one_run(bench: Bench, duration_s: float) -> dict[str, Any]:
    with bench.ready_page() as page:
        cdp = page.context.new_cdp_session(page)
        cdp.send("HeapProfiler.enable")
        cdp.send("HeapProfiler.collectGarbage")
        start = _snapshot(bench, page, cdp)
        start_training(page)
        box = page.get_by_test_id(f"cell-{CELL}").bounding_box()
        clear = page.get_by_test_id(f"clear-{CELL}").bounding_box()
        t0, strokes = time.monotonic(), 0
        while time.monotonic() - t0 < duration_s:
            page.mouse.click(clear["x"] + clear["width"] / 2, clear["y"] + clear["height"] / 2)
            _stroke(page, box, strokes)
            strokes += 1
            page.wait_for_timeout(200)
        cdp.send("HeapProfiler.collectGarbage")
        end = _snapshot(bench, page, cdp)
        iterations = page.evaluate("() => window.__bench.last.iteration")
    return {"start": start, "end": end, "seconds": time.monotonic() - t0, "strokes": strokes,
            "iterations": iterations}


def run(bench: Bench) -> dict[str, Any]:
    """Snapshot after ready, train and draw for the duration, snapshot again (after a GC of the page)."""
    duration_s = bench.settings.pick(10.0, 180.0)
    runs = [_one_run(bench, duration_s) for _ in range(bench.settings.long_runs)]
    result: dict[str, Any] = {}
    for key in runs[0]["start"]:
        result[key] = {
            "start": summary([r["start"][key] for r in runs], "MB"),
            "end": summary([r["end"][key] for r in runs], "MB"),
            "growth": summary([r["end"][key] - r["start"][key] for r in runs], "MB"),
        }
    result["iterations"] = [r["iterations"] for r in runs]
    result["strokes"] = [r["strokes"] for r in runs]
    result["measureUserAgentSpecificMemory"] = (
        "not used: it needs a cross-origin isolated page (COOP/COEP headers), which the site does not set")
    result["note"] = (f"{duration_s:g} s of training while cell {CELL} is redrawn; page numbers from CDP "
                      "Runtime.getHeapUsage after a forced GC, page wasm = byteLength of every "
                      "WebAssembly.Memory the page created (Pyodide's heap); the worker's exact wasm heap "
                      "is not reachable from outside, so its ArrayBuffer backing stores (which hold it) are "
                      "reported, from CDP Runtime.getHeapUsage on the worker target (no GC forced there)")
    return result


def rows(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """The lines of the printed table."""
    labels = {"page_js_heap_mb": "page JS heap", "page_wasm_memory_mb": "page wasm memory",
              "worker_js_heap_mb": "worker JS heap", "worker_array_buffers_mb": "worker ArrayBuffers (incl. wasm)"}
    return [(f"{label} MB: start / end / growth",
             [result[key]["start"], result[key]["end"], result[key]["growth"]]) for key, label in labels.items()]
