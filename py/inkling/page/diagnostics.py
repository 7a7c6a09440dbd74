"""Live Python objects on the page's thread, so a long run can be checked for leaks (the soak test)."""

from __future__ import annotations

import gc
from collections import Counter
from typing import Any


def python_objects(top: int = 8) -> dict[str, int]:
    """After a full collection: how many objects the collector tracks, and the most common types.

    A PyProxy handed to JS keeps its Python object alive until destroyed, so proxies that leak
    show up here as a count that keeps climbing (JsProxy counts the JS objects Python holds).
    """
    from pyodide.ffi import JsProxy

    gc.collect()
    objects = gc.get_objects()
    kinds = Counter(type(obj).__name__ for obj in objects)
    counts = {"total": len(objects), "JsProxy": sum(isinstance(obj, JsProxy) for obj in objects)}
    counts.update({f"type:{name}": n for name, n in kinds.most_common(top)})
    return counts


def install(bridge: Any) -> None:
    """Expose `python_objects` as ``inklingBridge.pythonObjects()`` (a plain JS object)."""
    from js import Object
    from pyodide.ffi import create_proxy, to_js

    def report() -> Any:
        return to_js(python_objects(), dict_converter=Object.fromEntries)

    bridge.pythonObjects = create_proxy(report)  # lives as long as the page
