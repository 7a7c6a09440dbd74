"""memory: JS heap and wasm memory of the page and the worker, at start and after training + drawing."""
from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

from .bench_main_thread import CELL, _stroke
from .harness import Bench, start_training, summary

NAME = "memory"
MB = 1024 * 1024


def worker_heap(browser: Any, page: Any, collect_garbage: bool = False) -> dict[str, float]:
    """Runtime.getHeapUsage of the training worker, through a browser-level CDP session.

    With ``collect_garbage`` the worker's JS heap is collected first (HeapProfiler.collectGarbage).
    """
    cdp = browser.new_browser_cdp_session()
    try:
        targets = cdp.send("Target.getTargets")["targetInfos"]
        # The worker's URL carries a query (the name of the lock it holds), so match on the path.
        worker = next((t for t in targets if t["type"] == "worker"
                       and urlsplit(t["url"]).path.endswith("/workers/worker.js")), None)
        if worker is None:
            raise RuntimeError("no worker target for workers/worker.js")
        replies: dict[int, dict[str, Any]] = {}  # by request id; the target's events carry none

        def note(event: dict[str, Any]) -> None:
            message = json.loads(event["message"])
            if "id" in message:
                replies[message["id"]] = message

        cdp.on("Target.receivedMessageFromTarget", note)
        session = cdp.send("Target.attachToTarget", {"targetId": worker["targetId"], "flatten": False})["sessionId"]
        methods = ["HeapProfiler.enable", "HeapProfiler.collectGarbage"] if collect_garbage else []
        methods.append("Runtime.getHeapUsage")
        for number, method in enumerate(methods, start=1):
            cdp.send("Target.sendMessageToTarget", {"sessionId": session, "message": json.dumps(
                {"id": number, "method": method})})
            for _ in range(600):  # a busy worker answers between two training iterations
                if number in replies:
                    break
                page.wait_for_timeout(50)
        cdp.send("Target.detachFromTarget", {"sessionId": session})
        usage = replies.get(len(methods), {})
        if "result" not in usage:
            raise RuntimeError(f"the worker did not answer Runtime.getHeapUsage: {usage}")
        return usage["result"]
    finally:
        cdp.detach()


def snapshot(browser: Any, page: Any, cdp: Any, collect_worker_garbage: bool = False) -> dict[str, float]:
    """Page and worker memory now (the page's numbers need the probe installed)."""
    main = cdp.send("Runtime.getHeapUsage")
    worker = worker_heap(browser, page, collect_worker_garbage)
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
        start = snapshot(bench.browser, page, cdp)
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
        end = snapshot(bench.browser, page, cdp)
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
