"""moto's server as ``make run`` and the live tests use it: ``python scripts/moto_local.py HOST PORT``.

Three things differ from ``python -m moto.server``:

1. **One DynamoDB request at a time.** moto's server answers each request in
   its own thread, and moto's DynamoDB does not make a conditional write or a
   transaction atomic against another thread's; DynamoDB does. Under
   concurrent requests the plain server oversells seats and lets counters
   drift. Here every DynamoDB request is handled under one lock, so each is
   atomic, as in AWS. Other services (SES, SSM, moto's own API) need no
   atomicity and run beside it, so mail does not queue behind the table.
   Connections are still accepted by many threads (werkzeug, HTTP/1.1
   keep-alive): with ``threaded=False`` each of botocore's calls would need
   a new connection and the 128-deep listen queue overflows under 200
   clients.
2. **Bounded memory.** moto keeps a reference to every model object it ever
   made (``BaseModel.__new__`` appends each to a list, for its dashboard's
   ``/moto-api/data.json``): every version of every DynamoDB item, never
   freed. A running service grows by hundreds of megabytes an hour and
   ``data.json`` gets slower with each. Here nothing is tracked.
3. **A bounded, fast outbox.** SES keeps only the newest ``OUTBOX_LIMIT``
   mails, and ``GET /_local/outbox.json`` answers them at once, in moto's
   ``data.json`` shape (``{"ses": {"RawMessage": [...], "Message": [...]}}``),
   oldest first; ``chalicelib/adapters/outbox.py`` reads it (and falls back
   to ``data.json`` on a plain moto server).

Standard library and moto only: ``make run`` installs no test tool.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading

from moto.core import common_models
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

OUTBOX_PATH = "/_local/outbox.json"
OUTBOX_LIMIT = int(os.environ.get("LOCAL_OUTBOX_LIMIT", "500"))


def stop_tracking_models() -> None:
    """Make moto keep no list of every model object it makes (its dashboard's only use of it)."""

    def untracked(cls, *args, **kwargs):
        return object.__new__(cls)

    common_models.BaseModel.__new__ = staticmethod(untracked)


def _ses_backends():
    from moto.ses.models import ses_backends

    for account in list(ses_backends.keys()):
        for region in list(ses_backends[account].keys()):
            yield ses_backends[account][region]


def trim_outbox(limit: int = OUTBOX_LIMIT) -> None:
    """Keep only the newest ``limit`` mails of every SES backend."""
    for backend in _ses_backends():
        if len(backend.sent_messages) > limit:
            del backend.sent_messages[: len(backend.sent_messages) - limit]


def outbox_data() -> dict:
    """The mails SES holds, oldest first, as moto's ``data.json`` shows them."""
    raw, simple = [], []
    for backend in _ses_backends():
        for message in list(backend.sent_messages):
            if hasattr(message, "raw_data"):
                raw.append({"id": message.id, "source": message.source,
                            "destinations": list(message.destinations or []), "raw_data": message.raw_data})
            elif hasattr(message, "body"):
                simple.append({"id": message.id, "source": message.source, "subject": message.subject,
                               "body": message.body, "destinations": message.destinations})
    return {"ses": {"RawMessage": raw, "Message": simple}}


class LocalMoto:
    """A WSGI app: one DynamoDB request at a time, the outbox trimmed after each SES request and served fast."""

    def __init__(self, app, limit: int = OUTBOX_LIMIT):
        self.app = app
        self.limit = limit
        self.lock = threading.Lock()
        self.outbox_lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == OUTBOX_PATH:
            with self.outbox_lock:
                body = json.dumps(outbox_data()).encode("utf-8")
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with self.lock:
                return list(self.app(environ, start_response))
        answer = list(self.app(environ, start_response))
        with self.outbox_lock:  # a length check when nothing is to trim
            trim_outbox(self.limit)
        return answer


def main(host: str, port: int) -> None:
    # Exit at once: kept-alive connection threads would hold sys.exit() up.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    stop_tracking_models()
    app = LocalMoto(DomainDispatcherApplication(create_backend_app))
    run_simple(host, port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
