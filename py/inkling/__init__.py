"""Inkling: an MNIST trainer whose model, sample cache and trainer are plain numpy code.

The same package runs under pytest in CPython and in a web worker under Pyodide;
only ``inkling.browser`` touches the browser.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .drawing import preprocess_drawing
from .errors import DataError, InklingError, ProtocolError, WeightsError
from .mlp import MLP, matmul
from .protocol import (ErrorSignal, ResponseSignal, decode_command, decode_signal, encode_command,
                       encode_signal)
from .weights_io import weights_from_npz, weights_to_npz

__all__ = [
    "MLP", "matmul", "preprocess_drawing", "weights_to_npz", "weights_from_npz",
    "decode_command", "encode_command", "decode_signal", "encode_signal", "ResponseSignal", "ErrorSignal",
    "InklingError", "ProtocolError", "WeightsError", "DataError", "__version__",
]
