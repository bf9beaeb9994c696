"""The OpenAPI document's schemas: events, subscriptions, errors, feeds; limits and enums from the model.

The operations that use them are in ``render/openapi.py``.
"""

from __future__ import annotations

from typing import Any

from chalicelib.input.message import AUDIENCES, SUBJECT_MAX, TEXT_MAX
from chalicelib.input.subscription import EMAIL_MAX, EVENT_IDS_MAX, NAME_MAX, ORGANISATION_MAX, QUESTION_MAX
from chalicelib.model.event import (
    CAPACITY_MAX,
    DESCRIPTION_MAX,
    ID_PATTERN,
    KINDS,
    LANGUAGES,
    MAX_REMINDERS,
    SETTABLE_STATUSES,
    STATUSES,
    TITLE_MAX,
)
from chalicelib.model.person import REGISTRATION_STATUSES
from chalicelib.render.pages import TRUE_VALUES

VERSION = "1.0.0"

_NULLABLE_INSTANT = {"type": ["string", "null"], "format": "date-time"}
_INSTANT = {"type": "string", "format": "date-time"}
# What a subscription says of the person, in the JSON request and the form alike.
_SUBSCRIBER = {
    "email": {"type": "string", "format": "email", "maxLength": EMAIL_MAX},
    "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
    "organisation": {"type": "string", "maxLength": ORGANISATION_MAX},
    "question": {"type": "string", "maxLength": QUESTION_MAX},
    "language": {"enum": list(LANGUAGES)},
}


def _translated(max_length: int) -> dict[str, Any]:
    """A Translated text whose every language holds at most ``max_length`` characters (as stored: checked on input)."""
    return {"$ref": "#/components/schemas/Translated",
            "additionalProperties": {"type": "string", "maxLength": max_length}}


SCHEMAS: dict[str, Any] = {
    "Error": {
        "description": "A JSON error in Chalice's shape; the message starts with the field it is about.",
        "type": "object",
        "required": ["Code", "Message"],
        "properties": {
            "Code": {"type": "string", "examples": ["BadRequestError"]},
            "Message": {"type": "string", "examples": ["ends_at: must be after starts_at"]},
        },
        "additionalProperties": False,
    },
    "GatewayError": {
        "description": "An error answered by API Gateway itself (a refused staff token: 401).",
        "type": "object",
        "required": ["message"],
        "properties": {"message": {"type": "string"}},
    },
    "Translated": {
        "description": "A text per language; `nl` is the reference, `en` optional.",
        "type": "object",
        "properties": {"nl": {"type": "string"}, "en": {"type": "string"}},
        "additionalProperties": {"type": "string"},
    },
    "TranslatedInput": {
        "description": ("A text per language, as staff send it (a plain string is the Dutch text). On a change, "
                        "languages sent replace, languages not sent are kept, a language sent as null is removed."),
        "type": "object",
        "properties": {"nl": {"type": ["string", "null"]}, "en": {"type": ["string", "null"]}},
    },
    "Location": {
        "type": "object",
        "required": ["name", "address"],
        "properties": {"name": {"type": "string"}, "address": {"type": "string"}},
        "additionalProperties": False,
    },
    "Event": {
        "description": "An event as the public sees it (`online_url` is null) or staff see it (with the join link).",
        "type": "object",
        "required": ["id", "kind", "status", "title", "description", "starts_at", "ends_at", "timezone",
                     "location", "online_url", "capacity", "registration_opens_at", "registration_closes_at",
                     "reminders", "sequence", "created_at", "updated_at", "seats_left", "registration_open",
                     "url", "ics_url"],
        "properties": {
            "id": {"type": "string", "pattern": ID_PATTERN.pattern},
            "kind": {"enum": list(KINDS)},
            "status": {"enum": list(STATUSES)},
            "title": _translated(TITLE_MAX),
            "description": _translated(DESCRIPTION_MAX),
            "starts_at": _INSTANT,
            "ends_at": _INSTANT,
            "timezone": {"type": "string"},
            "location": {"oneOf": [{"$ref": "#/components/schemas/Location"}, {"type": "null"}]},
            "online_url": {"type": ["string", "null"]},
            "capacity": {"type": ["integer", "null"], "minimum": 0, "maximum": CAPACITY_MAX},
            "registration_opens_at": _NULLABLE_INSTANT,
            "registration_closes_at": _NULLABLE_INSTANT,
            "reminders": {"type": "array", "maxItems": MAX_REMINDERS, "items": {"type": "string"}},
            "sequence": {"type": "integer", "minimum": 0},
            "created_at": _NULLABLE_INSTANT,
            "updated_at": _NULLABLE_INSTANT,
            "cancelled_at": _NULLABLE_INSTANT,
            "seats_left": {"type": ["integer", "null"]},
            "registration_open": {"type": "boolean"},
            "url": {"type": "string"},
            "ics_url": {"type": "string"},
            "counts": {"$ref": "#/components/schemas/Counts"},
        },
        "additionalProperties": False,
    },
    "EventList": {
        "type": "object",
        "required": ["events"],
        "properties": {"events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}},
        "additionalProperties": False,
    },
    "Counts": {
        "type": "object",
        "properties": {name: {"type": "integer", "minimum": 0}
                       for name in REGISTRATION_STATUSES},
        "additionalProperties": {"type": "integer"},
    },
    "EventInput": {
        "description": ("An event as staff send it. On create `title` (or `title.nl`), `kind`, `starts_at` and "
                        "`ends_at` are required; a change sends only what changes. Read-only fields sent back "
                        "from a GET are ignored; any other unknown field is refused (400)."),
        "type": "object",
        "properties": {
            "id": {"type": ["string", "null"], "description": "Null or absent: a slug of the Dutch title"},
            "kind": {"enum": list(KINDS)},
            "status": {"enum": list(SETTABLE_STATUSES)},
            "title": {"oneOf": [{"type": "string"}, {"$ref": "#/components/schemas/TranslatedInput"}]},
            "description": {"oneOf": [{"type": "string"}, {"$ref": "#/components/schemas/TranslatedInput"}]},
            "starts_at": {"type": "string"},
            "ends_at": {"type": "string"},
            "timezone": {"type": "string"},
            "location": {"oneOf": [{"type": "object"}, {"type": "null"}]},
            "online_url": {"type": ["string", "null"]},
            "capacity": {"type": ["integer", "null"]},
            "registration_opens_at": {"type": ["string", "null"]},
            "registration_closes_at": {"type": ["string", "null"]},
            "reminders": {"type": "array", "items": {"type": "string"}},
        },
        "examples": [{
            "id": "webinar-2027-03-18", "kind": "webinar", "status": "published",
            "title": {"nl": "Webinar: data in de slimme regio", "en": "Webinar: data in the smart region"},
            "starts_at": "2027-03-18T10:00", "ends_at": "2027-03-18T11:00",
            "online_url": "https://meet.example.org/sro-2027-03-18",
        }],
    },
    "SubscriptionRequest": {
        "description": "A subscription; the form sends the same names, `event_ids` repeated.",
        "type": "object",
        "required": ["email", "name", "event_ids", "consent"],
        "properties": {
            **_SUBSCRIBER,
            "event_ids": {"type": "array", "minItems": 1, "maxItems": EVENT_IDS_MAX, "items": {"type": "string"}},
            "questions": {"type": "object", "maxProperties": EVENT_IDS_MAX,
                          "additionalProperties": {"type": "string", "maxLength": QUESTION_MAX},
                          "description": ("The question for each webinar's Q&A, by event id. `question` alone goes "
                                          "to every webinar chosen; an event in person takes none.")},
            "consent": {"const": True},
            "website": {"type": "string", "description": "Left empty by people (a honeypot for bots)."},
        },
        "examples": [{
            "email": "an@example.be", "name": "An Peeters", "organisation": "Stad Gent",
            "event_ids": ["webinar-2027-01-14"], "question": "Hoe sluit onze stad aan?",
            "language": "nl", "consent": True,
        }],
    },
    "SubscriptionForm": {
        "description": "The subscription form (urlencoded): the names of SubscriptionRequest, `event_ids` repeated.",
        "type": "object",
        "required": ["email", "name", "event_ids", "consent"],
        "properties": {
            **_SUBSCRIBER,
            "event_ids": {"type": "array", "minItems": 1, "maxItems": EVENT_IDS_MAX,
                          "items": {"type": "string", "minLength": 1}},
            "consent": {"enum": list(TRUE_VALUES)},
            "website": {"type": "string", "maxLength": 0, "description": "The honeypot: left empty by people."},
        },
        "patternProperties": {"^question-[a-z0-9-]+$": {"type": "string", "maxLength": QUESTION_MAX,
                                                         "description": "The question for one webinar ticked."}},
        "examples": [{"email": "an@example.be", "name": "An Peeters", "event_ids": ["webinar-2027-01-14"],
                      "consent": "on"}],
    },
    "ButtonForm": {
        "description": ("What the page's button posts. A destructive action (cancel, erase) needs `confirm=yes`; "
                        "without it the answer is a page asking to be sure. `List-Unsubscribe=One-Click` is "
                        "RFC 8058's one-click body; the request itself is the intent."),
        "type": "object",
        "properties": {"confirm": {"type": "string"}, "List-Unsubscribe": {"type": "string"}},
    },
    "LanguageForm": {
        "description": "The manage page's \"language of our emails\": nl or en.",
        "type": "object",
        "required": ["language"],
        "properties": {"language": {"enum": list(LANGUAGES)}},
    },
    "Pending": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"const": "pending_confirmation"}},
        "additionalProperties": False,
    },
    "Registration": {
        "type": "object",
        "required": ["name", "email", "organisation", "status", "question", "registered_at"],
        "properties": {
            "name": {"type": "string"}, "email": {"type": "string"}, "organisation": {"type": ["string", "null"]},
            "status": {"enum": list(REGISTRATION_STATUSES)},
            "question": {"type": ["string", "null"]}, "language": {"type": ["string", "null"]},
            "registered_at": _NULLABLE_INSTANT, "confirmed_at": _NULLABLE_INSTANT,
            "waitlisted_at": _NULLABLE_INSTANT,
        },
    },
    "Registrations": {
        "type": "object",
        "required": ["event_id", "registrations"],
        "properties": {
            "event_id": {"type": "string"},
            "registrations": {"type": "array", "items": {"$ref": "#/components/schemas/Registration"}},
        },
    },
    "SubscriberData": {
        "description": "Every piece of data held on an address (right of access).",
        "type": "object",
        "required": ["email", "registrations"],
        "properties": {
            "email": {"type": "string"},
            "registrations": {"type": "array", "items": {"type": "object"}},
        },
    },
    "MessageInput": {
        "type": "object",
        "additionalProperties": False,
        "required": ["audience", "subject", "text"],
        "properties": {
            "audience": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": list(AUDIENCES)}},
            "subject": {"type": "object", "additionalProperties": False, "required": ["nl", "en"], "properties": {
                lang: {"type": "string", "minLength": 1, "maxLength": SUBJECT_MAX} for lang in ("nl", "en")}},
            "text": {"type": "object", "additionalProperties": False, "required": ["nl", "en"], "properties": {
                lang: {"type": "string", "minLength": 1, "maxLength": TEXT_MAX} for lang in ("nl", "en")}},
        },
    },
    "MessagePlanned": {
        "type": "object",
        "required": ["message_id", "event_id", "audience", "recipients"],
        "properties": {"message_id": {"type": "string"}, "event_id": {"type": "string"},
                       "audience": {"type": "array", "items": {"enum": list(AUDIENCES)}},
                       "recipients": {"type": "integer", "minimum": 0}},
    },
    "MessagePreview": {
        "type": "object",
        "required": ["nl", "en"],
        "properties": {lang: {"type": "object", "required": ["subject", "text", "html"], "properties": {
            "subject": {"type": "string"}, "text": {"type": "string"}, "html": {"type": "string"}}}
            for lang in ("nl", "en")},
    },
    "Erased": {
        "type": "object", "required": ["status", "mail_on_its_way"], "properties": {
            "status": {"const": "erased"},
            "mail_on_its_way": {"type": "integer", "minimum": 0,
                                "description": "Mails a tick was sending to the person at that moment: they may "
                                               "still arrive within a few minutes"},
            "note": {"type": "string"}},
    },
    "AuditLog": {
        "type": "object",
        "required": ["entries"],
        "properties": {"entries": {"type": "array", "items": {
            "type": "object",
            "required": ["actor", "action", "target", "at"],
            "properties": {"actor": {"type": "string"}, "action": {"type": "string"},
                           "target": {"type": "string"}, "at": _INSTANT, "details": {"type": "object"}},
        }}},
    },
}

# Every answer of the app carries these (app.security_headers); pages also a CSP.
