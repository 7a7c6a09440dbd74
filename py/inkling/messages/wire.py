"""Crossing the JS boundary: wire dicts to JS objects (arrays as transferable Float32Arrays) and back."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .protocol import UnreadableMessage


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


# A command nests four deep (message, weights, W1, shape); deeper junk stays a proxy that the
# decoder refuses by name, instead of overflowing the JS stack while being converted.
MAX_DEPTH = 8


def from_js_message(data: Any) -> Any:
    """Convert a message received from ``postMessage`` into Python (dicts, lists, memoryviews).

    Typed arrays become memoryviews (one copy), which the protocol decoders accept
    wherever they take array data.  Every plain object becomes a dict, even one whose
    own keys (``constructor``, ``toString``...) make Pyodide's ``to_py`` leave it as a
    proxy.  Only `MAX_DEPTH` levels are converted.  A message that cannot be converted
    at all comes back as `UnreadableMessage`, which the decoder refuses with its
    reason.  Anything that is not a JS value is returned as is.
    """
    to_py = getattr(data, "to_py", None)
    if to_py is None:
        return data
    try:
        return to_py(depth=MAX_DEPTH, default_converter=_plain_object)
    except Exception as error:  # a RangeError (stack) or RecursionError from a deeply nested message
        return UnreadableMessage(f"{type(error).__name__}: {error}".splitlines()[0][:200])


def _plain_object(value: Any, convert: Callable[[Any], Any], cache_conversion: Callable[[Any, Any], None]) -> Any:
    """`to_py`'s fallback: a plain JS object becomes a dict; anything else (a Date, a Blob) stays a proxy."""
    from js import Object

    if Object.prototype.toString.call(value) != "[object Object]":
        return value
    result: dict[str, Any] = {}
    cache_conversion(value, result)
    for entry in Object.entries(value):
        item = entry[1]
        result[entry[0]] = convert(item) if hasattr(item, "to_py") else item
    return result
