"""``chalice local`` as ``make run`` and the live tests start it: ``python scripts/chalice_local.py local ARGS``.

Two things differ from plain ``chalice local``:

1. **No personal data in its access log.** chalice local prints each request
   line to the terminal, as ``http.server`` does: the token of every
   confirm, manage, unsubscribe and feed link, and ``?email=`` look-ups.
   Here the log line names the method, the path with every token (and any
   long segment) replaced by ``{token}``, and only the ``lang`` of the query;
   the app's own log lines already name the route template only.
2. **A listen backlog for a crowd.** chalice local serves each request in
   its own thread (chalice.local's ThreadedHTTPServer), but keeps
   socketserver's listen backlog of 5: when 200 browsers connect at the same
   moment, the kernel resets most of them before chalice ever sees them.
   API Gateway has no such queue, so the backlog is 1024.

Everything else is ``chalice local`` as it is.
"""

from __future__ import annotations

import re
import sys
from urllib.parse import parse_qsl, urlsplit

# The first segment of the paths whose next segment is a personal token (the link routes of chalicelib/http/);
# also any segment after "sign-in" (the staff console's sign-in links).
TOKEN_PREFIXES = frozenset({"confirm", "manage", "unsubscribe", "feeds"})
# Any segment this long, or this token-like, is dropped too: a route added later is covered without a change here.
LONG_SEGMENT = 24
TOKEN_LIKE = re.compile(r"^(?=.*[A-Z])(?=.*[a-z])(?=.*\d)[A-Za-z0-9_.~=-]{12,}$")


def redact_target(target: str) -> str:
    """A request target as the local log may show it: no token, no address, no query but the language."""
    parts = urlsplit(target)
    segments = parts.path.split("/")
    shown = []
    for index, segment in enumerate(segments):
        after_prefix = (index == 2 and segments[1] in TOKEN_PREFIXES) or (index >= 2 and segments[index - 1] == "sign-in")
        if after_prefix or len(segment) >= LONG_SEGMENT or TOKEN_LIKE.match(segment) or "@" in segment or "%40" in segment:
            suffix = ".ics" if segment.endswith(".ics") else ""
            shown.append("{token}" + suffix)
        else:
            shown.append(segment)
    path = "/".join(shown)
    query = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True)]
    kept = [f"lang={value}" for name, value in query if name == "lang" and value in ("nl", "en")]
    if len(kept) < len(query):
        kept.append("…")
    return path + ("?" + "&".join(kept) if kept else "")


def redacted_request_line(requestline: str) -> str:
    """``GET /manage/abc?email=x HTTP/1.1`` -> ``GET /manage/{token}?… HTTP/1.1``."""
    method, _, rest = requestline.partition(" ")
    target, _, version = rest.partition(" ")
    if not target:
        return method
    return " ".join(part for part in (method, redact_target(target), version) if part)


def install() -> None:
    """Patch chalice local's request handler and server (before ``chalice local`` starts)."""
    from chalice import local

    def log_request(self, code="-", size="-"):
        if isinstance(code, int) or hasattr(code, "value"):
            code = getattr(code, "value", code)
        self.log_message('"%s" %s %s', redacted_request_line(getattr(self, "requestline", "")), str(code), str(size))

    def log_error(self, format, *args):
        # http.server's error lines can quote the request line ("Bad request syntax ('GET /manage/...')").
        self.log_message("error %s", str(args[0]) if args else "")

    local.ChaliceRequestHandler.log_request = log_request
    local.ChaliceRequestHandler.log_error = log_error
    local.ThreadedHTTPServer.request_queue_size = 1024


if __name__ == "__main__":
    install()
    from chalice.cli import main

    sys.argv[0] = "chalice"
    sys.exit(main())
