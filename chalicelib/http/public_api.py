"""Blueprint: the public JSON API (events, an event, the OpenAPI document)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib import times
from chalicelib.errors import DomainError
from chalicelib.http.errors import html_error
from chalicelib.http.request import current
from chalicelib.http.responses import json_response, page
from chalicelib.http.routing import api
from chalicelib.render import pages
from chalicelib.render.event_json import event_json
from chalicelib.services import events
from chalicelib.wiring import get_repo, get_settings

public_api = Blueprint(__name__)


@api(public_api, "/events", methods=["GET"])
def list_events():
    now = times.now()
    base = get_settings().base_url
    return json_response({"events": [event_json(e, base_url=base, now=now) for e in events.list_upcoming(get_repo(), now)]})


@api(public_api, "/events/{event_id}", methods=["GET"])
def get_event(event_id):
    # The same URL is the event's page in calendars (the .ics URL, "More
    # information" in add-to-calendar links): a browser, which asks for
    # HTML first, gets a page; anything else the JSON.
    html = pages.prefers(current().headers.get("accept"), "text/html", "application/json")
    vary = {"Vary": "Accept, Accept-Language"}  # the page's language comes from Accept-Language without ?lang
    try:
        event = events.get_public_event(get_repo(), event_id)
    except DomainError as exc:
        if html:
            answer = html_error(exc)
            answer.headers.update(vary)
            return answer
        raise
    now = times.now()
    if html:
        return page("event.html", headers=vary, cache="no-cache", event=event,
                    state=pages.registration_state(event, now))
    return json_response(event_json(event, base_url=get_settings().base_url, now=now), headers=vary)


@api(public_api, "/openapi.json", methods=["GET"])
def openapi_document():
    from chalicelib.render import openapi

    return json_response(openapi.document(get_settings().base_url), headers={"Cache-Control": "public, max-age=300"})
