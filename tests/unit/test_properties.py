"""Properties that must hold for any input (hypothesis)."""

from __future__ import annotations

import email
import json
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from email.policy import default as default_policy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.model import codec
from chalicelib import times
from chalicelib.errors import DomainError
from chalicelib.model.mail import Mail
from chalicelib.render.mime import build_mime, one_line
from chalicelib.input.event import build_event
from chalicelib.model.person import ConfirmToken, Person, Registration
from chalicelib.input.subscription import parse_subscription
from tests.conftest import PINNED_NOW, webinar_data

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
EVENT_FIELDS = ["id", "kind", "status", "title", "description", "starts_at", "ends_at", "timezone", "location",
                "online_url", "capacity", "registration_opens_at", "registration_closes_at", "reminders"]
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.dictionaries(st.sampled_from(EVENT_FIELDS) | st.text(max_size=8), json_values, max_size=8))
def test_event_validation_raises_only_domain_errors_for_any_fields(fields):
    try:
        build_event(fields, existing=None, now=PINNED_NOW)
    except DomainError:
        pass


@FAST
@given(st.sampled_from(EVENT_FIELDS), json_values)
def test_changing_one_field_of_a_valid_event_raises_only_domain_errors(field, value):
    base = build_event(webinar_data(), existing=None, now=PINNED_NOW)
    for existing in (None, base):
        data = webinar_data(**{field: value}) if existing is None else {field: value}
        try:
            build_event(data, existing=existing, now=PINNED_NOW)
        except DomainError:
            pass


@FAST
@given(json_values)
def test_event_validation_survives_any_body(body):
    try:
        build_event(body, existing=None, now=PINNED_NOW)
    except DomainError:
        pass


# Every character there is, lone UTF-16 surrogates and control characters included.
any_character_text = st.text(st.characters(exclude_categories=()), max_size=40)


@FAST
@given(any_character_text, any_character_text, any_character_text, st.sampled_from(["nl", "en"]))
def test_event_texts_kept_are_utf8_without_control_characters_but_tab_and_newline(title, description, place, lang):
    data = webinar_data(kind="in_person", title={"nl": "Titel", lang: title}, description={lang: description},
                        location={"name": place or "x", "address": place})
    try:
        event = build_event(data, existing=None, now=PINNED_NOW)
    except DomainError:
        return
    for text in (*event.title.values(), *event.description.values(), event.location.name, event.location.address):
        text.encode("utf-8")
        assert not any((ord(c) < 32 and c not in "\t\n") or 0x7f <= ord(c) <= 0x9f for c in text), repr(text)


@FAST
@given(st.dictionaries(st.sampled_from(["email", "name", "organisation", "event_ids", "question", "language",
                                        "consent", "website"]), json_values, max_size=8))
def test_subscription_parsing_raises_only_domain_errors(data):
    try:
        parse_subscription(data)
    except DomainError:
        pass


@FAST
@given(name=st.text(max_size=120), subject=st.text(max_size=300))
def test_any_name_and_subject_survive_the_mail_builder_without_adding_a_header(name, subject):
    mail = Mail(to_email="an@example.be", to_name=name, subject=subject, text="Hallo", html="<p>Hallo</p>",
                unsubscribe_url="https://events.example.be/unsubscribe/abc")
    raw = build_mime(mail, "smartregionoffice@vlaanderen.be")
    parsed = email.message_from_bytes(raw, policy=default_policy)
    assert sorted(parsed.keys()) == sorted([
        "From", "To", "Reply-To", "Subject", "Date", "Message-ID", "Auto-Submitted",
        "List-Unsubscribe", "List-Unsubscribe-Post", "MIME-Version", "Content-Type",
    ])
    [to] = parsed["To"].addresses
    assert to.addr_spec == "an@example.be"
    # Compared without white space: long non-ASCII text is folded into
    # several RFC 2047 encoded words, and Python's parser keeps a space
    # between them where mail clients do not.
    assert "".join(to.display_name.split()) == "".join(one_line(name, 100).split())
    assert "".join(str(parsed["Subject"]).split()) == "".join(one_line(subject, 250).split())
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Hallo\n"


@FAST
@given(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30), timezones=st.timezones()))
def test_a_stored_instant_reads_back_as_the_same_instant_in_utc(instant):
    stored = times.to_utc_iso(instant)
    assert len(stored) == 27 and stored.endswith("Z")
    read = times.from_utc_iso(stored)
    assert read == instant.astimezone(timezone.utc) and read.utcoffset() == timedelta(0)
    assert read == datetime.strptime(stored, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["2026-11-25T12:00:00.000000", "2026-11-25 12:00:00.000000Z", "2026-11-25T12:00:00Z",
                                  "2026-11-25T12:00:00.000000+00:00", "2026-13-25T12:00:00.000000Z", "tomorrow"])
def test_an_instant_in_any_other_shape_is_refused(text):
    with pytest.raises(ValueError):
        times.from_utc_iso(text)


_instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc))


@FAST
@given(st.sampled_from([Person, Registration, ConfirmToken]).flatmap(lambda cls: st.builds(cls, **{
    f.name: st.lists(_instants, max_size=3).map(tuple) if str(f.type).startswith("tuple[datetime") else
    _instants | st.none() if str(f.type) == "datetime | None" else _instants
    for f in fields(cls) if "datetime" in str(f.type)})))
def test_every_stored_record_reads_back_as_it_was_written(obj):
    # Through JSON, as the table keeps it: instants, optional instants, tuples and frozensets.
    record = json.loads(json.dumps(codec.to_record(obj)))
    assert codec.from_record(type(obj), record) == obj
