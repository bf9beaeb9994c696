"""Blueprint: the middleware every HTTP answer passes through: security headers, one log line per request."""

from __future__ import annotations

import time

from chalice import Blueprint

from chalicelib.render import pages

middleware = Blueprint(__name__)


@middleware.middleware("http")
def security_headers(event, get_response):
    """The one place that sets the security headers.

    Every answer: ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
    no-referrer`` (token URLs must not leak) and a Content-Type (Chalice's own
    405 and 415 have none). Every page (text/html) also gets the
    Content-Security-Policy of ``render/pages.SECURITY_HEADERS``. Every
    staff answer (``/staff/...``: join links, addresses, the audit), errors
    included, gets ``Cache-Control: no-store``, whatever the route set.
    """
    response = get_response(event)
    headers = response.headers
    content_type = next((value for name, value in headers.items() if name.lower() == "content-type"), None)
    if content_type is None and not isinstance(response.body, str):
        content_type = headers["Content-Type"] = "application/json"
    wanted = dict(pages.SECURITY_HEADERS) if (content_type or "").startswith("text/html") else {
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
    for name, value in wanted.items():
        headers.setdefault(name, value)
    if _is_staff(event.path):
        for name in [n for n in headers if n.lower() == "cache-control"]:
            del headers[name]
        headers["Cache-Control"] = "no-store"
    if event.method == "HEAD" and response.body:
        # An answer to HEAD has no body, errors included: a body left on a
        # kept-alive connection is read as the start of the next answer.
        response.body = ""
    return response


def _is_staff(path: str | None) -> bool:
    return bool(path) and (path == "/staff" or path.startswith("/staff/"))


@middleware.middleware("http")
def log_request(event, get_response):
    """Log one JSON line per request: method, route template, status, duration, request id."""
    started = time.perf_counter()
    status = 500
    try:
        response = get_response(event)
        status = response.status_code
        return response
    finally:
        from chalicelib import logs

        context = event.context or {}
        lambda_context = getattr(event, "lambda_context", None)
        logs.request(
            method=event.method, route=context.get("resourcePath"), status=status,
            duration_ms=(time.perf_counter() - started) * 1000,
            request_id=context.get("requestId") or getattr(lambda_context, "aws_request_id", None),
        )
