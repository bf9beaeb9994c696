"""Invalid input carries a machine code and its parameters, and the form chooses its sentence by them.

The English message is for developers (and the JSON API); what a person
reads on the form depends on the field, the code and the params alone.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from chalicelib import times
from chalicelib.errors import INPUT_CODES, InvalidInput, InvalidInputs
from chalicelib.input.event import build_event
from chalicelib.input.staff import check_name
from chalicelib.input.subscription import EMAIL_MAX, EVENT_IDS_MAX, NAME_MAX, QUESTION_MAX, parse_subscription
from chalicelib.model.event import KINDS, MAX_REMINDERS, TITLE_MAX
from chalicelib.render import pages
from chalicelib.services import events
from chalicelib.services import subscribe as subscribe_module
from tests.conftest import KEY, PINNED_NOW, SETTINGS, webinar_data
from tests.fakes import InMemoryRepository, RecordingMailer

CHALICELIB = Path(__file__).resolve().parents[2] / "chalicelib"


def form(**overrides):
    data = {"email": "an@example.be", "name": "An Peeters", "organisation": "Stad Gent",
            "event_ids": ["webinar-2027-01-14"], "question": "", "language": "nl", "consent": True}
    data.update(overrides)
    return data


def problem_of(data: dict, field: str) -> InvalidInput:
    with pytest.raises(InvalidInputs) as caught:
        parse_subscription(data)
    return next(p for p in caught.value.problems if p.field == field)


def event_problem(**overrides) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        build_event(webinar_data(**overrides), existing=None, now=PINNED_NOW)
    return caught.value


# ------------------------------------------------------------ codes and params


def test_a_too_long_name_is_too_long_with_its_limit():
    problem = problem_of(form(name="x" * (NAME_MAX + 1)), "name")
    assert (problem.code, problem.params) == ("too_long", {"limit": NAME_MAX})
    assert problem.message == f"name: must be at most {NAME_MAX} characters (got {NAME_MAX + 1})"  # the JSON text, as before


def test_a_too_long_question_is_too_long_with_its_limit():
    problem = problem_of(form(question="x" * (QUESTION_MAX + 1)), "question")
    assert (problem.code, problem.params) == ("too_long", {"limit": QUESTION_MAX})


def test_a_missing_name_email_event_or_consent_is_required():
    with pytest.raises(InvalidInputs) as caught:
        parse_subscription(form(name=" ", email="", event_ids=[], consent=False))
    assert caught.value.codes == {"name": "required", "email": "required", "event_ids": "required",
                                  "consent": "required"}


def test_an_address_that_is_not_one_is_invalid_email_and_a_long_one_too_long():
    assert problem_of(form(email="not-an-address"), "email").code == "invalid_email"
    long_one = problem_of(form(email="a" * EMAIL_MAX + "@example.be"), "email")
    assert (long_one.code, long_one.params) == ("too_long", {"limit": EMAIL_MAX})


def test_a_name_on_two_lines_is_not_one_line():
    assert problem_of(form(name="An\nPeeters"), "name").code == "not_one_line"


def test_too_many_events_at_once_is_too_many_with_its_limit():
    ids = [f"event-{n}" for n in range(EVENT_IDS_MAX + 1)]
    problem = problem_of(form(event_ids=ids), "event_ids")
    assert (problem.code, problem.params) == ("too_many", {"limit": EVENT_IDS_MAX})


def test_a_language_other_than_nl_or_en_is_not_one_of_them():
    problem = problem_of(form(language="fr"), "language")
    assert (problem.code, problem.params) == ("not_one_of", {"allowed": ("nl", "en")})


def test_an_event_field_breaking_a_rule_names_its_code_and_params():
    title = event_problem(title={"nl": "x" * (TITLE_MAX + 1)})
    assert (title.field, title.code, title.params) == ("title.nl", "too_long", {"limit": TITLE_MAX})
    kind = event_problem(kind="concert")
    assert (kind.code, kind.params) == ("not_one_of", {"allowed": KINDS})
    assert event_problem(ends_at="2027-01-14T09:00:00+01:00").params == {"other": "starts_at"}
    assert event_problem(reminders=["P1D"] * (MAX_REMINDERS + 1)).params == {"limit": MAX_REMINDERS}
    assert event_problem(reminders=["P1D", "PT24H"]).code == "not_unique"
    assert event_problem(reminders=["PT1M"]).params == {"minimum": "PT5M", "maximum": "P60D"}
    assert event_problem(online_url="http://meet.example.org").code == "invalid_url"
    assert event_problem(unknown_field=1).code == "unknown_field"
    assert event_problem(capacity=0).params == {"minimum": 1, "maximum": 1_000_000}


def test_times_zones_and_durations_that_cannot_be_read_say_which():
    with pytest.raises(InvalidInput) as caught:
        times.parse_instant("tomorrow", "starts_at")
    assert caught.value.code == "invalid_time"
    with pytest.raises(InvalidInput) as caught:
        times.parse_instant("2027-03-28T02:30:00", "starts_at", "Europe/Brussels")
    assert (caught.value.code, caught.value.params) == ("invalid_time", {"zone": "Europe/Brussels"})
    with pytest.raises(InvalidInput) as caught:
        times.zone("Mars/Olympus_Mons", "timezone")
    assert caught.value.code == "invalid_time_zone"
    with pytest.raises(InvalidInput) as caught:
        times.parse_duration("one day", "reminders")
    assert caught.value.code == "invalid_duration"


def test_a_staff_name_with_a_space_is_invalid_name():
    with pytest.raises(InvalidInput) as caught:
        check_name("An Peeters")
    assert caught.value.code == "invalid_name"


def test_an_unknown_event_and_one_whose_registration_closed_name_the_event():
    repo = InMemoryRepository()
    events.create_event(repo, webinar_data(id="closed-early", registration_closes_at="2026-11-20T09:00:00"), actor="test", base_url=SETTINGS.base_url)
    for event_id, code in (("no-such-event", "unknown_event"), ("closed-early", "not_open")):
        with pytest.raises(InvalidInputs) as caught:
            subscribe_module.subscribe(repo, RecordingMailer(), form(event_ids=[event_id]), base_url="https://x.example", key=KEY, settings=SETTINGS)
        [problem] = caught.value.problems
        assert (problem.field, problem.code, problem.params) == ("event_ids", code, {"event_id": event_id})


def test_every_invalid_input_raised_in_chalicelib_names_a_known_code():
    """Every ``InvalidInput(...)`` in chalicelib gives a code from ``INPUT_CODES`` as a literal second argument.
    The HTTP edge (``chalicelib/http``) included: its checks of bodies and query values have codes too.
    """
    missing = []
    for path in CHALICELIB.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "InvalidInput":
                code = node.args[1] if len(node.args) >= 3 else None
                if not (isinstance(code, ast.Constant) and code.value in INPUT_CODES):
                    missing.append(f"{path.relative_to(CHALICELIB)}:{node.lineno}")
    assert missing == []


def test_an_invalid_input_without_a_code_is_refused():
    with pytest.raises(TypeError):
        InvalidInput("limit", "must be a whole number from 1 to 1000")  # field and message, no code
    problem = InvalidInput("limit", "out_of_range", "must be a whole number from 1 to 1000", minimum=1, maximum=1000)
    assert (problem.code, problem.params) == ("out_of_range", {"minimum": 1, "maximum": 1000})
    assert problem.message == "limit: must be a whole number from 1 to 1000"


# ------------------------------------------------------- sentences by code


@pytest.mark.parametrize("lang, sentence", [("en", "Use at most 200 characters."), ("nl", "Gebruik maximaal 200 tekens.")])
def test_too_long_gets_the_at_most_sentence_whatever_the_message_says(lang, sentence):
    problem = InvalidInput("name", "too_long", "is far too wordy", limit=200)
    assert pages.form_errors(problem, lang) == {"name": sentence}


def test_the_events_limit_comes_from_the_params_not_the_message():
    problem = InvalidInput("event_ids", "too_many", "too many events (at most 3)", limit=EVENT_IDS_MAX)
    assert pages.form_errors(problem, "en") == {"event_ids": f"Choose at most {EVENT_IDS_MAX} events."}


def test_a_closed_event_whose_title_has_words_of_other_problems_still_reads_closed():
    # The title is quoted in the message; searching the message would have found "at most" in it.
    problem = InvalidInput("event_ids", "not_open", "registration for 'Save at most 5 hours, required' is closed",
                           event_id="saving-hours")
    assert pages.form_errors(InvalidInputs([problem]), "en") == {
        "event_ids": "Registration for one of the chosen events is closed. Choose another event."}


def test_an_unknown_event_whose_id_says_closed_is_one_to_choose_from_the_list():
    problem = InvalidInput("event_ids", "unknown_event", "there is no event 'closed-required'", event_id="closed-required")
    assert pages.form_errors(problem, "nl") == {"event_ids": "Kies een van de evenementen uit de lijst."}


@pytest.mark.parametrize("field, code, sentence", [
    ("name", "required", "Vul je naam in."),
    ("email", "required", "Vul je e-mailadres in."),
    ("organisation", "required", "Vul dit veld in."),
    ("email", "invalid_email", "Vul een geldig e-mailadres in, zoals naam@voorbeeld.be."),
    ("language", "not_one_of", "Kies Nederlands of Engels."),
    ("organisation", "not_one_line", "Schrijf dit op één regel, zonder speciale tekens."),
    ("question", "control_characters", "Schrijf dit op één regel, zonder speciale tekens."),
    ("event_ids", "required", "Kies minstens één evenement."),
    ("consent", "required", "Vink het vakje aan om akkoord te gaan met de privacyverklaring."),
    ("name", "wrong_type", "Controleer dit veld."),
])
def test_each_code_of_a_form_field_gets_its_dutch_sentence(field, code, sentence):
    assert pages.form_errors(InvalidInput(field, code, "an English text"), "nl") == {field: sentence}


def test_a_problem_outside_the_form_fields_asks_to_fill_the_form_in_again():
    problem = InvalidInput("body", "too_many", "has too many fields; at most 100", limit=100)
    assert pages.form_errors(problem, "en") == {"form": "The form could not be read. Please fill it in again."}


def test_the_vocabulary_of_codes_is_small_and_each_code_is_explained():
    assert len(INPUT_CODES) <= 30
    assert all(isinstance(text, str) and text for text in INPUT_CODES.values())
    assert not [code for code in INPUT_CODES if code != code.lower() or " " in code]


def test_a_registration_window_problem_names_the_other_field():
    problem = event_problem(registration_opens_at="2027-01-10T10:00:00+01:00",
                            registration_closes_at="2027-01-09T10:00:00+01:00")
    assert (problem.field, problem.code, problem.params) == (
        "registration_closes_at", "not_after", {"other": "registration_opens_at"})
