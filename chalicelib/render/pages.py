"""What the HTML pages need besides templates: form parsing, error texts, security headers.

Pure functions, no chalice: ``chalicelib/http`` calls them and shapes the answers.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from chalicelib.errors import InvalidInput, InvalidInputs
from chalicelib.model.event import Event
from chalicelib.render import i18n

STATIC = Path(__file__).resolve().parent.parent / "static"
STATIC_FILES = {"site.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"}

# Every HTML answer carries these. No inline style or script anywhere: the
# policy forbids both, and the pages work without JavaScript.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 100
TRUE_VALUES = ("on", "true", "1", "yes")
SINGLE_FIELDS = ("name", "email", "organisation", "question", "language", "website")
QUESTION_PREFIX = "question-"

# Where the error summary links to, per field of the subscription form: an
# input that can take focus (a group's first; a fieldset cannot).
FIELD_ANCHORS = {
    "name": "field-name",
    "email": "field-email",
    "organisation": "field-organisation",
    "event_ids": "field-event_ids-1",
    "question": "field-question",
    "questions": "questions",
    "language": "field-language-nl",
    "consent": "field-consent",
}
FIELD_ORDER = tuple(FIELD_ANCHORS)


def field_anchors(cards: list[dict[str, Any]]) -> dict[str, str]:
    """FIELD_ANCHORS for a form with these event ``cards``: the events link to the first box not disabled (closed)."""
    first = next((n for n, card in enumerate(cards, 1) if card["state"] != "closed"), None)
    webinar = next((card["event"].id for card in cards if card["state"] != "closed"
                    and getattr(card["event"], "kind", "") == "webinar"), None)
    question = f"field-question-{webinar}" if webinar else "subscribe"
    return {**FIELD_ANCHORS, "event_ids": f"field-event_ids-{first}" if first else "field-event_ids",
            "question": question, "questions": question}


def confirm_summary(outcomes: list[Any]) -> str:
    """What a confirm did, for the result page's heading: "confirmed" when it gave (or kept) at least one seat;
    else "waitlisted", "interested", "closed" or "cancelled" (the event, by staff, before the confirm) when every
    outcome is that; else "mixed"."""
    standings = {outcome.standing for outcome in outcomes}
    if "confirmed" in standings:
        return "confirmed"
    if len(standings) == 1:
        return standings.pop()
    return "mixed"


def lang_attribute(texts: dict[str, str], lang: str) -> Any:
    """`` lang="nl"`` for an element showing ``texts`` (a title, a description) on a ``lang`` page that has
    no text in ``lang`` and falls back to Dutch (``Event.title_in``); else nothing."""
    from markupsafe import Markup

    if lang == "nl" or texts.get(lang) or not texts.get("nl"):
        return Markup("")
    return Markup(' lang="nl"')


def titled(event: Any, lang: str) -> Any:
    """The event named in a sentence, as markup: its title and its day in the event's zone, as the event's facts
    write it (``i18n.format_day``): "Webinar X (donderdag 14 januari 2027)". Two events with the same title
    are told apart. The title is marked ``lang="nl"`` where it is the Dutch fallback on a page in another
    language, as the templates mark it (``lang_attribute``); the day is in the page's language."""
    from markupsafe import Markup, escape

    title = escape(event.title_in(lang))
    mark = lang_attribute(event.title, lang)
    named = Markup(f"<span{mark}>{title}</span>") if mark else title
    return Markup("{} ({})").format(named, i18n.format_day(event.starts_at, event.timezone, lang))


def with_title(text: str, event: Any, lang: str) -> Any:
    """``text`` (translated, with ``%(title)s``) as markup, the event named in it by ``titled``: its title
    (marked ``lang="nl"`` where it is the Dutch fallback) and its day."""
    from markupsafe import Markup, escape

    return Markup(escape(text)) % {"title": titled(event, lang)}


def parse_form(raw: bytes) -> dict[str, list[str]]:
    """Parse an urlencoded body into lists of values; InvalidInput when it is not one."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("body", "not_unicode", "is not UTF-8 text") from exc
    try:
        return parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError as exc:
        raise InvalidInput("body", "too_many", f"has too many fields; at most {MAX_FORM_FIELDS}",
                           limit=MAX_FORM_FIELDS) from exc


def subscription_from_form(raw: bytes) -> dict[str, Any]:
    """Turn the subscription form's body into the data API.md describes (JSON names)."""
    fields = parse_form(raw)
    data: dict[str, Any] = {name: fields[name][0] for name in SINGLE_FIELDS if name in fields}
    data["event_ids"] = [value for value in fields.get("event_ids", []) if value != ""]
    # One question per webinar: ``question-<event id>``.
    asked = {name[len(QUESTION_PREFIX):]: values[0] for name, values in fields.items()
             if name.startswith(QUESTION_PREFIX) and values and values[0].strip()}
    if asked:
        data["questions"] = asked  # the service takes those of the events ticked; a re-shown form shows all
    elif data.get("question", "").strip():
        # A page from before the questions were per webinar (a cached one) posts ``question``: it goes to the
        # webinars ticked (the service gives an event in person none), and a re-shown form shows it there.
        data["questions"] = {event_id: data["question"] for event_id in data["event_ids"]}
    consent = fields.get("consent", [""])[0]
    data["consent"] = consent.strip().lower() in TRUE_VALUES
    return data


def form_values(data: dict[str, Any]) -> dict[str, Any]:
    """The entered values to show again in a re-shown form (never the honeypot)."""
    values = {k: v for k, v in data.items() if k != "website" and isinstance(v, (str, bool))}
    asked = data.get("questions")
    values["questions"] = {k: v for k, v in asked.items() if isinstance(v, str)} if isinstance(asked, dict) else {}
    ids = data.get("event_ids")
    values["event_ids"] = [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []
    return values


def registration_state(event: Event, now: datetime) -> str:
    """Where registration for ``event`` stands: open, soon (not open yet), full (waiting list), closed."""
    if event.registration_not_open_yet(now) and event.status == "published" and now < event.starts_at:
        return "soon"
    if not event.is_registration_open(now):
        return "closed"
    if event.seats_left == 0:
        return "full"
    return "open"


def _quality(accept: str, media: str) -> float:
    """The q-value ``accept`` (an Accept header) gives ``media``: from its most specific matching range, else 0."""
    kind = media.split("/", 1)[0]
    best, found = -1, 0.0
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media_range = fields[0].lower()
        rank = 2 if media_range == media else 1 if media_range == f"{kind}/*" else 0 if media_range == "*/*" else -1
        if rank < 0 or rank < best:
            continue
        q = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        if rank > best:
            best, found = rank, q
    return found


def prefers(accept: str | None, media: str, over: str) -> bool:
    """Whether an Accept header asks for ``media`` and likes it better than ``over`` (a tie goes to ``over``)."""
    wanted = _quality(accept or "", media)
    return wanted > 0 and wanted > _quality(accept or "*/*", over)


def event_cards(events: list[Event], now: datetime) -> list[dict[str, Any]]:
    """The events of the front page with their registration state."""
    return [{"event": e, "state": registration_state(e, now)} for e in events]


def base_field(field: str) -> str:
    """``event_ids[2]`` or ``name.first`` -> the form field it belongs to."""
    return re.split(r"[\[.]", field, maxsplit=1)[0]


def describe_problem(field: str, code: str, params: Mapping[str, Any], lang: str) -> str:
    """A sentence for the person filling in the form, in their language, about one problem.

    Chosen by the field, the problem's code and its parameters
    (``InvalidInput(field, code, message, **params)``, codes in
    ``errors.INPUT_CODES``), never by the English message, which is for
    developers and may be reworded.
    """
    _ = lambda text: i18n.gettext(text, lang)  # noqa: E731 - short alias the extractor knows
    field = base_field(field)
    if field == "consent":
        return _("Tick the box to agree with the privacy notice.")
    if field == "event_ids":
        if code == "too_many":
            return _("Choose at most %(n)s events.") % {"n": params["limit"]}
        if code == "not_open":
            return _("Registration for one of the chosen events is closed. Choose another event.")
        if code == "required":
            return _("Choose at least one event.")
        return _("Choose one of the events in the list.")
    if code == "required":
        return {
            "name": _("Enter your name."),
            "email": _("Enter your email address."),
        }.get(field, _("Fill in this field."))
    if code == "too_long":
        return _("Use at most %(n)s characters.") % {"n": params["limit"]}
    if field == "email":
        return _("Enter a valid email address, like name@example.be.")
    if field == "language":
        return _("Choose Dutch or English.")
    if code in ("not_one_line", "control_characters"):
        return _("Write this on one line, without special characters.")
    return _("Check this field.")


def form_errors(exc: InvalidInput | InvalidInputs, lang: str) -> dict[str, str]:
    """Problems of a form post by field, in the order of the form, in the page's language."""
    problems = exc.problems if isinstance(exc, InvalidInputs) else [exc]
    found: dict[str, str] = {}
    for problem in problems:
        field = base_field(problem.field)
        key = field if field in FIELD_ANCHORS else "form"
        if key == "form":
            found.setdefault(key, i18n.gettext("The form could not be read. Please fill it in again.", lang))
        else:
            found.setdefault(key, describe_problem(problem.field, problem.code, problem.params, lang))
    ordered = {f: found[f] for f in FIELD_ORDER if f in found}
    if "form" in found:
        ordered["form"] = found["form"]
    return ordered


@lru_cache(maxsize=None)
def static_file(name: str) -> tuple[bytes, str, str]:
    """Return a static file's bytes, content type and ETag (KeyError when unknown)."""
    content_type = STATIC_FILES[name]
    body = (STATIC / name).read_bytes()
    return body, content_type, '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


def static_url(name: str) -> str:
    """The URL of a static file, with its version, so it can be cached for long."""
    return f"/static/{name}?v={static_file(name)[2].strip(chr(34))}"


def switch_language_url(path: str, query: dict[str, str] | None, lang: str) -> str:
    """The URL of the same page in the other language."""
    other = "en" if lang == "nl" else "nl"
    params = {k: v for k, v in (query or {}).items() if k != "lang"}
    params["lang"] = other
    return f"{path}?{urlencode(params)}"
