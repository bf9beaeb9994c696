"""Fixtures every test may ask for (loaded by tests/conftest.py's pytest_plugins)."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import day_data, webinar_data
from tests.support.pages import confirm_as, publish


@pytest.fixture
def published(client, staff_headers):
    """The webinar and the Smart Region Day, published through the staff API."""
    publish(client, staff_headers, webinar_data(), day_data())


@pytest.fixture
def subscribe_and_confirm(client, published, mailer):
    """A factory: ``subscribe_and_confirm(email, event_ids, **form_fields)`` posts the form, confirms, returns the manage path."""
    return lambda email="an@example.be", event_ids=("webinar-2027-01-14",), **fields: \
        confirm_as(client, mailer, email, list(event_ids), **fields)


@pytest.fixture
def atomic_requests(dynamodb_repo):
    """The DynamoDB repository with one request at a time, as DynamoDB applies each write atomically.

    moto's in-process backend does not make one request atomic against another
    thread's; with this, a race test tests our conditions and transactions, not
    moto's locking.
    """
    lock = threading.Lock()
    original = dynamodb_repo.client._make_api_call

    def one_at_a_time(*args, **kwargs):
        with lock:
            return original(*args, **kwargs)

    dynamodb_repo.client._make_api_call = one_at_a_time
    yield dynamodb_repo
    dynamodb_repo.client._make_api_call = original
