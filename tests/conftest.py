"""Small, named fixtures: a pinned clock, the two repositories, the HTTP client, staff tokens."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable, Iterator

import pytest

from chalicelib.adapters import aws
from chalicelib.services import staff
from chalicelib import config, times
from chalicelib.adapters.dynamodb import DynamoDBRepository
from chalicelib.adapters.dynamodb.table import create_table
from tests.fakes import InMemoryRepository

# The live server (moto's server + chalice local) for browser, fuzzing and load tests; the shared
# fixtures (tests/support/fixtures.py).
pytest_plugins = ["tests.live_server", "tests.support.fixtures"]

# Fake credentials so nothing can ever reach a real account.
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "TOKEN_KEY": "test-signing-key-not-secret",
    # botocore checks every request against the service's model, DynamoDB's too (chalicelib/aws.py).
    "AWS_VALIDATE_REQUESTS": "1",
    # The form's answer floor (issue 21, item 4) would add 0.4 s to every post; its own tests set it.
    "FORM_ANSWER_FLOOR_MS": "0",
})
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

# What the services are given by the composition root: the link key (as adapters/keys.signing_key makes it of
# TOKEN_KEY above) and the settings of the local stage.
KEY = hashlib.sha256(os.environ["TOKEN_KEY"].encode("utf-8")).digest()
SETTINGS = config.load()

TABLE = "sro-events-test"
PINNED_NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


class Clock:
    """A clock tests move by hand; never sleep to wait for time to pass."""

    def __init__(self, instant: datetime):
        self.instant = instant

    def __call__(self) -> datetime:
        return self.instant

    def set(self, instant: datetime) -> None:
        self.instant = instant.astimezone(timezone.utc)


@pytest.fixture(autouse=True)
def clock(monkeypatch) -> Clock:
    """Pin "now" for every test, so output is deterministic."""
    pinned = Clock(PINNED_NOW)
    monkeypatch.setattr(times, "now", pinned)
    return pinned


# Requests botocore refused as malformed (AWS_VALIDATE_REQUESTS above). The app
# turns a BotoCoreError into Unavailable, which some paths take as "try again
# later" (a tick puts its sends back): the refusal is noted here, and the test
# that made it fails, whatever the code did with the error.
MALFORMED_REQUESTS: list[str] = []


def _noting_refusals():
    from botocore.exceptions import ParamValidationError
    from botocore.validate import ParamValidationDecorator

    serialize = ParamValidationDecorator.serialize_to_request

    def serialize_to_request(self, parameters, operation_model):
        try:
            return serialize(self, parameters, operation_model)
        except ParamValidationError as exc:
            MALFORMED_REQUESTS.append(f"{operation_model.name}: {exc}")
            raise

    ParamValidationDecorator.serialize_to_request = serialize_to_request


_noting_refusals()


@pytest.fixture(autouse=True)
def no_malformed_request():
    """Fail a test in which the app made a request botocore refused as malformed, even if the app went on."""
    del MALFORMED_REQUESTS[:]
    yield
    refused, MALFORMED_REQUESTS[:] = list(MALFORMED_REQUESTS), []
    assert not refused, f"malformed AWS requests: {refused}"


@pytest.fixture
def aws_mock():
    """Run the test against moto's in-process AWS."""
    from moto import mock_aws

    aws.reset()
    with mock_aws():
        yield
    aws.reset()


@pytest.fixture
def dynamodb_repo(aws_mock, monkeypatch) -> DynamoDBRepository:
    """A DynamoDB repository on a fresh moto table."""
    monkeypatch.setenv("TABLE_NAME", TABLE)
    client = aws.client("dynamodb")
    create_table(client, TABLE)
    return DynamoDBRepository(client, TABLE)


@pytest.fixture
def memory_repo() -> InMemoryRepository:
    return InMemoryRepository()


@pytest.fixture(params=["memory", "dynamodb"])
def repo(request):
    """Each repository in turn: the contract tests run against both."""
    if request.param == "memory":
        return InMemoryRepository()
    return request.getfixturevalue("dynamodb_repo")


@pytest.fixture
def mailer():
    """A mailer that keeps what it would send (MIME built, nothing sent)."""
    from tests.fakes import RecordingMailer

    return RecordingMailer()


@pytest.fixture
def app_module(dynamodb_repo, mailer):
    """The Chalice app wired to the moto-backed repository and the recording mailer."""
    import app as app_module
    from chalicelib import wiring

    wiring.set_repo(dynamodb_repo)
    wiring.set_mailer(mailer)
    yield app_module
    wiring.set_repo(None)
    wiring.set_mailer(None)


@pytest.fixture
def client(app_module, monkeypatch):
    """chalice.test.Client for the HTTP edge."""
    from chalice.test import Client

    monkeypatch.setenv("TABLE_NAME", TABLE)
    with Client(app_module.app, stage_name="local") as test_client:
        yield test_client


@pytest.fixture
def staff_token(dynamodb_repo) -> str:
    from chalicelib.adapters import aws
    from chalicelib import times

    return staff.issue_token(dynamodb_repo, "tester")


@pytest.fixture
def staff_headers(staff_token) -> dict[str, str]:
    return {"Authorization": f"Bearer {staff_token}", "Content-Type": "application/json"}


def webinar_data(**overrides) -> dict:
    """A valid webinar as staff would POST it."""
    data = {
        "id": "webinar-2027-01-14",
        "kind": "webinar",
        "status": "published",
        "title": {"nl": "Webinar Smart Region", "en": "Smart Region webinar"},
        "description": {"nl": "Missie en strategie", "en": "Mission and strategy"},
        "starts_at": "2027-01-14T10:00:00+01:00",
        "ends_at": "2027-01-14T11:00:00+01:00",
        "online_url": "https://meet.example.org/sro",
    }
    data.update(overrides)
    return data


def day_data(**overrides) -> dict:
    """A valid in-person event with seats."""
    data = {
        "id": "smart-region-dag-2027",
        "kind": "in_person",
        "status": "published",
        "title": {"nl": "Smart Region Dag", "en": "Smart Region Day"},
        "starts_at": "2027-06-03T09:00:00+02:00",
        "ends_at": "2027-06-03T17:00:00+02:00",
        "location": {"name": "Herman Teirlinckgebouw", "address": "Havenlaan 88, 1000 Brussel"},
        "capacity": 400,
    }
    data.update(overrides)
    return data


@contextmanager
def table_faults(repo: DynamoDBRepository, fault: Callable[[str, int], Exception | None]) -> Iterator[Counter]:
    """Within the block, ``repo``'s client raises ``fault(operation, n)`` instead of answering, when it gives one.

    ``n`` counts the calls of that operation so far, this one included; the
    Counter yielded counts every call made.
    """
    original, calls = repo.client._make_api_call, Counter()

    def answer(operation, params):
        calls[operation] += 1
        error = fault(operation, calls[operation])
        if error is not None:
            raise error
        return original(operation, params)

    repo.client._make_api_call = answer
    try:
        yield calls
    finally:
        repo.client._make_api_call = original


def aws_error(operation: str, code: str, **response) -> Exception:
    """The ClientError botocore raises for ``code`` (a cancelled transaction's reasons go in ``CancellationReasons``)."""
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": code}, **response}, operation)
