"""Weights as ``.npz`` bytes: the file format plain numpy reads, written and strictly checked."""

from __future__ import annotations

import io
import zipfile
import zlib
from typing import Mapping

import numpy as np

from .errors import WeightsError
from .mlp import checked_weights, param_names

# An .npz file is a zip archive; anything else (a bare .npy, a pickle, text) is refused up front.
_ZIP_MAGIC = b"PK\x03\x04"
_MAX_ARRAYS = 64
_MAX_BYTES = 256 << 20  # checked before decompressing, so a zip bomb is refused cheaply


def weights_to_npz(weights: Mapping[str, np.ndarray]) -> bytes:
    """Serialise named weight arrays (``W1``, ``b1``, ...) as float32 ``.npz`` bytes.

    The result loads with ``np.load(io.BytesIO(data), allow_pickle=False)``.

    Raises:
        WeightsError: The mapping is not a valid set of weights.
    """
    arrays = checked_weights(weights, np.dtype(np.float32))
    buffer = io.BytesIO()
    np.savez(buffer, **dict(zip(param_names(len(arrays) // 2), arrays)))  # type: ignore[arg-type]
    return buffer.getvalue()


def weights_from_npz(data: bytes) -> dict[str, np.ndarray]:
    """Read and validate weights from ``.npz`` bytes, never unpickling anything.

    Returns:
        ``{"W1": (784, h) float32, "b1": (h,) float32, ...}`` forming a chain of layers.

    Raises:
        WeightsError: Not a zip/npz file, truncated, holds object (pickled) arrays,
            names other than ``W1, b1, ...``, inconsistent shapes, or NaN/inf values.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise WeightsError(f"expected the bytes of a .npz file, got {type(data).__name__}")
    data = bytes(data)
    if not data.startswith(_ZIP_MAGIC):
        raise WeightsError("not a .npz file (it is not a zip archive); export weights from Inkling or np.savez")
    raw: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
        if len(members) > _MAX_ARRAYS or sum(m.file_size for m in members) > _MAX_BYTES:
            raise WeightsError(
                f"the file holds {len(members)} arrays of {sum(m.file_size for m in members)} bytes: "
                f"too large for weights (at most {_MAX_ARRAYS} arrays, {_MAX_BYTES >> 20} MiB)"
            )
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            for name in npz.files:
                raw[name] = npz[name]
    except WeightsError:
        raise
    except ValueError as exc:
        # numpy refuses object arrays with allow_pickle=False by raising ValueError.
        raise WeightsError(f"the .npz file cannot be read safely: {exc}") from exc
    except (OSError, EOFError, KeyError, zlib.error, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise WeightsError(f"the .npz file is damaged or truncated: {exc}") from exc
    arrays = checked_weights(raw, np.dtype(np.float32))
    return dict(zip(param_names(len(arrays) // 2), arrays))
