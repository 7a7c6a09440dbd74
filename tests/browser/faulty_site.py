"""A real HTTP server over the built site whose data files misbehave on demand, switched at runtime.

Faults are per data file (``train-007.bin``): ``404``; ``stall`` (accept the request and never
answer, holding the connection until released); ``truncate`` (promise the whole file, send half,
close the connection); ``flip`` (send the file with one byte changed: its sha256 no longer
matches); ``labels`` (labels 10..19 in a block whose manifest entry is rewritten with the new
sha256, so only the label check can catch it). ``down()`` answers 503 for every block until
``heal()``. Every block request is counted in ``requests``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

import numpy as np

FAULTS = ("404", "stall", "truncate", "flip", "labels")
STALL_LIMIT_S = 600  # a stalled answer is released by then at the latest


class Faults:
    """What the server does to each data file; thread-safe, changed by the test while it serves."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._lock = threading.Lock()
        self._by_file: dict[str, str] = {}
        self._rewritten: dict[str, bytes] = {}  # file -> its bad-labels bytes
        self._manifest: bytes | None = None  # the manifest that vouches for them
        self._down = False
        self.release = threading.Event()  # set: stalled requests give up and close
        self.requests: Counter[str] = Counter()

    def set(self, file: str, fault: str) -> None:
        """Make ``file`` misbehave. A ``labels`` fault must be set before the page loads the manifest."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {FAULTS}")
        with self._lock:
            if fault == "labels":
                self._rewrite_labels(file)
            self._by_file[file] = fault

    def down(self, release: bool = True) -> None:
        """Every block answers 503 (the data server is down) until `heal`; ``release=False`` keeps the
        stalled answers stalled (their fetches end by their own timeout)."""
        with self._lock:
            self._down = True
        if release:
            self.release.set()

    def heal(self, release: bool = True) -> None:
        """Serve every block again (bad-labels blocks stay bad: their manifest entry vouches for them);
        ``release=False`` as in `down`."""
        with self._lock:
            self._down = False
            self._by_file = {f: k for f, k in self._by_file.items() if k == "labels"}
        if release:
            self.release.set()

    def answer(self, file: str) -> tuple[str, bytes | None]:
        """What to do for a request of ``file``: (fault or "ok" or "down", the bytes to send)."""
        with self._lock:
            if file.endswith(".bin"):
                self.requests[file] += 1
            if file == "manifest.json" and self._manifest is not None:
                return "ok", self._manifest
            if self._down and file.endswith(".bin"):
                return "down", None
            fault = self._by_file.get(file, "ok")
            if fault == "labels":
                return "ok", self._rewritten[file]
        if fault in ("truncate", "flip"):
            return fault, (self.data_dir / file).read_bytes()
        return fault, None

    def _rewrite_labels(self, file: str) -> None:
        raw = bytearray((self.data_dir / file).read_bytes())
        manifest = json.loads(self._manifest or (self.data_dir / "manifest.json").read_bytes())
        entry = next(e for e in manifest["train"] + manifest["test"] if e["file"] == file)
        labels = np.frombuffer(raw, np.uint8, count=entry["count"], offset=len(raw) - entry["count"])
        raw[len(raw) - entry["count"]:] = (labels + 10).tobytes()  # 10..19: outside 0..9
        entry["sha256"] = hashlib.sha256(raw).hexdigest()  # the hash matches: only the label check can tell
        self._rewritten[file] = bytes(raw)
        self._manifest = json.dumps(manifest, indent=1).encode()


def make_server(build_py: ModuleType, dist: Path, faults: Faults) -> Any:
    """A `build.SiteServer` over ``dist`` on a free port whose ``/data/`` files obey ``faults``."""

    class FaultyHandler(build_py.SiteHandler):  # type: ignore[name-defined, misc]
        def do_GET(self) -> None:  # noqa: N802 (the base class's name)
            path = urlparse(self.path).path
            if not path.startswith("/data/"):
                return super().do_GET()
            fault, body = faults.answer(path.rsplit("/", 1)[-1])
            if fault == "ok" and body is None:
                return super().do_GET()
            if fault == "down":
                self.send_error(503, "data server down (injected)")
            elif fault == "404":
                self.send_error(404, "block missing (injected)")
            elif fault == "stall":
                faults.release.wait(STALL_LIMIT_S)  # hold the connection, say nothing
                self.close_connection = True
            elif fault == "truncate":
                assert body is not None
                self._send(body, len(body))  # promises all of it ...
                self.wfile.write(body[: len(body) // 2])  # ... sends half, and hangs up
                self.close_connection = True
            else:
                assert body is not None
                if fault == "flip":
                    middle = len(body) // 2
                    body = body[:middle] + bytes([body[middle] ^ 0xFF]) + body[middle + 1:]
                self._send(body, len(body))
                self.wfile.write(body)
            return None

        def _send(self, body: bytes, length: int) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(length))
            self.end_headers()

    class FaultyServer(build_py.SiteServer):  # type: ignore[name-defined, misc]
        def __init__(self) -> None:
            ThreadingHTTPServer.__init__(self, ("127.0.0.1", 0),
                                         lambda *args: FaultyHandler(*args, directory=str(dist)))

    return FaultyServer()
