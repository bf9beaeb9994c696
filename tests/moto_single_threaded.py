"""moto's server, one request at a time: ``python tests/moto_single_threaded.py HOST PORT``.

``python -m moto.server`` answers each request in its own thread, and moto's
DynamoDB does not make a conditional write or a transaction atomic against
another thread's; DynamoDB does. The load test (tests/test_load.py) races
200 people for 10 seats through ``chalice local``, so what it tests must be
our conditions and transactions, not moto's locking: this server handles
one request after the other (werkzeug, ``threaded=False``), which makes
every DynamoDB request atomic, as in AWS. ``chalice local`` in front of it
stays multi-threaded.
"""

from __future__ import annotations

import signal
import sys

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app


def main(host: str, port: int) -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False, processes=1, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
