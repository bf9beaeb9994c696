"""Subscribing and confirming through the services, and a tick on a fake monotonic clock."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from chalicelib.services import subscribe
from chalicelib.services import tick as tick_module
from tests.conftest import KEY, SETTINGS

BASE = "https://events.example.be"
WEBINAR = "webinar-2027-01-14"
DAY = "smart-region-dag-2027"
WEBINAR_START = datetime(2027, 1, 14, 9, 0, tzinfo=timezone.utc)  # 10:00 in Brussels


class FakeTime:
    """A monotonic clock and a sleeper that moves it: no test waits for real."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def register(repo, mailer, address, event_ids, *, language="nl", name="An Peeters"):
    """Subscribe ``address`` to ``event_ids`` and confirm with the link mailed; the confirm's outcome."""
    subscribe.subscribe(repo, mailer, {"email": address, "name": name, "event_ids": list(event_ids),
                                           "language": language, "consent": True}, base_url=BASE,
                        key=KEY, settings=SETTINGS)
    token = re.search(r"/confirm/([\w-]+)", mailer.to(address)[-1].text).group(1)
    return subscribe.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)


def tick(repo, mailer, at, **options):
    """One tick at ``at``, on a fake monotonic clock (``fake=``) and a rate no test waits for."""
    fake = options.pop("fake", None) or FakeTime()
    options.setdefault("rate", 1000.0)
    return tick_module.send_due(repo, mailer, base_url=BASE, key=KEY, now=at, clock=fake.clock, sleep=fake.sleep,
                                **options)


def kinds(mailer, address=None):
    """The kinds of the mails sent, in order (to ``address`` only, if given)."""
    return [m.kind for m, _ in mailer.sent if address is None or m.to_email == address]


def ses_notice(kind, address, bounce_type="Permanent"):
    """An SES notification of ``kind`` (Bounce, Complaint, Delivery) for ``address``, as SNS carries it."""
    if kind == "Bounce":
        return {"notificationType": "Bounce",
                "bounce": {"bounceType": bounce_type, "bouncedRecipients": [{"emailAddress": address}]}}
    if kind == "Complaint":
        return {"notificationType": "Complaint", "complaint": {"complainedRecipients": [{"emailAddress": address}]}}
    return {"notificationType": "Delivery", "delivery": {"recipients": [address]}}
