"""kernel: each product of a training step, timed on every engine in a browser worker (us and GFLOPS).

The page under /bench-kernel/ boots Pyodide, numpy and the built wheel in a worker, as the training worker does,
and runs tests/bench/kernel/kernel_timing.py there. Sparse products count the flops of the dense product.
"""
from __future__ import annotations

from typing import Any

from .harness import KERNEL_PREFIX, Bench, result_page, summary

NAME = "kernel"
ENGINES = ("numpy", "wasm simd128", "wasm relaxed-simd")
HEADLINE = "784-128-10/b64"
UNITS = {"us": "us", "gflops": "GFLOPS", "samples_per_s": "samples/s"}


def timing_page(bench: Bench, script: str = "kernel_timing") -> dict[str, Any]:
    """Run a timing script of tests/bench/kernel/ in a fresh worker page; its JSON result."""
    query = [f"script={script}"] + (["quick=1"] if bench.settings.quick else [])
    return result_page(bench, KERNEL_PREFIX + "index.html?" + "&".join(query))


def run(bench: Bench) -> dict[str, Any]:
    """One fresh page per run; medians over runs of each product's GFLOPS and time."""
    runs = [timing_page(bench) for _ in range(bench.settings.runs)]
    result: dict[str, Any] = {}
    for engine in ENGINES:
        if any("unavailable" in r[engine] for r in runs):
            result[engine] = {"unavailable": runs[0][engine].get("unavailable")}
            continue
        result[engine] = {
            config: {product: {key: summary([r[engine]["timings"][config][product][key] for r in runs], UNITS[key])
                               for key in numbers}
                     for product, numbers in products.items()}
            for config, products in runs[0][engine]["timings"].items()
        }
        result[engine]["load_ms"] = summary([r[engine]["load_ms"] for r in runs], "ms")
    result["note"] = ("a worker like the training worker; each product timed as the median of batches of calls; "
                      "GFLOPS = 2*m*n*k / time, sparse products (19% non-zero pixels) counted as dense")
    return result


def rows(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """GFLOPS of each product at batch 64 and the whole step, per engine."""
    lines = []
    for engine in ENGINES:
        entry = result.get(engine, {})
        if "unavailable" in entry or HEADLINE not in entry:
            continue
        lines.append((f"load + self-test, first in the worker [{engine}]", entry["load_ms"]))
        for product, numbers in entry[HEADLINE].items():
            if "gflops" in numbers:
                lines.append((f"{HEADLINE} {product} [{engine}]", numbers["gflops"]))
        for config, products in entry.items():
            if config != "load_ms":
                lines.append((f"{config} step samples/s [{engine}]",
                              products["step (loss_and_grads + momentum)"]["samples_per_s"]))
    return lines
