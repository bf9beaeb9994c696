"""Blueprint: the calendar feeds (the public feed, one event's .ics, a person's own feed).

Calendar apps poll these all day: each poll costs one read at most and
answers 304 when nothing changed (``services/public_feed.py``).
"""

from __future__ import annotations

from chalice import Blueprint

from chalicelib import times
from chalicelib.errors import NotFound
from chalicelib.http.request import current, feed_lang
from chalicelib.http.responses import calendar_response
from chalicelib.http.routing import api
from chalicelib.services import events
from chalicelib.wiring import get_keys, get_repo, get_settings

feeds = Blueprint(__name__)


@api(feeds, "/calendar.ics", methods=["GET", "HEAD"])
def public_calendar():
    from chalicelib.services.public_feed import read_public_feed

    headers = current().headers
    return calendar_response(read_public_feed(
        get_repo(), feed_lang(), if_none_match=headers.get("if-none-match"),
        if_modified_since=headers.get("if-modified-since"), now=times.now(), base_url=get_settings().base_url))


@api(feeds, "/events/{event_id}/calendar.ics", methods=["GET", "HEAD"])
def event_calendar(event_id):
    from chalicelib.services.public_feed import read_event_calendar

    headers = current().headers
    reply = read_event_calendar(events.get_public_event(get_repo(), event_id), feed_lang(),
                                base_url=get_settings().base_url, if_none_match=headers.get("if-none-match"),
                                if_modified_since=headers.get("if-modified-since"))
    return calendar_response(reply, {"Content-Disposition": f'attachment; filename="{event_id}.ics"'})


# API Gateway takes only whole path segments as parameters, so the route is
# /feeds/{filename} and the ".ics" is checked here.
@api(feeds, "/feeds/{filename}", methods=["GET", "HEAD"])
def personal_calendar(filename):
    from chalicelib.services import manage

    if not filename.endswith(".ics"):
        raise NotFound("token: this link is not valid (any more)")
    token = filename[:-4]
    headers = current().headers
    reply = manage.read_personal_feed(
        get_repo(), token, base_url=get_settings().base_url,
        if_none_match=headers.get("if-none-match"), if_modified_since=headers.get("if-modified-since"), key=get_keys())
    # Private: it holds join links; the token in the URL must not leak.
    return calendar_response(reply, {"Cache-Control": "private, max-age=300"})


@api(feeds, "/manage/{token}/events/{event_id}/invite.ics", methods=["GET", "HEAD"])
def seat_invitation(token, event_id):
    from chalice import Response

    from chalicelib.services import manage

    body = manage.seat_invitation(get_repo(), token, event_id, base_url=get_settings().base_url, key=get_keys(),
                                  now=times.now())
    # Private, and never cached: it names the person and holds the join link; DTSTAMP is the moment it is made.
    return Response(body=body.decode("utf-8") if current().method != "HEAD" else "", status_code=200, headers={
        "Content-Type": "text/calendar; method=REQUEST; charset=utf-8", "Cache-Control": "private, no-store",
        "Content-Disposition": 'attachment; filename="invite.ics"'})
