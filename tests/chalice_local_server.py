"""``chalice local`` with a listen backlog for a crowd: ``python tests/chalice_local_server.py local ARGS``.

chalice local serves each request in its own thread (chalice.local's
ThreadedHTTPServer), but keeps socketserver's listen backlog of 5: when 200
browsers connect at the same moment, the kernel resets most of them before
chalice ever sees them (157 of 220 in tests/live/test_load.py). API Gateway has
no such queue, so for the load test the backlog is raised to 1024 and
everything else is ``chalice local`` as it is.
"""

from __future__ import annotations

import sys

from chalice import local
from chalice.cli import main

local.ThreadedHTTPServer.request_queue_size = 1024

if __name__ == "__main__":
    sys.argv[0] = "chalice"
    sys.exit(main())
