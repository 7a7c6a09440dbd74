"""data_pipeline: cache waits at defaults; throughput with slow data blocks, per cache size."""
from __future__ import annotations

from typing import Any

from .harness import Bench, measure_rate, set_field, start_training, summary, wait_signal

NAME = "data_pipeline"
CACHE_SIZES = (1, 5, 20)
DELAYS_S = (0.0, 0.1, 0.5)  # the bench server holds every MNIST block this long before answering


def _one_run(bench: Bench, window_s: float, settle_s: float) -> dict[str, Any]:
    rates: dict[str, dict[str, Any]] = {}
    with bench.ready_page() as page:
        start_training(page)
        page.wait_for_timeout(settle_s * 1000)
        default = measure_rate(page, 2 * window_s)
        for size in CACHE_SIZES:
            set_field(page, "cache-size", size)
            wait_signal(page, f"s.cache_size === {size}")
            for delay in DELAYS_S:
                bench.server.data_delay_s = delay
                # Let the cache reach its steady state under this delay before measuring.
                page.wait_for_timeout(settle_s * 1000)
                rates[f"cache{size}/delay{int(delay * 1000)}ms"] = measure_rate(page, window_s)
        bench.server.data_delay_s = 0.0
    return {"default": default, "rates": rates}


def run(bench: Bench) -> dict[str, Any]:
    """Defaults first (cache waits per 1000 iterations), then each cache size under each delay."""
    window_s, settle_s = bench.settings.pick((1.5, 0.5), (5.0, 2.0))
    runs = [_one_run(bench, window_s, settle_s) for _ in range(bench.settings.pick(1, min(bench.settings.runs, 2)))]
    result: dict[str, Any] = {
        "default_cache_waits_per_1000_iterations": summary(
            [1000 * r["default"]["cache_waits"] / max(1, r["default"]["iterations"]) for r in runs], "waits"),
        "default_samples_per_s": summary([r["default"]["samples_per_s"] for r in runs], "samples/s"),
    }
    for size in CACHE_SIZES:
        base = [r["rates"][f"cache{size}/delay0ms"]["samples_per_s"] for r in runs]
        entry: dict[str, Any] = {"no_delay_samples_per_s": summary(base, "samples/s")}
        for delay in DELAYS_S[1:]:
            key = f"cache{size}/delay{int(delay * 1000)}ms"
            got = [r["rates"][key]["samples_per_s"] for r in runs]
            entry[f"delay_{int(delay * 1000)}ms_over_no_delay"] = summary([g / b for g, b in zip(got, base)], "x")
            entry[f"delay_{int(delay * 1000)}ms_cache_waits_per_1000_iterations"] = summary(
                [1000 * r["rates"][key]["cache_waits"] / max(1, r["rates"][key]["iterations"]) for r in runs], "waits")
        result[f"cache_size_{size}"] = entry
    result["note"] = (f"default settings (batch 32, cache 8 blocks); each cache size set while training, then "
                      f"each delay applied by the bench server to every block request, {settle_s:g} s to settle, "
                      f"{window_s:g} s window; rates from the worker's samples_seen")
    return result


def rows(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """The lines of the printed table."""
    lines = [("cache waits per 1000 iterations (defaults)", result["default_cache_waits_per_1000_iterations"])]
    for size in CACHE_SIZES:
        entry = result[f"cache_size_{size}"]
        lines.append((f"cache {size}: 100 ms / 500 ms delay over no delay",
                      [entry["delay_100ms_over_no_delay"], entry["delay_500ms_over_no_delay"]]))
    return lines
