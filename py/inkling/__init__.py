"""Inkling: an MNIST trainer whose model, sample cache and trainer are plain numpy code.

The same package runs under pytest in CPython and in a web worker under Pyodide;
only ``inkling.page`` (the page's thread), ``inkling.worker`` (the worker's) and
``inkling.messages.wire`` (messages across postMessage) touch the browser. The short names below are loaded on
first use, so ``python -m inkling`` can configure numpy before it is imported.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "MLP": "network.mlp", "matmul": "network.mlp", "weights_to_npz": "network.weights_io",
    "weights_from_npz": "network.weights_io", "preprocess_drawing": "data.drawing", "SampleCache": "data.cache",
    "decode_command": "messages.protocol", "encode_command": "messages.protocol",
    "decode_signal": "messages.protocol", "encode_signal": "messages.protocol",
    "ResponseSignal": "messages.protocol", "ErrorSignal": "messages.protocol", "Trainer": "training.trainer",
    "InklingError": "errors", "ProtocolError": "errors", "WeightsError": "errors", "DataError": "errors",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'inkling' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
