"""`make package` for dev and prod: lint-clean CloudFormation and a small, complete deployment.zip.

Runs ``scripts/package.py`` (chalice package merged with infra/template.json,
then slimmed) as CI would: AWS_DEFAULT_REGION set, no AWS credentials.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from chalicelib import storage

REPO = Path(__file__).resolve().parent.parent
STAGES = ("dev", "prod")
MAX_ZIP_BYTES = 2 * 1024 * 1024
FUNCTIONS = {"APIHandler", "StaffAuthorizer", "Tick", "SesNotifications"}
# Lambda sets these itself and refuses them in a function's configuration.
LAMBDA_RESERVED = {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                   "AWS_SESSION_TOKEN", "AWS_LAMBDA_FUNCTION_NAME", "_HANDLER", "LAMBDA_TASK_ROOT"}


def without_credentials() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") or k == "AWS_DEFAULT_REGION"}
    env["AWS_DEFAULT_REGION"] = "eu-west-1"
    return env


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> dict[str, Path]:
    """dist/<stage> for each stage, built into a temporary directory."""
    built = {}
    for stage in STAGES:
        outdir = tmp_path_factory.mktemp("dist") / stage
        subprocess.run([sys.executable, "scripts/package.py", stage, str(outdir)], cwd=REPO,
                       env=without_credentials(), check=True, capture_output=True, timeout=600)
        built[stage] = outdir
    return built


def template(packaged, stage) -> dict:
    return json.loads((packaged[stage] / "sam.json").read_text())


def functions(packaged, stage) -> dict[str, dict]:
    return {name: r for name, r in template(packaged, stage)["Resources"].items()
            if r["Type"] == "AWS::Serverless::Function"}


@pytest.mark.parametrize("stage", STAGES)
def test_cfn_lint_finds_no_error_and_no_warning(packaged, stage):
    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(packaged[stage] / "sam.json")],
                          capture_output=True, text=True, env=without_credentials(), timeout=300)
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout + lint.stderr


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_gets_the_same_settings(packaged, stage):
    found = functions(packaged, stage)
    assert FUNCTIONS <= set(found), "the API, the authorizer, the tick and the SNS handler"
    environments = {name: f["Properties"]["Environment"]["Variables"] for name, f in found.items()}
    api = environments["APIHandler"]
    assert api["STAGE"] == stage
    assert api["TABLE_NAME"] == {"Ref": "EventsTable"}
    assert api["SES_CONFIGURATION_SET"] == {"Ref": "MailConfigurationSet"}
    assert api["SENDER_EMAIL"] and api["BASE_URL"].startswith("https://")
    assert not set(api) & LAMBDA_RESERVED
    for name, variables in environments.items():
        assert variables == api, f"{name} must have the API's environment (add it to infra/template.json)"


@pytest.mark.parametrize("stage", STAGES)
def test_the_tick_stops_early_enough_for_its_slowest_send_and_record(packaged, stage):
    import app
    from chalicelib import aws, config, reminders

    tick = functions(packaged, stage)["Tick"]["Properties"]
    slowest_send = 3 + float(config.DEFAULTS["AWS_READ_TIMEOUT"])  # connect, then read; SES is tried once
    assert aws.RETRIES["ses"]["total_max_attempts"] == 1
    assert tick["Timeout"] - app.TICK_MARGIN == reminders.TIME_BUDGET  # 50 s of sending, as the README says
    assert app.TICK_MARGIN >= slowest_send + 5  # the send begun last, then its batch's record


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_has_a_name_and_a_log_group_the_policy_covers(packaged, stage):
    resources = template(packaged, stage)["Resources"]
    for name, function in functions(packaged, stage).items():
        function_name = function["Properties"]["FunctionName"]["Fn::Sub"]
        assert function_name.startswith("sro-events-${Stage}"), name
        log_group = resources[f"{name}LogGroup"]["Properties"]
        assert log_group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{function_name}"}
        assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


@pytest.mark.parametrize("stage", STAGES)
def test_every_role_carries_the_hand_written_policy(packaged, stage):
    written = json.loads((REPO / ".chalice" / f"policy-{stage}.json").read_text())
    own = {"StaffAuthorizerRole": json.loads((REPO / ".chalice" / f"policy-authorizer-{stage}.json").read_text()),
           "SesNotificationsRole": json.loads((REPO / ".chalice" / f"policy-ses-notifications-{stage}.json").read_text())}
    resources = template(packaged, stage)["Resources"]
    roles = {name: r for name, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    assert set(roles) == {"ApiHandlerRole", "TickRole", "SesNotificationsRole", "StaffAuthorizerRole"}
    for name, role in roles.items():
        wanted = own.get(name, written)
        assert [p["PolicyDocument"] for p in role["Properties"]["Policies"]] == [wanted], name
        assert "ManagedPolicyArns" not in role["Properties"]
    assert resources["StaffAuthorizer"]["Properties"]["Role"] == {"Fn::GetAtt": ["StaffAuthorizerRole", "Arn"]}


@pytest.mark.parametrize("stage", STAGES)
def test_the_authorizer_which_any_bearer_string_runs_may_only_read_staff_tokens(packaged, stage):
    [role] = [r for n, r in template(packaged, stage)["Resources"].items() if n == "StaffAuthorizerRole"]
    statements = [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    actions = sorted(a for s in statements for a in s["Action"])
    assert actions == ["dynamodb:GetItem", "logs:CreateLogStream", "logs:PutLogEvents"]
    [table] = [s for s in statements if s["Action"] == ["dynamodb:GetItem"]]
    assert table["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["STAFFTOKEN#*"]}}
    assert table["Resource"]["Fn::Sub"].endswith(f":table/sro-events-{stage}")


@pytest.mark.parametrize("stage", STAGES)
def test_table_matches_what_the_code_creates_locally(packaged, stage):
    table = template(packaged, stage)["Resources"]["EventsTable"]
    local = storage.table_definition("x")
    props = table["Properties"]
    for key in ("BillingMode", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes"):
        assert props[key] == local[key], key
    assert props["TableName"] == {"Fn::Sub": "sro-events-${Stage}"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": storage.TTL_ATTRIBUTE, "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] == {"Fn::If": ["IsProd", True, False]}
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


@pytest.mark.parametrize("stage", STAGES)
def test_bounces_and_complaints_reach_the_sns_handler(packaged, stage):
    resources = template(packaged, stage)["Resources"]
    destination = resources["MailBouncesAndComplaints"]["Properties"]
    assert destination["ConfigurationSetName"] == {"Ref": "MailConfigurationSet"}
    assert sorted(destination["EventDestination"]["MatchingEventTypes"]) == ["bounce", "complaint"]
    assert destination["EventDestination"]["SnsDestination"]["TopicARN"] == {"Ref": "SesNotificationsTopic"}
    events = resources["SesNotifications"]["Properties"]["Events"]
    (subscription,) = events.values()
    assert subscription == {"Type": "SNS", "Properties": {"Topic": {"Fn::Sub": "${SesNotificationsTopic}"}}}
    assert resources["SesNotifications"]["Properties"]["Handler"] == "app.ses_notifications"
    assert resources["Tick"]["Properties"]["Events"]["TickEvent"]["Properties"]["Schedule"] == "rate(1 minute)"


def test_deployment_zip_is_at_most_2_mb_and_has_no_boto3(packaged):
    zip_path = packaged["dev"] / "deployment.zip"
    assert zip_path.stat().st_size <= MAX_ZIP_BYTES, f"{zip_path.stat().st_size / 1e6:.2f} MB"
    names = zipfile.ZipFile(zip_path).namelist()
    assert "app.py" in names and "chalicelib/config.py" in names
    assert not [n for n in names if n.startswith(("boto3/", "botocore/", "icalendar/tests/"))]


def test_the_slimmed_package_still_imports_and_speaks_dutch_and_english(packaged, tmp_path):
    zipfile.ZipFile(packaged["dev"] / "deployment.zip").extractall(tmp_path)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import app\n"  # with the zip's contents only: boto3 is not there, and not needed to import
        "from datetime import datetime, timezone\n"
        "from babel.dates import format_datetime\n"
        "d = datetime(2027, 6, 3, 7, 0, tzinfo=timezone.utc)\n"
        "print(format_datetime(d, 'EEEE d MMMM y', locale='nl_BE'))\n"
        "print(format_datetime(d, 'EEEE d MMMM y', locale='en_GB'))\n"
    )
    # -S: no site-packages, as close to "only the zip and the standard library" as a test gets.
    result = subprocess.run([sys.executable, "-S", "-c", script, str(tmp_path)], capture_output=True,
                            text=True, timeout=60, env={"PATH": os.environ.get("PATH", ""), "STAGE": "dev"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["donderdag 3 juni 2027", "Thursday 3 June 2027"]


@pytest.mark.parametrize("stage", STAGES)
def test_api_gateways_own_error_answers_carry_the_security_headers(packaged, stage):
    """The 401 of the staff authorizer and the 403 of an unknown path come from API Gateway, not the app."""
    resources = template(packaged, stage)["Resources"]
    responses = {r["Properties"]["ResponseType"]: r["Properties"] for r in resources.values()
                 if r["Type"] == "AWS::ApiGateway::GatewayResponse"}
    assert set(responses) == {"DEFAULT_4XX", "DEFAULT_5XX", "UNAUTHORIZED", "MISSING_AUTHENTICATION_TOKEN"}
    # A missing or refused token is answered by API Gateway itself: in the API's error shape (API.md), as locally.
    unauthorized = responses["UNAUTHORIZED"]
    assert unauthorized["StatusCode"] == "401"
    body = json.loads(unauthorized["ResponseTemplates"]["application/json"])
    assert body["Code"] == "UnauthorizedError" and body["Message"].startswith("Authorization: ")
    # An unknown address is a 404 page, in Dutch and English, not API Gateway's 403 "Missing Authentication Token".
    missing = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert missing["StatusCode"] == "404" and "Pagina niet gevonden" in missing["ResponseTemplates"]["text/html"]
    for properties in responses.values():
        assert properties["RestApiId"] == {"Ref": "RestAPI"}
        assert properties["ResponseParameters"]["gatewayresponse.header.X-Content-Type-Options"] == "'nosniff'"
        assert properties["ResponseParameters"]["gatewayresponse.header.Referrer-Policy"] == "'no-referrer'"


@pytest.mark.parametrize("stage", STAGES)
def test_the_ses_notice_handler_may_not_send_mail_or_touch_registrations(packaged, stage):
    [role] = [r for n, r in template(packaged, stage)["Resources"].items() if n == "SesNotificationsRole"]
    statements = [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    actions = sorted(a for s in statements for a in s["Action"])
    assert actions == ["dynamodb:GetItem", "dynamodb:PutItem", "logs:CreateLogStream", "logs:PutLogEvents",
                       "ssm:GetParameter"]
    [table] = [s for s in statements if s["Action"] == ["dynamodb:GetItem", "dynamodb:PutItem"]]
    assert table["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["SUPPRESSION#*", "PERSON#*"]}}
