"""Crossing the JS boundary: wire dicts to JS objects (arrays as transferable Float32Arrays) and back."""

from __future__ import annotations

from typing import Any

import numpy as np


def to_js_message(message: dict[str, Any]) -> tuple[Any, Any]:
    """Convert a wire dict to a plain JS object plus the list of buffers to transfer.

    Every numpy array (the weights' ``data``, a drawing's ``pixels``) becomes a
    1-D ``Float32Array`` in a buffer of its own, listed for transfer, so no float
    travels as JSON and nothing is copied by ``postMessage``.  No PyProxy is
    created: a value that cannot be converted raises instead of leaking one.

    Returns:
        ``(object, transfer)`` ready for ``postMessage(object, transfer)``.
    """
    from js import Float32Array, Object
    from pyodide.ffi import to_js

    transfer: list[Any] = []

    def convert(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            flat = np.ascontiguousarray(value, dtype=np.float32).reshape(-1)
            typed = Float32Array.new(flat.size)
            typed.assign(flat)
            transfer.append(typed.buffer)
            return typed
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [convert(item) for item in value]
        return value

    converted = convert(message)
    js_message = to_js(converted, dict_converter=Object.fromEntries, create_pyproxies=False)
    return js_message, to_js(transfer, create_pyproxies=False)


def from_js_message(data: Any) -> Any:
    """Convert a message received from ``postMessage`` into Python (dicts, lists, memoryviews).

    Typed arrays become memoryviews (one copy), which the protocol decoders accept
    wherever they take array data.  Anything that is not a JS value is returned as is.
    """
    to_py = getattr(data, "to_py", None)
    return to_py() if to_py is not None else data
