"""A network as an ONNX model: the file every other runtime reads (onnxruntime, ONNX.js, OpenCV, ...).

Written here by hand, as protobuf bytes, rather than with the ``onnx`` package: the page's Pyodide
(0.27.7) ships no ``onnx``, and the page exports the same bytes the command line does. What is
written is small: the graph's nodes, their attributes, the weights as raw float32 initializers, and
the input and output. The tests load every file with ``onnx``'s checker and ``onnxruntime`` and
compare its probabilities with Inkling's own.

The model takes ``digits``, float32 ``[N, 1, 28, 28]`` (NCHW, values in [0, 1] as MNIST, ink bright;
a drawing goes through `inkling.data.drawing.preprocess_drawing` first) and gives ``probabilities``,
``[N, 10]``. Opset `OPSET`; operators: Conv, Relu, MaxPool, Transpose, Flatten, Gemm, Softmax.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .. import __version__
from .layers import IMAGE_SIDE, Conv, Dense, HiddenLayer, Pool, layer_specs
from .models import network_from_weights

OPSET = 13
IR_VERSION = 7  # the IR of opset 13
INPUT, OUTPUT = "digits", "probabilities"
# protobuf field numbers of onnx.proto (ModelProto, GraphProto, NodeProto, ...) used below.
_FLOAT = 1  # TensorProto.DataType
_ATTR_INT, _ATTR_INTS = 2, 7  # AttributeProto.AttributeType


def onnx_model(weights: Mapping[str, np.ndarray], hidden: Sequence[HiddenLayer] | None = None) -> bytes:
    """The ONNX model of the network these weights make (of layers ``hidden``; an MLP's may leave
    them out), as the bytes of a ``.onnx`` file.

    Raises:
        WeightsError: The weights do not make a network the page would accept.
    """
    model = network_from_weights(weights, hidden)
    nodes: list[bytes] = []
    initializers: list[bytes] = []
    current = INPUT
    image = True  # still [N, C, H, W]; a dense layer flattens it
    convolved = False  # channels other than the one input channel: flattening must follow Inkling's order
    specs = (*layer_specs(model.hidden), Dense(0))
    p = 0
    for index, spec in enumerate(specs):
        out = f"layer{index + 1}"
        if isinstance(spec, Pool):
            nodes.append(_node("MaxPool", [current], [out], kernel_shape=[spec.size] * 2, strides=[spec.size] * 2))
            current = out
            continue
        names = [f"W{p // 2 + 1}", f"b{p // 2 + 1}"]
        initializers += [_tensor(names[0], model.params[p]), _tensor(names[1], model.params[p + 1])]
        if isinstance(spec, Conv):
            nodes.append(_node("Conv", [current, *names], [out + "_linear"], kernel_shape=[spec.size] * 2,
                               pads=[spec.pad] * 4, strides=[1, 1]))
            convolved = True
        else:
            if image:
                if convolved:
                    # Inkling flattens an image as (row, column, channel): NCHW must turn NHWC first.
                    nodes.append(_node("Transpose", [current], [out + "_nhwc"], perm=[0, 2, 3, 1]))
                    current = out + "_nhwc"
                nodes.append(_node("Flatten", [current], [out + "_flat"], axis=1))
                current, image = out + "_flat", False
            nodes.append(_node("Gemm", [current, *names], [out + "_linear"]))
        last = index == len(specs) - 1
        if last:
            nodes.append(_node("Softmax", [out + "_linear"], [OUTPUT], axis=1))
        else:
            nodes.append(_node("Relu", [out + "_linear"], [out]))
            current = out
        p += 2
    graph = (b"".join(_message(1, node) for node in nodes) + _string(2, "inkling")
             + b"".join(_message(5, tensor) for tensor in initializers)
             + _message(11, _value_info(INPUT, ["N", 1, IMAGE_SIDE, IMAGE_SIDE]))
             + _message(12, _value_info(OUTPUT, ["N", int(model.params[-1].shape[-1])])))
    opset = _string(1, "") + _int(2, OPSET)
    return (_int(1, IR_VERSION) + _string(2, "inkling") + _string(3, __version__)
            + _string(6, f"Inkling {model.describe()}: digits [N,1,28,28] in [0,1] -> probabilities [N,10]")
            + _message(7, graph) + _message(8, opset))


def _node(op: str, inputs: list[str], outputs: list[str], **attributes: int | list[int]) -> bytes:
    """A NodeProto: its inputs, outputs, name, operator and integer attributes."""
    body = b"".join(_string(1, name) for name in inputs) + b"".join(_string(2, name) for name in outputs)
    body += _string(3, outputs[0]) + _string(4, op)
    for name, value in attributes.items():
        if isinstance(value, list):
            attribute = _string(1, name) + b"".join(_int(8, v) for v in value) + _int(20, _ATTR_INTS)
        else:
            attribute = _string(1, name) + _int(3, value) + _int(20, _ATTR_INT)
        body += _message(5, attribute)
    return body


def _tensor(name: str, array: np.ndarray) -> bytes:
    """A TensorProto of float32 values, stored raw (little-endian)."""
    data = np.ascontiguousarray(array, "<f4").tobytes()
    return b"".join(_int(1, d) for d in array.shape) + _int(2, _FLOAT) + _string(8, name) + _field(9, data)


def _value_info(name: str, dims: list[int | str]) -> bytes:
    """A ValueInfoProto of a float32 tensor; a str dimension is symbolic (the batch)."""
    shape = b"".join(_message(1, _string(2, d) if isinstance(d, str) else _int(1, d)) for d in dims)
    tensor_type = _int(1, _FLOAT) + _message(2, shape)
    return _string(1, name) + _message(2, _message(1, tensor_type))


# ---- protobuf's wire format --------------------------------------------------------------------

def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # int64 as protobuf sends it: a negative one in two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(int(value))


def _field(field: int, data: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _string(field: int, text: str) -> bytes:
    return _field(field, text.encode())


def _message(field: int, body: bytes) -> bytes:
    return _field(field, body)
