"""``python -m inkling export --onnx --weights FILE.npz [--out FILE.onnx]``: a weights file (exported
by the page or by ``train --save``) as an ONNX model (`inkling.network.onnx_model`), the same bytes
the page's "Download ONNX" gives."""

from __future__ import annotations

import sys
from pathlib import Path

from .errors import WeightsError
from .network.onnx_model import OPSET, onnx_model
from .network.weights_io import weights_from_file


def export_onnx(weights_path: Path, out: Path | None = None) -> int:
    """Write the ONNX model of ``weights_path`` to ``out`` (default: beside it, ``.onnx``) and say
    where; returns the exit code (2: the weights cannot be used, 1: the file cannot be written)."""
    out = out or weights_path.with_suffix(".onnx")
    try:
        data = onnx_model(*weights_from_file(weights_path))
    except WeightsError as error:
        print(f"error: {weights_path}: {error}", file=sys.stderr)
        return 2
    try:
        out.write_bytes(data)
    except OSError as error:
        print(f"error: {out}: {error}", file=sys.stderr)
        return 1
    print(f"wrote {out} ({len(data):,} bytes): ONNX opset {OPSET}, input 'digits' [N,1,28,28] float32 in [0,1], "
          "output 'probabilities' [N,10]")
    return 0
