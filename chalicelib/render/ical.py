"""Events as iCalendar, and "add to calendar" links: pure functions, no storage, no clock.

The same builder serves the public feed (``/calendar.ics``), one event's
download, the personal feed and the mails' attachments. Its output depends
only on its arguments, so the bytes, and an ETag taken from them, change
only when an event does.

icalendar costs tens of milliseconds to import: the HTTP edge imports this module
at load time, so icalendar is imported inside the functions that need it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from chalicelib import times
from chalicelib.model.event import Event
from chalicelib.render.vtimezone import vtimezone

# The UID's domain is the service's own name, fixed forever: a UID must
# never change when BASE_URL does, or every calendar would show each event
# twice.
UID_DOMAIN = "events.smartregion.vlaanderen.be"
PRODID = "-//Smart Region Office//Event service//NL"
ORGANIZER_NAME = "Smart Region Office"
ORGANIZER_EMAIL = "smartregionoffice@vlaanderen.be"
LANGUAGES = ("nl", "en")
# None: a feed or one event's download. REQUEST and CANCEL: iMIP (RFC 6047, RFC 5546) in mails; see
# docs/decisions/0009-imip-invitations.md.
METHODS = (None, "REQUEST", "CANCEL")
# The zone an empty calendar still carries: RFC 5545 wants at least one component in a VCALENDAR.
EMPTY_CALENDAR_ZONE = times.DEFAULT_ZONE
_EMPTY_CALENDAR_YEAR = 2027  # any year: the VTIMEZONE's rules start in 1970 and are the same for every year
# How long a cancelled event stays in the public feed with STATUS:CANCELLED,
# so that subscribed calendars see the cancellation rather than a silent gap.
CANCELLED_KEPT = timedelta(days=30)
REFRESH_INTERVAL = "PT1H"

_TEXTS = {
    "nl": {
        "calendar": "Smart Region Office – evenementen",
        "calendar_description": "Webinars en evenementen van de Smart Region Office van de Vlaamse overheid.",
        "cancelled": "Geannuleerd: ",
        "online": "Online",
        "join": "Deelnemen",
        "more": "Meer informatie en inschrijven",
    },
    "en": {
        "calendar": "Smart Region Office – events",
        "calendar_description": "Webinars and events of the Smart Region Office of the Flemish government.",
        "cancelled": "Cancelled: ",
        "online": "Online",
        "join": "Join",
        "more": "More information and registration",
    },
}


# ----------------------------------------------------------------- text


def escape_text(value: str) -> str:
    r"""``value`` as an iCalendar TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and line break escaped.

    Written here rather than by icalendar's vText, which turns a literal
    ``\N`` into a line break before escaping (``C:\Nieuw`` would reach every
    calendar as "C:" and a new line "ieuw"): every character a staff member
    types comes back exactly (decisions/0008). Stored text has one kind of line
    break ("\n", ``input/event.py``); a CR is written as one all the same.
    """
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


class _Text(str):
    """A TEXT value that icalendar writes as given: escaped by ``escape_text``, folded by icalendar."""

    def __new__(cls, value: str, params: dict[str, str] | None = None) -> "_Text":
        from icalendar import Parameters

        text = super().__new__(cls, value)
        text.params = Parameters(params or {})
        return text

    def to_ical(self) -> bytes:
        return escape_text(str(self)).encode("utf-8")


def _add_text(component: Any, name: str, value: str) -> None:
    component.add(name, _Text(value), encode=False)


def event_uid(event_id: str) -> str:
    """Return the UID an event has in every calendar, for ever."""
    return f"{event_id}@{UID_DOMAIN}"


def feed_etag(body: bytes) -> str:
    """Return a strong ETag (quoted) for a feed's bytes."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def in_public_feed(event: Event, at: datetime) -> bool:
    """Whether the public feed shows ``event`` at ``at``: published, or cancelled less than 30 days ago."""
    if event.status == "published":
        return True
    if event.status == "cancelled":
        cancelled_at = event.cancelled_at or event.updated_at
        return cancelled_at is not None and at < cancelled_at + CANCELLED_KEPT
    return False


def public_feed_leaves_at(event: Event) -> datetime | None:
    """Return when a cancelled event leaves the public feed (None for any other event)."""
    if event.status != "cancelled":
        return None
    cancelled_at = event.cancelled_at or event.updated_at
    return cancelled_at + CANCELLED_KEPT if cancelled_at else None


def _check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {LANGUAGES}, not {lang!r}")
    return lang


def event_page_url(event: Event, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/events/{event.id}"


def event_ics_url(event: Event, *, lang: str, base_url: str) -> str:
    """Return the URL of one event's .ics download."""
    url = f"{base_url.rstrip('/')}/events/{event.id}/calendar.ics"
    return url + ("?lang=en" if _check_lang(lang) == "en" else "")


def _location_text(event: Event, lang: str) -> str:
    if event.location is not None:
        return event.location.one_line()
    return _TEXTS[lang]["online"] if event.kind == "webinar" else ""


def _description_text(event: Event, lang: str, include_join_link: bool) -> str:
    text = event.description_in(lang)
    if include_join_link and event.online_url:
        join = f"{_TEXTS[lang]['join']}: {event.online_url}"
        text = f"{text}\n\n{join}" if text else join
    return text


def build_calendar(events: list[Event], *, lang: str, base_url: str, include_join_link: bool,
                   method: str | None = None, name: str | None = None, feed: bool | None = None,
                   stamp: datetime | None = None) -> bytes:
    """Render ``events`` as one iCalendar object (RFC 5545, RFC 7986), UTF-8 with CRLF lines.

    ``method`` is None for subscription feeds and one event's download (no
    METHOD); mails carry iMIP instead (``invitation``), "REQUEST" or "CANCEL".
    ``include_join_link`` adds CONFERENCE and the link in DESCRIPTION; only
    for people entitled to it.

    ``feed`` says whether this is a calendar to subscribe to (the public and
    the personal feed; by default, any calendar without ``method``). Only a
    feed gets a name, a description and a refresh interval (``name``
    overrides the name): MS-OXCICAL omits X-WR-CALNAME for one appointment,
    and Outlook opens a file that has it as a new calendar, not as an event.
    A calendar with a METHOD is never a feed.

    ``stamp``: DTSTAMP of a message with a METHOD, the moment it is made
    (RFC 5546 orders two messages of one SEQUENCE by it). Without a METHOD,
    DTSTAMP is the event's last change, so an unchanged feed keeps its bytes.
    """
    from icalendar import Calendar

    _check_lang(lang)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    if feed is None:
        feed = method is None
    elif feed and method:
        raise ValueError("a calendar with a METHOD is a mail attachment, never a feed")
    texts = _TEXTS[lang]
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    if feed:
        title = name or texts["calendar"]
        _add_text(cal, "name", title)
        _add_text(cal, "x-wr-calname", title)
        _add_text(cal, "description", texts["calendar_description"])
        _add_text(cal, "x-wr-caldesc", texts["calendar_description"])
        # icalendar would write REFRESH-INTERVAL without VALUE=DURATION and a
        # timedelta X-PUBLISHED-TTL as "1:00:00": pass them as text.
        cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
        cal.add("x-published-ttl", REFRESH_INTERVAL)
    # No X-WR-TIMEZONE: every time carries its TZID (or is UTC), and readers
    # that apply X-WR-TIMEZONE read a UTC time (the repeated autumn hour) as
    # wall time in it: an event ending then would last zero minutes.

    ordered = sorted(events, key=lambda e: (e.starts_at, e.id))
    zones = sorted({e.timezone for e in ordered})
    for zone_name in zones:
        years = [e.starts_at.astimezone(ZoneInfo(zone_name)).year for e in ordered if e.timezone == zone_name]
        years += [e.ends_at.astimezone(ZoneInfo(zone_name)).year for e in ordered if e.timezone == zone_name]
        cal.add_component(vtimezone(zone_name, min(years), max(years)))
    if not ordered:
        # A VCALENDAR needs a component (RFC 5545 3.6): an empty feed (all its
        # events past) keeps the office's zone, which strict readers accept.
        cal.add_component(vtimezone(EMPTY_CALENDAR_ZONE, _EMPTY_CALENDAR_YEAR, _EMPTY_CALENDAR_YEAR))
    for event in ordered:
        cal.add_component(_vevent(event, lang=lang, base_url=base_url,
                                  include_join_link=include_join_link, method=method, stamp=stamp))
    return cal.to_ical()


def _wall_or_utc(instant: datetime, zone: ZoneInfo) -> datetime:
    """Return ``instant`` as wall time in ``zone`` (written with TZID), or in UTC where that wall time is ambiguous.

    icalendar writes TZID times without ``fold``: a wall time that happens
    twice (the hour repeated when clocks go back) would be read as its first
    occurrence. Such a time is written in UTC ("...Z"), which RFC 5545 allows
    next to a TZID time in the same event.
    """
    local = instant.astimezone(zone)
    wall = local.replace(tzinfo=None)
    if wall.replace(tzinfo=zone, fold=0).utcoffset() != wall.replace(tzinfo=zone, fold=1).utcoffset():
        return instant.astimezone(times.UTC)
    return local


# The line an invitation's ATTENDEE takes, filled in per recipient (``Invitation.for_attendee``).
_ATTENDEE_SLOT = "X-SRO-ATTENDEE-SLOT"


def _vevent(event: Event, *, lang: str, base_url: str, include_join_link: bool, method: str | None,
            stamp: datetime | None = None, attendee_slot: bool = False) -> Any:
    from icalendar import Event as VEvent
    from icalendar import vCalAddress, vUri

    texts = _TEXTS[lang]
    zone = ZoneInfo(event.timezone)
    # An event cancelled by staff, or, in a CANCEL, one taken out of this person's calendar (they cancelled).
    cancelled = event.status == "cancelled" or method == "CANCEL"
    changed = event.updated_at or event.created_at or event.starts_at
    ev = VEvent()
    ev.add("uid", event_uid(event.id))
    # DTSTAMP is the event's last change in a feed, never "now": the bytes
    # must not change between two polls of an unchanged feed. A message (a
    # METHOD) is stamped with the moment it is made.
    ev.add("dtstamp", (stamp if method and stamp else changed).astimezone(times.UTC))
    if event.created_at:
        ev.add("created", event.created_at.astimezone(times.UTC))
    ev.add("last-modified", changed.astimezone(times.UTC))
    ev.add("sequence", event.sequence)
    ev.add("dtstart", _wall_or_utc(event.starts_at, zone))
    ev.add("dtend", _wall_or_utc(event.ends_at, zone))
    ev.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    summary = event.title_in(lang)
    _add_text(ev, "summary", texts["cancelled"] + summary if event.status == "cancelled" else summary)
    description = _description_text(event, lang, include_join_link)
    if description:
        _add_text(ev, "description", description)
    location = _location_text(event, lang)
    if location:
        _add_text(ev, "location", location)
    ev.add("url", vUri(event_page_url(event, base_url)), parameters={"VALUE": "URI"})
    organizer = vCalAddress(f"mailto:{ORGANIZER_EMAIL}")
    organizer.params["CN"] = ORGANIZER_NAME
    ev.add("organizer", organizer)
    if attendee_slot:
        ev.add(_ATTENDEE_SLOT, "x")
    ev.add("class", "PUBLIC")
    ev.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    if include_join_link and event.online_url:
        ev.add("conference", vUri(event.online_url),
               parameters={"VALUE": "URI", "FEATURE": ["AUDIO", "VIDEO"], "LABEL": texts["join"]})
    return ev


# ------------------------------------------------------------ invitations


def fold(line: str) -> bytes:
    """One content line, folded at 75 octets (RFC 5545 3.1) without splitting a UTF-8 character, CRLF-ended."""
    data = line.encode("utf-8")
    out, start, limit = [], 0, 75
    while len(data) - start > limit:
        end = start + limit
        while end > start and (data[end] & 0xC0) == 0x80:  # not inside a character
            end -= 1
        out.append(data[start:end])
        start, limit = end, 74  # a continuation line starts with a space
    out.append(data[start:])
    return b"\r\n ".join(out) + b"\r\n"


# Characters a mail address may hold that a mailto: URI must percent-encode (RFC 6068).
_MAILTO_SAFE = "@!$&'*+-/=._~"


def attendee_line(email: str, name: str) -> str:
    """The recipient as ATTENDEE: registered already (ACCEPTED), no reply asked (RSVP=FALSE); see decisions/0009.

    CN is a quoted parameter value, which can hold no DQUOTE and no control
    character: those become ' and a space (the name is only shown).
    """
    from urllib.parse import quote

    cn = "".join(" " if ord(c) < 32 or c == "\x7f" else c for c in name).replace('"', "'").strip()
    params = (f';CN="{cn}"' if cn else "") + ";CUTYPE=INDIVIDUAL;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT;RSVP=FALSE"
    return f"ATTENDEE{params}:mailto:{quote(email, safe=_MAILTO_SAFE)}"


class Invitation:
    """An iMIP calendar (METHOD REQUEST or CANCEL) for one event, made once and filled in per recipient.

    ``for_attendee(email, name)`` returns its bytes with that person as
    ATTENDEE: the tick renders one per event and fills in thousands, which
    costs a join of bytes rather than a build with icalendar each.
    """

    def __init__(self, body: bytes, method: str):
        slot = f"{_ATTENDEE_SLOT}:x\r\n".encode("ascii")
        self.head, found, self.tail = body.partition(slot)
        if not found:
            raise ValueError("an invitation has one attendee slot")
        self.method = method

    def for_attendee(self, email: str, name: str) -> bytes:
        return self.head + fold(attendee_line(email, name)) + self.tail


def invitation(event: Event, *, lang: str, base_url: str, method: str, stamp: datetime) -> Invitation:
    """The iMIP calendar of ``event`` (one VEVENT, no feed properties), stamped ``stamp``, to fill in per recipient.

    REQUEST carries the join link (the recipient has a seat); CANCEL does not.
    """
    from icalendar import Calendar

    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"an invitation's method is REQUEST or CANCEL, not {method!r}")
    _check_lang(lang)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    zone = ZoneInfo(event.timezone)
    years = [event.starts_at.astimezone(zone).year, event.ends_at.astimezone(zone).year]
    cal.add_component(vtimezone(event.timezone, min(years), max(years)))
    cal.add_component(_vevent(event, lang=lang, base_url=base_url, include_join_link=method == "REQUEST",
                              method=method, stamp=stamp, attendee_slot=True))
    return Invitation(cal.to_ical(), method)


# ------------------------------------------------------- add-to-calendar links


def _utc_compact(instant: datetime) -> str:
    return instant.astimezone(times.UTC).strftime("%Y%m%dT%H%M%SZ")


def _utc_iso(instant: datetime) -> str:
    return instant.astimezone(times.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


LINK_DESCRIPTION_MAX = 1000  # characters of the description in a link; the page link carries the rest


def _link_details(event: Event, lang: str, base_url: str, join_link: bool = False) -> str:
    more = f"{_TEXTS[lang]['more']}: {event_page_url(event, base_url)}"
    description = event.description_in(lang)
    if len(description) > LINK_DESCRIPTION_MAX:  # a link of many kilobytes is refused by some calendars
        description = description[:LINK_DESCRIPTION_MAX - 1].rstrip() + "…"
    parts = [description, more]
    if join_link and event.online_url:
        # First: what the person looks for on the day, before a description that may be long.
        parts.insert(0, f"{_TEXTS[lang]['join']}: {event.online_url}")
    return "\n\n".join(part for part in parts if part)


class CalendarLinks(dict):
    """One event's "add to calendar" links (``google``, ``outlook``, ``office365``, ``ics``), and ``page``.

    ``page`` is the event's public page. ``with_join_link`` says whether the
    links carry the join link; ``for_seat()`` returns them as someone with a
    seat gets them. The dict itself holds only its links.
    """

    def __init__(self, links: dict[str, str], *, event: Event, lang: str, base_url: str, seat: bool):
        super().__init__(links)
        self.page = event_page_url(event, base_url)
        self.with_join_link = seat and bool(event.online_url)
        self._made = (event, lang, base_url)
        # Without a join link, the public links are the seat's links too.
        self._for_seat: CalendarLinks | None = self if seat or not event.online_url else None

    def for_seat(self) -> "CalendarLinks":
        """The links for someone with a seat: the join link in the details, and as the place of an online event.

        Mail templates ask for these where they show the join link (the
        ``join`` of ``event_block``), so the calendar entry carries what the
        mail does; the event page and anything public keep the links as made.
        """
        if self._for_seat is None:
            event, lang, base_url = self._made
            self._for_seat = add_to_calendar_links(event, lang=lang, base_url=base_url, include_join_link=True)
        return self._for_seat


def add_to_calendar_links(event: Event, *, lang: str, base_url: str, include_join_link: bool = False) -> CalendarLinks:
    """Return "add to calendar" links: ``google``, ``outlook`` (Outlook.com), ``office365`` (Microsoft 365) and ``ics``.

    By default the links are public: they never carry the join link. With
    ``include_join_link`` (only for someone with a seat: the mails), the
    Google and Outlook links carry it: first in the details, and as the
    place of an event that has no address (a webinar), so the calendar entry
    holds it on the day. The ``ics`` link is the public download either way
    (the mails' attachments carry the join link).
    """
    _check_lang(lang)
    title = event.title_in(lang)
    details = _link_details(event, lang, base_url, include_join_link)
    location = _location_text(event, lang)
    if include_join_link and event.online_url and event.location is None:
        location = event.online_url
    google = urlencode({
        "action": "TEMPLATE",
        "text": title,
        "dates": f"{_utc_compact(event.starts_at)}/{_utc_compact(event.ends_at)}",
        "ctz": event.timezone,
        "details": details,
        "location": location,
    }, quote_via=quote)
    # Outlook's deep link reads + literally: spaces must be %20.
    outlook = urlencode({
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": title,
        "startdt": _utc_iso(event.starts_at),
        "enddt": _utc_iso(event.ends_at),
        "body": details,
        "location": location,
    }, quote_via=quote)
    return CalendarLinks({
        "google": f"https://calendar.google.com/calendar/render?{google}",
        "outlook": f"https://outlook.live.com/calendar/0/action/compose?{outlook}",
        "office365": f"https://outlook.office.com/calendar/0/action/compose?{outlook}",
        "ics": event_ics_url(event, lang=lang, base_url=base_url),
    }, event=event, lang=lang, base_url=base_url, seat=include_join_link)


def webcal_url(https_url: str) -> str:
    """Return the webcal:// form of a feed URL, which calendar apps open as a subscription."""
    parts = urlsplit(https_url)
    if parts.scheme not in ("https", "http", "webcal"):
        raise ValueError(f"not an http(s) URL: {https_url!r}")
    return urlunsplit(("webcal",) + tuple(parts)[1:])


def public_feed_url(base_url: str, lang: str = "nl") -> str:
    """Return the public feed's URL (https), with ``?lang=en`` for English."""
    url = f"{base_url.rstrip('/')}/calendar.ics"
    return url + ("?lang=en" if _check_lang(lang) == "en" else "")
