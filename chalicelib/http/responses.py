"""Shaping answers: JSON, HTML pages in the page's language, redirects after a post, calendars."""

from __future__ import annotations

import json
from typing import Any

from chalice import Response

from chalicelib import times
from chalicelib.http.request import current, current_path, page_language
from chalicelib.render import i18n, pages


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=json.dumps(body, ensure_ascii=False), status_code=status,
                    headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})})


def download_response(body: bytes, content_type: str, filename: str) -> Response:
    """A file to save (an .xlsx): bytes, sent base64-encoded to API Gateway, which passes them on as they are.

    ``content_type`` must be one of the app's binary types (``app.py``). Chalice answers it to a request
    whose Accept matches them; a browser's (``text/html,...,*/*;q=0.8``) does, through its ``*/*``. API
    Gateway decodes it for any Accept because the API's binary media types are ``*/*``
    (``infra/template.json``): it goes by the first type of Accept, which for a browser is text/html.
    """
    return Response(body=body, status_code=200, headers={
        "Content-Type": content_type,
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
    })


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(body={"Code": code, "Message": message}, status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {})})


def html_response(body: str, status: int = 200, headers: dict[str, str] | None = None,
                  cache: str = "no-store") -> Response:
    """An HTML answer; the middleware adds the security headers every page carries."""
    return Response(body=body, status_code=status, headers={
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": cache,
        "Vary": "Accept-Language",
        **(headers or {}),
    })


def page(template: str, status: int = 200, *, switch_path: str | None = None,
         headers: dict[str, str] | None = None, cache: str = "no-store", **context: Any) -> Response:
    """Render ``web/<template>`` in the page's language as an HTML answer."""
    lang = context.pop("lang", None) or page_language()
    body = i18n.render(
        f"web/{template}", lang,
        css_url=pages.static_url("site.css"),
        icon_url=pages.static_url("favicon.svg"),
        switch_url=pages.switch_language_url(switch_path or current_path(), current().query_params, lang),
        lang_attr=lambda texts: pages.lang_attribute(texts, lang),
        titled=lambda event: pages.titled(event, lang),
        **context,
    )
    return html_response(body, status, headers, cache)


def result_page(heading: str, *paragraphs: str, manage_url: str | None = None, status: int = 200,
                switch_path: str = "/") -> Response:
    return page("result.html", status, switch_path=switch_path, heading=heading,
                paragraphs=list(paragraphs), items=[], manage_url=manage_url)


def see_other(location: str) -> Response:
    """303 to a page a GET shows: after a post (reloading it sends nothing again), or from a POST-only address."""
    return Response(body="", status_code=303, headers={
        "Location": location, "Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8"})


def _(text: str) -> str:
    """``text`` in the page's language."""
    return i18n.gettext(text, page_language())


def N_(text: str) -> str:
    """Mark a text for translation where it is defined; it is translated where shown."""
    return text


def calendar_response(reply, extra_headers: dict[str, str] | None = None) -> Response:
    """Shape a feed reply: 200 or 304, validators and caching headers; no body for 304 or HEAD."""
    from chalicelib.services.public_feed import CACHE_CONTROL

    headers = {"Content-Type": "text/calendar; charset=utf-8", "Cache-Control": CACHE_CONTROL, **(extra_headers or {})}
    if reply.etag:
        headers["ETag"] = reply.etag
    if reply.last_modified:
        headers["Last-Modified"] = times.format_http_date(reply.last_modified)
    send_body = reply.status == 200 and current().method != "HEAD"
    return Response(body=reply.body.decode("utf-8") if send_body else "", status_code=reply.status, headers=headers)
