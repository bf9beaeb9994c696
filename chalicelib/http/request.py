"""Reading the current request: bodies, form fields, query values, the page's language, the staff actor.

``edge`` is a blueprint without routes: ``app.py`` registers it so that these
helpers can reach the request being answered (``edge.current_request``).
"""

from __future__ import annotations

import json
from typing import Any

from chalice import Blueprint
from chalice.app import Request

from chalicelib.errors import BodyTooLarge, InvalidInput
from chalicelib.render import i18n, pages

edge = Blueprint(__name__)

MAX_BODY = 64 * 1024


def current() -> Request:
    return edge.current_request


def raw_form_body() -> bytes:
    """The request's body, JSON or form; over 64 KiB is a 413."""
    raw = current().raw_body or b""
    if len(raw) > MAX_BODY:
        raise BodyTooLarge(f"body: is {len(raw)} bytes; at most {MAX_BODY} bytes (64 KiB) are accepted")
    return raw


def json_body() -> Any:
    """Return the request's JSON body, or raise a domain error naming the problem."""
    raw = raw_form_body()
    if not raw.strip():
        raise InvalidInput("body", "required", "is empty; send a JSON object")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidInput("body", "invalid_json", f"is not valid JSON ({type(exc).__name__})") from exc
    _refuse_lone_surrogates(data)
    return data


def _refuse_lone_surrogates(data: Any) -> None:
    """Refuse a JSON string holding a lone UTF-16 surrogate ("\\ud800"), naming its field.

    JSON allows one; UTF-8 has no way to write it, so no store (DynamoDB),
    feed or answer could take it. Walked without recursion: nesting is as
    deep as json.loads allowed.
    """
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidInput(path[:100] or "body", "not_unicode", "is not valid Unicode text (it holds a lone UTF-16 "
                                   "surrogate such as \\ud800)") from None
        elif isinstance(value, dict):
            for key, item in value.items():
                stack.append((item, f"{path}.{key}" if path else key))
                stack.append((key, path or "body"))  # checked first: a name that cannot be written is named by its parent
        elif isinstance(value, list):
            stack.extend((item, path or "body") for item in value)


def form_fields() -> dict[str, list[str]]:
    """The fields of a posted form (urlencoded); empty when there is no body."""
    return pages.parse_form(raw_form_body())


def is_form_post() -> bool:
    content_type = (current().headers.get("content-type") or "").lower()
    return content_type.split(";")[0].strip() == pages.FORM_CONTENT_TYPE


def confirmed_step() -> bool:
    """Whether a destructive POST carries the "yes, I am sure" of its confirmation page."""
    if not is_form_post():
        return False
    return form_fields().get("confirm", [""])[0] == "yes"


def query_value(name: str, allowed: tuple[str, ...], default: str) -> str:
    """Return the one value of ``?name`` (``default`` when absent); anything else is a 400, never a fallback.

    Every value counts: chalice's get() reads only the last one, so
    "?lang=xx&lang=" would otherwise pass as the default.
    """
    params = current().query_params
    values = params.getlist(name) if params and name in params else [default]
    if len(set(values)) != 1 or values[0] not in allowed:
        raise InvalidInput(name, "not_one_of", f"must be {' or '.join(allowed)}", allowed=allowed)
    return values[0]


def feed_lang() -> str:
    """Return ``?lang`` (nl by default); anything but nl or en is a 400, not a silent fallback."""
    return query_value("lang", ("nl", "en"), "nl")


def page_language() -> str:
    """The page's language: ``?lang=`` first, then Accept-Language, else Dutch."""
    request = current()
    return i18n.pick_language((request.query_params or {}).get("lang"), request.headers.get("accept-language"))


def lang_query() -> str:
    return f"?lang={page_language()}"


def current_path() -> str:
    request = current()
    return request.path.format(**(request.uri_params or {}))


def source_ip() -> str | None:
    """The caller's IP as API Gateway saw it (``identity.sourceIp``; chalice local's peer), for the limit per client.

    Never logged or stored as it is: the service keeps a keyed hash of it, for an hour.
    """
    identity = (current().context or {}).get("identity") or {}
    value = identity.get("sourceIp")
    return value if isinstance(value, str) and value else None


def actor() -> str:
    """The staff member a Bearer token names (the authorizer's principal), for the audit log."""
    return current().context.get("authorizer", {}).get("principalId", "unknown")


def subscriber_email() -> str:
    """The one ``?email=`` of a staff lookup or erasure."""
    params = current().query_params
    values = params.getlist("email") if params and "email" in params else []
    if len(values) > 1:
        raise InvalidInput("email", "not_unique", "give one address: ?email=an@example.be")
    if not values or not values[0]:
        raise InvalidInput("email", "required", "is required: ?email=an@example.be")
    return values[0]
