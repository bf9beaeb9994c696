"""Fuzzing: schemathesis against chalice local and moto's server, bounded for the suite.

`make fuzz` runs the same with many more examples per operation. The service
here is a throwaway copy (scripts/local_service.py): fuzzing cancels,
publishes and erases things, so it must not share state with other tests.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    from local_service import running_service

    with running_service(logs=tmp_path_factory.mktemp("fuzz-service")) as running:
        yield running


def test_no_5xx_and_no_answer_outside_the_openapi_document(service, tmp_path):
    from fuzz import run_schemathesis

    # A fixed seed (FUZZ_SEED to change it): the suite must fail for a change
    # in the code, not for a new draw. `make fuzz` draws afresh every run.
    code, figures = run_schemathesis(service.url, service.staff_token, max_examples=EXAMPLES, workers=1,
                                     seed=int(os.environ.get("FUZZ_SEED", "20270603")), report_dir=tmp_path)
    print("fuzz figures:", json.dumps(figures))
    assert code == 0, f"schemathesis found problems (see the output above): {figures}"
    assert figures["operations"] >= 18
    assert figures["test_cases"] >= 10 * figures["operations"]


def request(method: str, url: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    req = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:
            return answer.status, dict(answer.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


@pytest.mark.parametrize("path", ["/staff/events", "/staff/events/smart-region-dag-2027", "/staff/audit",
                                  "/staff/subscribers"])
def test_cors_preflight_on_staff_allows_no_origin(service, path):
    status, headers = request("OPTIONS", service.url + path, {
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    lower = {k.lower(): v for k, v in headers.items()}
    assert "access-control-allow-origin" not in lower
    assert "access-control-allow-headers" not in lower
    assert lower.get("access-control-allow-methods", "OPTIONS") == "OPTIONS"


def test_staff_answers_over_http_carry_no_cors_header(service):
    for headers in ({"Origin": "https://evil.example"},
                    {"Origin": "https://evil.example", "Authorization": f"Bearer {service.staff_token}"}):
        status, answer = request("GET", service.url + "/staff/events", headers)
        assert status in (200, 401)
        assert not any(name.lower().startswith("access-control-") for name in answer), answer
