"""The loopback HTTP servers of local mode (the site and the API origins): bound at once, serving later."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Response

from local_stack.emulator import ensure_free

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class Slot:
    """A WSGI app that answers 503 until the real one is put in, so a port can be held from the start."""

    def __init__(self) -> None:
        self.app: WSGIApplication | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        app: WSGIApplication = self.app or Response("starting", status=503)
        return app(environ, start_response)


class LocalServer:
    """One loopback server: holds its port from construction, serves `slot.app` once `start` is called."""

    def __init__(self, server: BaseWSGIServer, slot: Slot) -> None:
        self.server = server
        self.slot = slot
        self._thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread:
            self.server.shutdown()
        self.server.server_close()


def bind_server(host: str, port: int, what: str) -> LocalServer:
    """Hold `host:port` (0: any free port) for `what`, or fail with PortInUse naming it."""
    ensure_free(host, port, what)
    slot = Slot()
    return LocalServer(make_server(host, port, slot, threaded=True), slot)
