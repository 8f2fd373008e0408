"""moto's standalone server, answering one request at a time.

DynamoDB applies each conditional write atomically; moto's threaded server does not (two racing
UpdateItem calls can both pass the same condition: seen once in 150 races of 8 threads), so a
race test against it would fail for moto's sake. Serving requests one by one restores the
atomicity the stores rely on. Usage: python moto_serial.py HOST PORT
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def serial_app() -> Callable[[dict[str, Any], Any], Iterable[bytes]]:
    """moto's WSGI app behind one lock (the whole response is built inside it)."""
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serve(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with lock:
            return list(app(environ, start_response))

    return serve


if __name__ == "__main__":
    run_simple(
        sys.argv[1],
        int(sys.argv[2]),
        serial_app(),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
