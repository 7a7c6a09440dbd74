"""Serving dist/ on 127.0.0.1 with the MIME types, caching and Content-Security-Policy the site needs."""
from __future__ import annotations

import functools
import signal
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from inkling_build.errors import BuildError
from inkling_build.fetcher import Fetcher
from inkling_build.site import build_site
from inkling_build.workspace import Paths, build_lock

MIME_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".bin": "application/octet-stream",
    ".npz": "application/octet-stream",
    ".py": "text/plain",
    ".toml": "text/plain",
    ".txt": "text/plain",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


# Content-Security-Policy: only this origin's files load, run or connect. 'wasm-unsafe-eval' lets
# Pyodide compile its WebAssembly (in the page and the worker). The page's policy, also in a <meta> of
# web/index.html (a test keeps them equal), adds 'unsafe-eval' because PyScript 0.6.66 composes its
# plugin hooks with Function(...). A worker's policy is the one sent with its script: no eval there.
CSP_WORKER = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; "
              "connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'")
CSP_PAGE = CSP_WORKER.replace("script-src 'self'", "script-src 'self' 'unsafe-eval'")
# Cross-origin isolation: the page and its workers may share memory (SharedArrayBuffer), which is
# how several training workers combine each step. Everything the site loads is its own.
ISOLATION = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp",
             "Cross-Origin-Resource-Policy": "same-origin"}


class SiteHandler(SimpleHTTPRequestHandler):
    """Static files with the MIME types the runtime needs, revalidated on every load, no log."""

    extensions_map = {"": "application/octet-stream", **MIME_TYPES}

    def end_headers(self) -> None:
        # Revalidate every file: a rebuilt page or wheel is picked up on reload (304s keep it fast).
        self.send_header("Cache-Control", "no-cache")
        html = self.path.split("?")[0].endswith(("/", ".html"))
        self.send_header("Content-Security-Policy", CSP_PAGE if html else CSP_WORKER)
        if getattr(self.server, "isolate", True) and _trustworthy(self.headers.get("Host", "")):
            for name, value in ISOLATION.items():
                self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (base signature)
        pass


def _trustworthy(host: str) -> bool:
    """Whether a page at this Host (plain http) is a secure context: only loopback names are. Elsewhere
    the browser ignores isolation headers, and says so in the console as an error."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in ("localhost", "[::1]") or name.endswith(".localhost") or name.startswith("127.")


class SiteServer(ThreadingHTTPServer):
    """Serves a folder on 127.0.0.1; `port=0` picks a free port (see `url`). ``isolate=False`` leaves
    out the cross-origin isolation headers, as a plain static host does (the tests' other host)."""

    daemon_threads = True

    def __init__(self, root: Path, port: int = 0, host: str = "127.0.0.1", isolate: bool = True) -> None:
        super().__init__((host, port), functools.partial(SiteHandler, directory=str(root)))
        self.isolate = isolate

    @property
    def url(self) -> str:
        """The address it serves at, with the port it really got."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def handle_error(self, request: object, client_address: object) -> None:
        # A browser closing a connection mid-response is normal, not worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(paths: Paths, fetcher: Fetcher, port: int) -> None:
    """Build dist/ if needed, then serve it until Ctrl-C."""
    with build_lock(paths.cache):
        build_site(paths, fetcher)
    try:
        server = SiteServer(paths.dist, port)
    except OSError as exc:
        raise BuildError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}): "
                         "choose another port with --port N (0 picks a free one)") from None
    print(f"Serving {paths.dist} at {server.url}  (Ctrl-C to stop)", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
    # Started in the background by a shell without job control, a process inherits SIGINT ignored
    # (and Python then leaves it so): Ctrl-C, or `kill -INT`, must still stop the server.
    signal.signal(signal.SIGINT, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nstopped", flush=True)
    finally:
        server.server_close()
