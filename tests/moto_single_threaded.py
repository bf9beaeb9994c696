"""moto's server, one request at a time: ``python tests/moto_single_threaded.py HOST PORT``.

``python -m moto.server`` answers each request in its own thread, and moto's
DynamoDB does not make a conditional write or a transaction atomic against
another thread's; DynamoDB does. The load test (tests/live/test_load.py) races
200 people for 10 seats through ``chalice local``, so what it tests must be
our conditions and transactions, not moto's locking: here every DynamoDB
request is handled under one lock, which makes each atomic, as in AWS.

Connections are still accepted by many threads (werkzeug, HTTP/1.1 keep-alive):
with ``threaded=False`` each of botocore's calls needs a new connection and
the 128-deep listen queue overflows under 200 clients. ``chalice local`` in
front of it stays multi-threaded.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app


class OneAtATime:
    """A WSGI app that lets one DynamoDB request in at a time, its answer built under the lock.

    Other services (SES, SSM, moto's own API) need no atomicity and run
    beside it, so mail does not queue behind the table.
    """

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return self.app(environ, start_response)
        with self.lock:
            return list(self.app(environ, start_response))


def main(host: str, port: int) -> None:
    # Exit at once: kept-alive connection threads would hold sys.exit() up.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    app = OneAtATime(DomainDispatcherApplication(create_backend_app))
    run_simple(host, port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
