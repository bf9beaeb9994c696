"""Blueprint: what runs without a request: the every-minute tick (EventBridge) and SES's notices (SNS).

Their Lambda handlers are ``chalicelib.http.handlers.tick`` and
``chalicelib.http.handlers.ses_notifications``; each has its own role
(``.chalice/policy-tick-<stage>.json``, ``policy-ses-notifications-<stage>.json``).
"""

from __future__ import annotations

import json

from chalice import Blueprint, Rate

from chalicelib import wiring

handlers = Blueprint(__name__)

TICK_MARGIN = 25.0  # seconds; .chalice/config.json gives the tick 75


@handlers.schedule(Rate(1, unit=Rate.MINUTES))
def tick(event):
    """Send what is due (EventBridge, every minute)."""
    # Stop TICK_MARGIN s before Lambda would (50 s of the tick's 75): a send
    # begun just before the deadline (an SES call may take 13 s: 3 to
    # connect, 10 to read) and its batch's record still finish. What is left
    # goes to the next tick.
    context = getattr(event, "context", None)
    remaining = context.get_remaining_time_in_millis() / 1000 if hasattr(context, "get_remaining_time_in_millis") else 75.0
    wiring.run_tick(time_budget=max(remaining - TICK_MARGIN, 1.0), repo=wiring.get_repo(), mailer=wiring.get_mailer())


# The topic's name here is what `chalice deploy` would subscribe to; the
# CloudFormation of infra/ points the subscription at its own topic instead.
@handlers.on_sns_message(topic="sro-events-ses-notifications")
def ses_notifications(event):
    """Record the suppressions that SES bounces and complaints call for."""
    from chalicelib.services import bounces

    try:
        message = json.loads(event.message)
    except ValueError:
        return  # not an SES notice (SNS's subscription confirmation, say): nothing to do
    bounces.handle_ses_notification(message, wiring.get_repo(), key=wiring.get_keys())
