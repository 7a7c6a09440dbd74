"""The weights as files: export the newest ones, import a file, and give weights to the worker,
checked on the page first so a bad file costs nothing."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from ..errors import WeightsError
from ..messages.protocol import Command, ResponseSignal, SetWeights
from ..network.models import network_from_weights
from ..network.onnx_model import INPUT, OPSET, OUTPUT
from ..network.weights_io import NetworkWeights
from .dom import by_testid, listen
from .inference import Predictor
from .storage import architecture, export_weights, read_weights_file
from .worker_client import Reply


class WeightsFiles:
    """The export button and the import input, and `apply` for any weights from outside.

    Args:
        bridge: ``web/bridge.js``'s ``inklingBridge`` (it downloads files).
        predictor: Holds the newest weights (what an export writes).
        request: Sends a command to the worker and waits for its reply.
        notify: Shows a message to the person.
        spawn: Runs a coroutine in the background.
    """

    def __init__(self, bridge: Any, predictor: Predictor, request: Callable[[Command], Awaitable[Reply]],
                 notify: Callable[[str, str], None], spawn: Callable[[Any], None]) -> None:
        self._bridge, self._predictor, self._request = bridge, predictor, request
        self._notify, self._spawn = notify, spawn
        self.export_button = by_testid("export-weights")
        self.onnx_button = by_testid("export-onnx")
        self.import_input = by_testid("import-weights")
        listen(self.export_button, "click", lambda _e: self.export())
        listen(self.onnx_button, "click", lambda _e: self.export(onnx=True))
        listen(self.import_input, "change", lambda _e: self._chosen())

    def set_enabled(self, export: bool, import_: bool) -> None:
        """Export needs weights on the page; import needs the worker."""
        self.export_button.disabled = self.onnx_button.disabled = not export
        self.import_input.disabled = not import_

    def export(self, onnx: bool = False) -> None:
        """Download the current weights as an .npz file (``onnx``: as an ONNX model)."""
        weights = self._predictor.weights()
        if weights is None:
            self._notify("error", "No weights yet: wait for the worker to report.")
            return
        name = export_weights(self._bridge, weights, onnx)
        if onnx:
            self._notify("info", f"Exported {name}: ONNX opset {OPSET}, input '{INPUT}' [N,1,28,28] in [0,1] (ink "
                                 f"bright), output '{OUTPUT}' [N,10]; onnxruntime, OpenCV and others read it.")
        else:
            self._notify("info", f"Exported {name}: load it in Python with numpy.load('{name}').")

    def _chosen(self) -> None:
        files = self.import_input.files
        if files.length == 0:
            return
        file = files.item(0)
        self.import_input.value = ""  # choosing the same file again is a new change
        self._spawn(self._import(file))

    async def _import(self, file: Any) -> None:
        try:
            network = await read_weights_file(file)
        except WeightsError as error:
            self._notify("error", f"{file.name} was not loaded (your current weights are kept): {error}")
            return
        if await self.apply(network, file.name):
            self._notify("info", f"Loaded {file.name} ({architecture(network)}).")

    async def apply(self, network: NetworkWeights, source: str = "the saved weights", seed: int | None = None) -> bool:
        """Give the worker these weights (with new hidden layers if they need them); True if it took them.

        ``seed`` is the seed of the run they come from, if known: the page goes on showing it.
        """
        try:
            network_from_weights(*network)
        except WeightsError as error:
            self._notify("error", f"{source} cannot be used (your current weights are kept): {error}")
            return False
        # Weights of other hidden layers make the worker switch to a network of that shape.
        reply = await self._request(SetWeights(dict(network.weights), seed=seed, hidden=network.hidden))
        return isinstance(reply, ResponseSignal)
