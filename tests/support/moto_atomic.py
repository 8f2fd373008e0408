"""moto's standalone server, answering one request at a time.

DynamoDB's conditional writes and transactions are atomic; moto's are not when its server runs
requests in parallel threads (it checks the condition, then writes; a cancelled transaction
restores a copy of the whole table, undoing other requests' writes made meanwhile). Racing
processes would then see two winners where DynamoDB has one. Serializing the requests gives
moto DynamoDB's guarantee; connections are still served by threads.
Usage: python moto_atomic.py HOST PORT
"""

from __future__ import annotations

import os
import signal
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


def one_at_a_time(app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    lock = threading.Lock()

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with lock:
            return list(app(environ, start_response))

    return serve


def main(host: str, port: int) -> None:
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, one_at_a_time(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
