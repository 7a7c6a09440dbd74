"""Small helpers for the page's DOM code: find by data-testid, build elements, keep listeners alive."""

from __future__ import annotations

import json
from typing import Any, Callable

import numpy as np

_listeners: list[Any] = []  # proxies of listeners that live as long as the page


def document() -> Any:
    """The page's ``document``."""
    from js import document as doc

    return doc


def by_testid(testid: str) -> Any:
    """The element with ``data-testid=testid``.

    Raises:
        LookupError: No such element (the page and the code disagree).
    """
    element = document().querySelector(f'[data-testid="{testid}"]')
    if element is None:
        raise LookupError(f"the page has no element with data-testid={testid!r}")
    return element


def element(tag: str, *, cls: str = "", text: str = "", parent: Any = None, **attrs: str) -> Any:
    """Create an element; ``attrs`` become attributes (``data_testid`` -> ``data-testid``)."""
    node = document().createElement(tag)
    if cls:
        node.className = cls
    if text:
        node.textContent = text
    for name, value in attrs.items():
        node.setAttribute(name.replace("_", "-"), value)
    if parent is not None:
        parent.append(node)
    return node


def listen(target: Any, event: str, handler: Callable[[Any], Any], **options: bool) -> None:
    """Call ``handler(event)`` on every ``event`` of ``target`` for the page's lifetime.

    The proxy is kept (not destroyed) on purpose: the listener lives as long as the page.
    """
    from pyodide.ffi import create_proxy

    proxy = create_proxy(handler)
    _listeners.append(proxy)
    if options:
        target.addEventListener(event, proxy, js_object(options))
    else:
        target.addEventListener(event, proxy)


def js_object(value: Any) -> Any:
    """A plain JS value (objects, arrays, null for None) built from JSON-able Python data.

    Goes through JSON on purpose: ``None`` must become ``null`` (uPlot's gap), which
    ``to_js`` would turn into ``undefined``.
    """
    from js import JSON

    return JSON.parse(json.dumps(value, allow_nan=False))


def set_text(node: Any, text: str) -> None:
    """Set ``textContent`` only when it changes (no needless layout work)."""
    if node.textContent != text:
        node.textContent = text


class LiveText:
    """An element whose text changes often (a number while training), written only when it changes.

    Setting ``textContent`` removes the element's text node and adds a new one, which the browser
    lays out again from scratch; this keeps one text node and changes its data. It also knows the
    text on display, so deciding to skip a write costs no call into JS.
    """

    def __init__(self, node: Any) -> None:
        self.text = str(node.textContent)
        self._node = document().createTextNode(self.text)
        node.replaceChildren(self._node)

    def set(self, text: str) -> None:
        """Show ``text``."""
        if text != self.text:
            self._node.data = text
            self.text = text


def put_pixels(canvas: Any, pixels: Any) -> None:
    """Show RGBA pixels ``(height, width, 4)`` uint8 on ``canvas``, one canvas pixel each (CSS scales it
    up), resizing the canvas only when the picture's size changed (that clears it and costs layout)."""
    from js import ImageData

    height, width = pixels.shape[:2]
    if (canvas.width, canvas.height) != (width, height):
        canvas.width, canvas.height = width, height
    image = ImageData.new(width, height)
    image.data.assign(pixels.reshape(-1))
    canvas.getContext("2d").putImageData(image, 0, 0)


def put_ink(canvas: Any, ink: Any) -> None:
    """Show ``ink`` ``(height, width)`` in [0, 1] on ``canvas`` as white of that opacity, as the page draws
    (a tile's thumbnail, a photo read as a drawing), with `put_pixels`."""
    rgba = np.full((*ink.shape, 4), 255, np.uint8)
    rgba[..., 3] = np.round(np.clip(ink, 0, 1) * 255)
    put_pixels(canvas, rgba)
