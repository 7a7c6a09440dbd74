"""Weights as ``.npz`` bytes: the file format plain numpy reads, written and strictly checked.

A file holds float32 arrays ``W1, b1, ...`` and, beside them, the network's layers as text in an
array named ``network`` (``np.array("c16:5,p2,128")``, read back with ``str(npz["network"])``). A
convnet's file needs it, since pooling and padding leave no weights; an MLP's is written without it
(its shapes tell its layers), as every release wrote them, and is read with or without it.
"""

from __future__ import annotations

import io
import math
import zipfile
import zlib
from pathlib import Path
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from ..errors import WeightsError
from .convnet import checked_convnet_weights
from .layers import HiddenLayer, describe_network, format_hidden, hidden_problem, is_dense_only, parse_hidden
from .mlp import checked_weights, describe_sizes, sizes_of
from .models import network_from_weights
from .weight_rules import MAX_WEIGHT_ARRAYS, MAX_WEIGHT_VALUES, param_names

NETWORK = "network"  # the array holding the layers' text
_MAX_NETWORK_TEXT = 256


class NetworkWeights(NamedTuple):
    """Weights with their network: the arrays by name, and the hidden layers (None when nothing
    says: then they are an MLP's, which its shapes tell). What a weights file holds."""

    weights: dict[str, np.ndarray]
    hidden: tuple[HiddenLayer, ...] | None

# An .npz file is a zip archive; anything else (a bare .npy, a pickle, text) is refused up front.
_ZIP_MAGIC = b"PK\x03\x04"
_MAX_BYTES = 256 << 20  # checked before decompressing, so a zip bomb is refused cheaply
# The largest network the page builds (784-4096-10, float32) is ~13 MiB; a file far past that is
# refused by its size alone, before the page reads it into memory.
MAX_FILE_BYTES = 128 << 20


def weights_to_npz(weights: Mapping[str, np.ndarray], hidden: Sequence[HiddenLayer] | None = None) -> bytes:
    """Serialise named weight arrays (``W1``, ``b1``, ...) as float32 ``.npz`` bytes, with the text
    of their ``hidden`` layers when given (a convnet's weights need it).

    The result loads with ``np.load(io.BytesIO(data), allow_pickle=False)``.

    Raises:
        WeightsError: The mapping is not a valid set of weights for those layers.
    """
    # Checked against their layers, not run: they were probed when they came in (the autosave
    # writes every few seconds on the page's main thread).
    if hidden is None or is_dense_only(hidden):
        checked = checked_weights(weights, np.dtype(np.float32), probe=False)
        if hidden is not None and sizes_of(checked)[1:-1] != tuple(int(w) for w in hidden):
            raise WeightsError(f"the weights make a {describe_sizes(sizes_of(checked))} network, not the "
                               f"{describe_network(hidden)} they are saved as")
        extra = {}  # an MLP's file stays plain W1, b1, ... (its shapes tell its layers), as files always were
    else:
        problem = hidden_problem(hidden)
        if problem is not None:
            raise WeightsError(f"the weights' layers ({format_hidden(hidden)}): {problem}")
        checked = checked_convnet_weights(weights, hidden, np.dtype(np.float32), probe=False)
        extra = {NETWORK: np.array(format_hidden(hidden))}
    arrays = dict(zip(param_names(len(checked) // 2), checked))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays, **extra)  # type: ignore[arg-type]
    return buffer.getvalue()


def weights_from_npz(data: bytes) -> NetworkWeights:
    """Read and validate weights from ``.npz`` bytes, never unpickling anything.

    Returns:
        ``{"W1": float32 array, "b1": ..., ...}`` that make the network the file's ``network`` text
        names, and that text's layers (or, without it, an MLP's ``W1 (784, h), b1 (h,), ...``).

    Raises:
        WeightsError: Not a zip/npz file, truncated, holds object (pickled) arrays,
            names other than ``W1, b1, ...``, inconsistent shapes, or NaN/inf values.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise WeightsError(f"expected the bytes of a .npz file, got {type(data).__name__}")
    data = bytes(data)
    check_file_size(len(data))
    if not data.startswith(_ZIP_MAGIC):
        raise WeightsError("not a .npz file (it is not a zip archive); export weights from Inkling or np.savez")
    raw: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if len(members) > MAX_WEIGHT_ARRAYS or sum(m.file_size for m in members) > _MAX_BYTES:
                raise WeightsError(
                    f"the file holds {len(members)} arrays of {sum(m.file_size for m in members)} bytes: "
                    f"too large for weights (at most {MAX_WEIGHT_ARRAYS} arrays, {_MAX_BYTES >> 20} MiB)"
                )
            for member in members:
                _check_header(archive, member)
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            for name in npz.files:
                raw[name] = npz[name]
    except WeightsError:
        raise
    except ValueError as exc:
        # numpy refuses object arrays with allow_pickle=False by raising ValueError.
        raise WeightsError(f"the .npz file cannot be read safely: {exc}") from exc
    except MemoryError:
        raise WeightsError("the .npz file needs more memory than this page has; it is not a weights file") from None
    except (RuntimeError, NotImplementedError) as exc:  # encrypted members, a compression this Python lacks
        raise WeightsError(f"the .npz file uses a zip feature Inkling cannot read: {exc}; save it with np.savez") from exc
    except (OSError, EOFError, KeyError, zlib.error, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise WeightsError(f"the .npz file is damaged or truncated: {exc}") from exc
    hidden = None
    if NETWORK in raw:
        hidden = _hidden_of(raw.pop(NETWORK))
    model = network_from_weights(raw, hidden)
    return NetworkWeights(dict(zip(model.names, model.params)), hidden)


def _hidden_of(text: np.ndarray) -> tuple[HiddenLayer, ...]:
    """The layers a file's ``network`` array names."""
    if text.dtype.kind != "U" or text.shape != ():
        raise WeightsError(f"{NETWORK} must be the network's text, such as np.array('c16:5,p2,128'); "
                           f"found an array of {text.dtype} shaped {text.shape}", NETWORK)
    try:
        return parse_hidden(str(text))
    except ValueError as error:
        raise WeightsError(f"the file's network '{str(text)[:60]}': {error}", NETWORK) from None


def weights_from_file(path: Path) -> NetworkWeights:
    """`weights_from_npz` of the file at ``path``, refused by its size before it is read.

    Raises:
        WeightsError: The file cannot be read, or is not a usable weights file; says why.
    """
    try:
        check_file_size(path.stat().st_size)
        data = path.read_bytes()
    except OSError as error:
        raise WeightsError(f"cannot read {path}: {error.strerror or error}") from None
    return weights_from_npz(data)


def check_file_size(size: int) -> None:
    """Refuse a weights file by its size alone (call it before reading the file).

    Raises:
        WeightsError: Empty, or larger than `MAX_FILE_BYTES`.
    """
    if size == 0:
        raise WeightsError("the file is empty; export weights from Inkling or save them with np.savez")
    if size > MAX_FILE_BYTES:
        raise WeightsError(
            f"the file is {size / (1 << 20):.0f} MiB; weights files are at most {MAX_FILE_BYTES >> 20} MiB "
            "(a 784-4096-10 network is about 13 MiB), so this is not one"
        )


def _check_header(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """Refuse a member from its .npy header alone: pickled objects, non-float dtypes, huge shapes.

    numpy allocates an array from the header's shape before reading its data, so a tiny
    file claiming a huge shape must be refused here, before `np.load` sees it.
    """
    name = member.filename.removesuffix(".npy")
    with archive.open(member) as stream:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise WeightsError(f"{name} is a .npy file of version {version}; save plain float arrays with np.savez", name)
    if name == NETWORK and dtype.kind == "U" and math.prod(shape) == 1 and dtype.itemsize <= 4 * _MAX_NETWORK_TEXT:
        return  # the layers' text, read after the arrays
    if dtype.hasobject:
        raise WeightsError(f"{name} holds Python objects (pickled data), which Inkling never loads; "
                           "save plain float arrays with np.savez", name)
    if dtype.kind != "f":
        raise WeightsError(f"{name} has dtype {dtype}; weights are floating-point numbers (save them as float32)", name)
    if math.prod(shape) > MAX_WEIGHT_VALUES:
        raise WeightsError(f"{name} claims shape {shape}, more than {MAX_WEIGHT_VALUES} values: not weights", name)
