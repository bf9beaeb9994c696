"""moto's server with tests/moto_scaling.py applied: ``python benchmarks/moto_server.py HOST PORT``.

For the reminders benchmark over HTTP (benchmarks/bench_reminders.py): the
same moto as the in-process rows, every call crossing a socket as it does in
AWS. Requests are served in threads, as ``python -m moto.server`` does.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app  # noqa: E402
from werkzeug.serving import run_simple  # noqa: E402

from tests.moto_scaling import patched  # noqa: E402


def main(host: str, port: int) -> None:
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    with patched():
        run_simple(host, port, DomainDispatcherApplication(create_backend_app), threaded=True,
                   request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
