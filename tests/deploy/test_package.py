"""`make package` for dev and prod: lint-clean CloudFormation and a small, complete deployment.zip.

Runs ``scripts/package.py`` (chalice package merged with infra/template.json,
then slimmed) as CI would: AWS_DEFAULT_REGION set, no AWS credentials.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from chalicelib.adapters import aws
from chalicelib.adapters.dynamodb import keys as table_keys
from chalicelib.adapters.dynamodb import table as table_module
from chalicelib import config
from chalicelib.services import tick as tick_module

REPO = Path(__file__).resolve().parents[2]
STAGES = ("dev", "prod")
# The staff console, the .xlsx export and the iMIP invitations brought the zip from 1.68 to 1.77 MB (our own
# code and templates, no new library); still 0.27 MB under what it was before the reshape (2.04 MB).
MAX_ZIP_BYTES = 1_850_000
CATALOGS = REPO / "chalicelib" / "locales"
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
    """dist/<stage> for each stage, built into a temporary directory from a copy of the project.

    A copy: tests running on another xdist worker meanwhile write __pycache__
    files into chalicelib/, and a file that appears or goes while chalice
    copies the tree fails the build now and then.
    """
    project = tmp_path_factory.mktemp("project")
    ignore = shutil.ignore_patterns("__pycache__")
    for name in ("chalicelib", "infra", "scripts", ".chalice"):  # .chalice/deployments: chalice's cached wheels
        shutil.copytree(REPO / name, project / name, ignore=ignore)
    for name in ("app.py", "requirements.txt"):
        shutil.copy2(REPO / name, project / name)
    built = {}
    for stage in STAGES:
        outdir = tmp_path_factory.mktemp("dist") / stage
        result = subprocess.run([sys.executable, "scripts/package.py", stage, str(outdir)], cwd=project,
                                env=without_credentials(), capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"scripts/package.py {stage} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
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
    from chalicelib.http import handlers
    from chalicelib.adapters.dynamodb import table as table_module

    tick = functions(packaged, stage)["Tick"]["Properties"]
    slowest_send = 3 + float(config.DEFAULTS["AWS_READ_TIMEOUT"])  # connect, then read; SES is tried once
    assert aws.RETRIES["ses"]["total_max_attempts"] == 1
    assert tick["Timeout"] - handlers.TICK_MARGIN == tick_module.TIME_BUDGET  # 50 s of sending, as the README says
    assert handlers.TICK_MARGIN >= slowest_send + 5  # the send begun last, then its batch's record


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_has_a_name_and_a_log_group_the_policy_covers(packaged, stage):
    resources = template(packaged, stage)["Resources"]
    for name, function in functions(packaged, stage).items():
        function_name = function["Properties"]["FunctionName"]["Fn::Sub"]
        assert function_name.startswith("sro-events-${Stage}"), name
        log_group = resources[f"{name}LogGroup"]["Properties"]
        assert log_group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{function_name}"}
        assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


ROLES = {"APIHandler": ("ApiHandlerRole", "policy-{stage}.json"), "Tick": ("TickRole", "policy-tick-{stage}.json"),
         "StaffAuthorizer": ("StaffAuthorizerRole", "policy-authorizer-{stage}.json"),
         "SesNotifications": ("SesNotificationsRole", "policy-ses-notifications-{stage}.json")}


def role_statements(packaged, stage, role: str) -> list[dict]:
    properties = template(packaged, stage)["Resources"][role]["Properties"]
    return [s for p in properties["Policies"] for s in p["PolicyDocument"]["Statement"]]


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_has_its_own_role_with_its_own_hand_written_policy(packaged, stage):
    resources = template(packaged, stage)["Resources"]
    roles = {name: r for name, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    # The one other role is API Gateway's, for its access log, and may do nothing but write logs.
    logs_role = roles.pop("ApiGatewayLogsRole")
    assert logs_role["Properties"]["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}]
    assert logs_role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"}
    assert set(roles) == {role for role, _ in ROLES.values()}
    for function, (role, policy_file) in ROLES.items():
        wanted = json.loads((REPO / ".chalice" / policy_file.format(stage=stage)).read_text())
        assert [p["PolicyDocument"] for p in roles[role]["Properties"]["Policies"]] == [wanted], role
        assert "ManagedPolicyArns" not in roles[role]["Properties"]
        assert resources[function]["Properties"]["Role"] == {"Fn::GetAtt": [role, "Arn"]}, function


@pytest.mark.parametrize("stage", STAGES)
def test_the_tick_touches_only_events_registrations_sends_people_the_send_slots_and_its_erasure_mark(packaged, stage):
    statements = role_statements(packaged, stage, "TickRole")
    actions = sorted({a for s in statements for a in s["Action"]})
    assert actions == ["dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem",
                       "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem",
                       "logs:CreateLogStream", "logs:PutLogEvents", "ses:SendRawEmail", "sqs:SendMessage",
                       "ssm:GetParameter"]
    [mark] = [s for s in statements if "TICK#*" in s.get("Condition", {}).get("ForAllValues:StringLike", {}).get(
        "dynamodb:LeadingKeys", [])]
    assert mark["Action"] == ["dynamodb:ConditionCheckItem"]  # checked, never written, by the tick
    assert mark["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == ["TICK#*"]
    on_table = [s for s in statements if isinstance(s["Resource"], dict)
                and s["Resource"]["Fn::Sub"].endswith(f":table/sro-events-{stage}")]
    assert on_table and all(s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] for s in on_table)
    keys = {k for s in on_table for k in s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]}
    assert keys == {"EVENTS", "EVENT#*", "PERSON#*", "RATE", "TICK#*"}  # no staff tokens, audit, confirm tokens, feeds,
    # suppressions
    [index] = [s for s in statements if s["Sid"] == "DueIndex"]
    assert index["Action"] == ["dynamodb:Query"] and index["Resource"]["Fn::Sub"].endswith(f"sro-events-{stage}/index/due")


@pytest.mark.parametrize("stage", STAGES)
def test_the_api_handler_may_not_read_the_due_index_which_only_the_tick_reads(packaged, stage):
    resources = [json.dumps(s["Resource"]) for s in role_statements(packaged, stage, "ApiHandlerRole")]
    assert not [r for r in resources if "/index/" in r]


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
    local = table_module.table_definition("x")
    props = table["Properties"]
    for key in ("BillingMode", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes"):
        assert props[key] == local[key], key
    assert props["TableName"] == {"Fn::Sub": "sro-events-${Stage}"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": table_keys.TTL_ATTRIBUTE, "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] == {"Fn::If": ["IsProd", True, False]}
    # Kept when the stack is deleted or the table replaced, but not left behind by a failed first create:
    # its fixed name would block every retry.
    assert table["DeletionPolicy"] == "RetainExceptOnCreate"
    assert table["UpdateReplacePolicy"] == "Retain"


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
    assert resources["SesNotifications"]["Properties"]["Handler"] == "chalicelib.http.handlers.ses_notifications"
    assert resources["Tick"]["Properties"]["Events"]["TickEvent"]["Properties"]["Schedule"] == "rate(1 minute)"


def test_deployment_zip_is_at_most_1_85_mb_and_has_no_boto3_dnspython_or_babels_catalog_tools(packaged):
    zip_path = packaged["dev"] / "deployment.zip"
    assert zip_path.stat().st_size <= MAX_ZIP_BYTES, f"{zip_path.stat().st_size:,} bytes"
    names = zipfile.ZipFile(zip_path).namelist()
    assert "app.py" in names and "chalicelib/config.py" in names
    assert not [n for n in names if n.startswith(("boto3/", "botocore/", "icalendar/tests/"))]
    # Never imported at run time: email-validator's deliverability check (dnspython) is never asked for,
    # and the catalogs are compiled at package time and read with the standard library's gettext.
    assert not [n for n in names if n.startswith(("dns/", "dnspython-", "babel/messages/"))]


def po_files() -> list[Path]:
    return sorted(CATALOGS.glob("*/LC_MESSAGES/*.po"))


def compiled(po: bytes, locale: str) -> dict:
    """The catalog (msgid -> msgstr, as gettext holds it) that ``po`` compiles to, fuzzy entries left out."""
    import gettext
    import io

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    mo = io.BytesIO()
    write_mo(mo, read_po(io.BytesIO(po), locale=locale))
    mo.seek(0)
    return gettext.GNUTranslations(mo)._catalog


def test_the_zip_has_each_catalog_compiled_from_its_po_file_and_no_po_file(packaged):
    with zipfile.ZipFile(packaged["dev"] / "deployment.zip") as zipped:
        catalogs = sorted(n for n in zipped.namelist() if n.startswith("chalicelib/locales/"))
        assert catalogs == sorted(str(po.relative_to(REPO).with_suffix(".mo")) for po in po_files())
        import gettext
        import io

        for po in po_files():
            mo = gettext.GNUTranslations(io.BytesIO(zipped.read(str(po.relative_to(REPO).with_suffix(".mo")))))
            assert mo._catalog == compiled(po.read_bytes(), po.parent.parent.name), po.name


@pytest.mark.parametrize("po", po_files(), ids=lambda p: p.name)
def test_the_compiled_catalog_next_to_each_po_file_has_exactly_its_entries(po):
    """What the app reads locally and in tests (``make catalogs``): a .mo missing or older than its .po fails."""
    import gettext

    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{mo.relative_to(REPO)} is missing: run `make catalogs`"
    with mo.open("rb") as handle:
        found = gettext.GNUTranslations(handle)._catalog
    wanted = compiled(po.read_bytes(), po.parent.parent.name)
    stale = sorted(str(k) for k in wanted.keys() | found.keys() if wanted.get(k) != found.get(k))
    assert not stale, f"{mo.relative_to(REPO)} is stale (run `make catalogs`); entries that differ: {stale[:10]}"


def test_the_slimmed_package_still_imports_and_speaks_dutch_and_english(packaged, tmp_path):
    from babel.messages.pofile import read_po

    zipfile.ZipFile(packaged["dev"] / "deployment.zip").extractall(tmp_path)
    with (CATALOGS / "nl" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        dutch = {m.id: m.string for m in read_po(handle, locale="nl")
                 if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}
    script = (
        "import sys, json; sys.path.insert(0, sys.argv[1])\n"
        "import app\n"  # with the zip's contents only: boto3 is not there, and not needed to import
        "from datetime import datetime, timezone\n"
        "from babel.dates import format_datetime\n"
        "d = datetime(2027, 6, 3, 7, 0, tzinfo=timezone.utc)\n"
        "print(format_datetime(d, 'EEEE d MMMM y', locale='nl_BE'))\n"
        "print(format_datetime(d, 'EEEE d MMMM y', locale='en_GB'))\n"
        # The app's address check, as chalicelib calls it: without DNS.
        "from email_validator import validate_email\n"
        "print(validate_email('An@Example.be', check_deliverability=False, allow_smtputf8=False).normalized)\n"
        "try:\n"
        "    from chalicelib.render import i18n\n"
        "except ImportError:\n"
        "    from chalicelib import i18n\n"
        "print(json.dumps({text: i18n.gettext(text, 'nl') for text in json.loads(sys.argv[2])}))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'dns' or m.startswith('babel.messages')))\n"
    )
    # -S: no site-packages, as close to "only the zip and the standard library" as a test gets.
    result = subprocess.run([sys.executable, "-S", "-c", script, str(tmp_path), json.dumps(sorted(dutch))],
                            capture_output=True, text=True, timeout=60,
                            env={"PATH": os.environ.get("PATH", ""), "STAGE": "dev"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[:3] == ["donderdag 3 juni 2027", "Thursday 3 June 2027", "An@example.be"]
    assert json.loads(lines[3]) == dutch
    assert lines[4] == "[]"


@pytest.mark.parametrize("stage", STAGES)
def test_api_gateways_own_error_answers_carry_the_security_headers(packaged, stage):
    """The 401 of the staff authorizer and the 403 of an unknown path come from API Gateway, not the app."""
    responses = gateway_responses(packaged, stage)
    assert set(responses) == {"DEFAULT_4XX", "DEFAULT_5XX", "UNAUTHORIZED", "MISSING_AUTHENTICATION_TOKEN", "THROTTLED"}
    # A missing or refused token is answered by API Gateway itself: in the API's error shape (API.md), as locally.
    unauthorized = responses["UNAUTHORIZED"]
    assert unauthorized["statusCode"] == "401"
    body = json.loads(unauthorized["responseTemplates"]["application/json"])
    assert body["Code"] == "UnauthorizedError" and body["Message"].startswith("Authorization: ")
    # An unknown address is a 404 page, in Dutch and English, not API Gateway's 403 "Missing Authentication Token".
    missing = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert missing["statusCode"] == "404" and "Pagina niet gevonden" in missing["responseTemplates"]["text/html"]
    # Past the stage's throttling: a 429 in the API's error shape, saying when to come back, as the app's own 429s do.
    throttled = responses["THROTTLED"]
    assert throttled["statusCode"] == "429" and throttled["responseParameters"]["gatewayresponse.header.Retry-After"] == "'5'"
    assert json.loads(throttled["responseTemplates"]["application/json"])["Code"] == "TooManyRequestsError"
    for properties in responses.values():
        assert properties["responseParameters"]["gatewayresponse.header.X-Content-Type-Options"] == "'nosniff'"
        assert properties["responseParameters"]["gatewayresponse.header.Referrer-Policy"] == "'no-referrer'"


def gateway_responses(packaged, stage) -> dict[str, dict]:
    """API Gateway's own answers, as the deployed API definition carries them (in RestAPI's DefinitionBody).

    Not as AWS::ApiGateway::GatewayResponse resources: SAM's deployment does
    not depend on those, so no deployment would take them to the stage.
    """
    resources = template(packaged, stage)["Resources"]
    separate = [name for name, r in resources.items() if r["Type"] == "AWS::ApiGateway::GatewayResponse"]
    assert not separate, f"never deployed to the stage: {separate}"
    return resources["RestAPI"]["Properties"]["DefinitionBody"]["x-amazon-apigateway-gateway-responses"]


@pytest.mark.parametrize("stage", STAGES)
def test_the_gateway_responses_are_those_of_infra_template_json(packaged, stage):
    """Written once, in infra/template.json (tests/edge/test_page_outcomes_and_redirects.py reads them there); packaged into the API."""
    written = {r["Properties"]["ResponseType"]: r["Properties"]
               for r in json.loads((REPO / "infra" / "template.json").read_text())["Resources"].values()
               if r.get("Type") == "AWS::ApiGateway::GatewayResponse"}
    packaged_responses = gateway_responses(packaged, stage)
    assert set(packaged_responses) == set(written)
    for response_type, properties in written.items():
        assert properties["RestApiId"] == {"Ref": "RestAPI"}
        assert packaged_responses[response_type] == {
            key[0].lower() + key[1:]: value for key, value in properties.items() if key not in ("RestApiId", "ResponseType")}


@pytest.mark.parametrize("stage", STAGES)
def test_the_ses_notice_handler_may_not_send_mail_or_touch_registrations(packaged, stage):
    [role] = [r for n, r in template(packaged, stage)["Resources"].items() if n == "SesNotificationsRole"]
    statements = [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    actions = sorted(a for s in statements for a in s["Action"])
    assert actions == ["dynamodb:GetItem", "dynamodb:PutItem", "logs:CreateLogStream", "logs:PutLogEvents",
                       "sqs:SendMessage", "ssm:GetParameter"]
    [table] = [s for s in statements if s["Action"] == ["dynamodb:GetItem", "dynamodb:PutItem"]]
    assert table["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["SUPPRESSION#*", "PERSON#*"]}}


@pytest.mark.parametrize("stage", STAGES)
def test_a_notice_the_ses_handler_fails_on_is_kept_14_days_in_a_queue(packaged, stage):
    """SNS invokes the handler asynchronously: after Lambda's two retries a bounce would be lost without a trace."""
    resources = template(packaged, stage)["Resources"]
    queue = resources["SesNotificationsFailed"]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600  # SQS's longest
    invoke = resources["SesNotifications"]["Properties"]["EventInvokeConfig"]
    assert invoke["MaximumRetryAttempts"] == 2
    assert invoke["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS", "Destination": {"Fn::GetAtt": ["SesNotificationsFailed", "Arn"]}}
    # Lambda sends to it with the function's role (SAM adds nothing to a role it is given), and checks that
    # the role may when the destination is set: the hand-written policy names the queue, and no other role does.
    name = queue["Properties"]["QueueName"]["Fn::Sub"].replace("${Stage}", stage)
    assert name == f"sro-events-{stage}-ses-notifications-failed"
    [send] = [s for s in role_statements(packaged, stage, "SesNotificationsRole") if "sqs:SendMessage" in s["Action"]]
    assert send["Action"] == ["sqs:SendMessage"] and "Condition" not in send
    assert send["Resource"] == {"Fn::Sub": f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:{name}"}
    for role in ("ApiHandlerRole", "StaffAuthorizerRole"):
        assert not [a for s in role_statements(packaged, stage, role) for a in s["Action"] if a.startswith("sqs:")], role


@pytest.mark.parametrize("stage", STAGES)
def test_a_tick_that_fails_is_kept_14_days_in_a_queue_encrypted_at_rest(packaged, stage):
    """EventBridge invokes the tick asynchronously: a failed invocation went nowhere. No retry: the next minute's tick runs."""
    resources = template(packaged, stage)["Resources"]
    queue = resources["TickFailed"]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["Properties"]["KmsMasterKeyId"] == "alias/aws/sqs"
    invoke = resources["Tick"]["Properties"]["EventInvokeConfig"]
    assert invoke == {"MaximumRetryAttempts": 0, "DestinationConfig": {"OnFailure": {
        "Type": "SQS", "Destination": {"Fn::GetAtt": ["TickFailed", "Arn"]}}}}
    name = f"sro-events-{stage}-tick-failed"
    assert queue["Properties"]["QueueName"]["Fn::Sub"].replace("${Stage}", stage) == name
    [send] = [s for s in role_statements(packaged, stage, "TickRole") if "sqs:SendMessage" in s["Action"]]
    assert send["Action"] == ["sqs:SendMessage"] and "Condition" not in send
    assert send["Resource"] == {"Fn::Sub": f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:{name}"}


@pytest.mark.parametrize("stage", STAGES)
def test_the_ses_notices_are_encrypted_at_rest_with_a_key_ses_may_use(packaged, stage):
    """SES publishes to the topic only if the topic's key lets it: an AWS-managed key would drop every notice."""
    resources = template(packaged, stage)["Resources"]
    assert resources["SesNotificationsTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "NotificationsKey"}
    key = resources["NotificationsKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    [ses] = [s for s in key["KeyPolicy"]["Statement"] if s.get("Principal") == {"Service": "ses.amazonaws.com"}]
    assert sorted(ses["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert ses["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert resources["SesNotificationsFailed"]["Properties"]["KmsMasterKeyId"] == "alias/aws/sqs"


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_has_a_concurrency_ceiling_unless_the_operator_turns_it_off(packaged, stage):
    resources = template(packaged, stage)["Resources"]
    ceilings = {name: resources[name]["Properties"]["ReservedConcurrentExecutions"] for name in FUNCTIONS}
    assert ceilings["Tick"] == {"Fn::If": ["Reserve", 1, {"Ref": "AWS::NoValue"}]}  # never two ticks at once
    for name, ceiling in ceilings.items():
        assert ceiling["Fn::If"][0] == "Reserve" and ceiling["Fn::If"][1] >= 1, name
    assert template(packaged, stage)["Parameters"]["ReserveConcurrency"]["Default"] == "true"


@pytest.mark.parametrize("stage", STAGES)
def test_the_api_access_log_names_the_route_template_never_the_path_or_the_caller(packaged, stage):
    """A path carries link tokens (/manage/{token}); the source IP is personal data."""
    resources = template(packaged, stage)["Resources"]
    setting = resources["RestAPI"]["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    fields = json.loads(setting["Format"])
    assert fields["route"] == "$context.resourcePath" and "requestId" in fields
    assert not [v for v in fields.values() if v in ("$context.path", "$context.identity.sourceIp")
                or "querystring" in v.lower() or "$context.identity" in v]
    assert resources["ApiAccessLogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert resources["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"] == {"Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]}
    # The account setting outlives a deleted stack: its role must too, or the other stage's logging breaks.
    assert resources["ApiGatewayLogsRole"]["DeletionPolicy"] == "Retain"


# The memory and time each function gets (.chalice/config.json). Lambda gives CPU in proportion to memory:
# the API renders pages and the tick renders and sends mail, both importing Babel, Jinja and icalendar
# on a cold start; the authorizer and the SES notice handler read or write one item.
MEMORY = {"APIHandler": 1024, "Tick": 1024, "StaffAuthorizer": 256, "SesNotifications": 256}


@pytest.mark.parametrize("stage", STAGES)
def test_each_function_has_its_own_memory_and_timeout(packaged, stage):
    found = functions(packaged, stage)
    assert {name: f["Properties"]["MemorySize"] for name, f in found.items()} == MEMORY
    timeouts = {name: f["Properties"]["Timeout"] for name, f in found.items()}
    assert timeouts["APIHandler"] == 30  # API Gateway answers 504 at 29 s: no use running much past it
    assert timeouts["StaffAuthorizer"] == 10  # one GetItem
    assert timeouts["Tick"] == 75  # its budget is computed from the real context (test above)


# ------------------------------------------------------------ throttling


def method_settings(packaged, stage) -> dict[tuple[str, str], dict]:
    api = template(packaged, stage)["Resources"]["RestAPI"]["Properties"]
    return {(s["HttpMethod"], s["ResourcePath"]): s for s in api["MethodSettings"]}


def api_methods(packaged, stage) -> set[tuple[str, str]]:
    """Every (method, path) of the packaged API, the path as API Gateway's method settings name it."""
    paths = template(packaged, stage)["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    return {(m.upper(), "/" + p.replace("/", "~1")) for p, ops in paths.items() for m in ops if not m.startswith("x-")}


def limits(setting: dict) -> tuple[float, int]:
    return setting["ThrottlingRateLimit"], setting["ThrottlingBurstLimit"]


@pytest.mark.parametrize("stage", STAGES)
def test_every_method_of_the_api_is_throttled(packaged, stage):
    """A flood is answered 429 by API Gateway, before Lambda and DynamoDB: at most 50 a second a method."""
    settings = method_settings(packaged, stage)
    default = settings.pop(("*", "/*"))
    assert limits(default) == (50.0, 250)
    assert set(settings) <= api_methods(packaged, stage), "an override names a method the API has"
    for key, setting in settings.items():
        assert set(setting) == {"HttpMethod", "ResourcePath", "ThrottlingRateLimit", "ThrottlingBurstLimit"}, key
        assert setting["ThrottlingRateLimit"] <= default["ThrottlingRateLimit"], key
        assert setting["ThrottlingBurstLimit"] <= default["ThrottlingBurstLimit"], key


@pytest.mark.parametrize("stage", STAGES)
def test_the_form_that_mails_any_address_and_the_staff_api_are_throttled_tighter(packaged, stage):
    settings = method_settings(packaged, stage)
    assert limits(settings[("POST", "/~1subscriptions")]) == (5.0, 250)
    staff = {key for key in api_methods(packaged, stage) if key[1].startswith("/~1staff~1")}
    assert len(staff) >= 10 and staff <= set(settings), "every staff method, including ones added later"
    assert {limits(settings[key]) for key in staff} == {(5.0, 20)}
    assert set(settings) == staff | {("*", "/*"), ("POST", "/~1subscriptions")}


@pytest.mark.parametrize("stage", STAGES)
def test_the_throttling_lets_the_load_tests_rush_through(packaged, stage):
    """tests/live/test_load.py: everyone posts the form at the same instant (some twice), then everyone confirms."""
    from tests.support import load

    at_once = load.PEOPLE + max(load.REPEATS, load.DOUBLE_CLICKS)
    settings = method_settings(packaged, stage)
    for key in (("*", "/*"), ("POST", "/~1subscriptions")):  # the confirm button's POST has the default
        assert settings[key]["ThrottlingBurstLimit"] >= at_once, key
    # A whole mail-out of 500 people posting the form within one minute: the bucket, then its refill.
    rate, burst = limits(settings[("POST", "/~1subscriptions")])
    assert burst + 60 * rate >= 500


@pytest.mark.parametrize("stage", STAGES)
def test_the_api_has_no_second_unthrottled_stage(packaged, stage):
    """Without OpenApiVersion SAM's deployment also makes a stage "Stage", without the throttling."""
    api = template(packaged, stage)["Resources"]["RestAPI"]["Properties"]
    assert api["StageName"] == "api"
    assert api["OpenApiVersion"] == api["DefinitionBody"]["swagger"] == "2.0"


def test_throttling_refuses_to_name_a_method_the_api_does_not_have(tmp_path):
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import package
    finally:
        sys.path.remove(str(REPO / "scripts"))
    sam = tmp_path / "sam.json"
    sam.write_text(json.dumps({"Resources": {"RestAPI": {"Properties": {"DefinitionBody": {"paths": {
        "/subscriptions": {"get": {}}, "/staff/audit": {"get": {}}}}}}}}))
    with pytest.raises(SystemExit, match="POST /subscriptions"):
        package.throttle(sam)
    sam.write_text(json.dumps({"Resources": {"RestAPI": {"Properties": {"DefinitionBody": {"paths": {
        "/subscriptions": {"post": {}}, "/staff/audit": {"get": {}}}}}}}}))
    package.throttle(sam)
    assert [(s["HttpMethod"], s["ResourcePath"]) for s in
            json.loads(sam.read_text())["Resources"]["RestAPI"]["Properties"]["MethodSettings"]] == [
        ("*", "/*"), ("GET", "/~1staff~1audit"), ("POST", "/~1subscriptions")]


# ------------------------------------------------------------ custom domain


@pytest.fixture(scope="module")
def packaged_with_custom_domain(packaged, tmp_path_factory) -> Path:
    """dist/dev of a copy of the project whose dev stage has README's custom domain (step 5)."""
    project = tmp_path_factory.mktemp("custom-domain")
    ignore = shutil.ignore_patterns("__pycache__")
    for name in ("chalicelib", "infra", "scripts", ".chalice"):  # .chalice/deployments: chalice's cached wheels
        shutil.copytree(REPO / name, project / name, ignore=ignore)
    for name in ("app.py", "requirements.txt"):
        shutil.copy2(REPO / name, project / name)
    config_file = project / ".chalice" / "config.json"
    settings = json.loads(config_file.read_text())
    settings["stages"]["dev"].update({
        "api_gateway_endpoint_type": "REGIONAL",
        "api_gateway_custom_domain": {
            "domain_name": "events-dev.smartregion.example",
            "certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000",
        },
    })
    config_file.write_text(json.dumps(settings, indent=2))
    outdir = project / "dist" / "dev"
    subprocess.run([sys.executable, "scripts/package.py", "dev", str(outdir)], cwd=project,
                   env=without_credentials(), check=True, capture_output=True, timeout=600)
    return outdir


def test_the_custom_domains_mapping_waits_for_the_stage_it_maps(packaged_with_custom_domain):
    """Chalice's mapping names the stage "api" without depending on it: "Invalid stage identifier" (chalice #1735)."""
    resources = json.loads((packaged_with_custom_domain / "sam.json").read_text())["Resources"]
    mapping = resources["ApiGatewayCustomDomainMapping"]
    assert mapping["Properties"]["Stage"] == resources["RestAPI"]["Properties"]["StageName"] == "api"
    assert mapping["Properties"]["BasePath"] == "(none)"  # at the root: the pages' root-relative links work
    # The stage SAM makes of RestAPI's StageName: <api logical id><stage name>Stage (SAM's generated resources).
    assert mapping["DependsOn"] == ["RestAPIapiStage"]
    assert resources["ApiGatewayCustomDomain"]["Properties"]["DomainName"] == "events-dev.smartregion.example"
    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(packaged_with_custom_domain / "sam.json")],
                          capture_output=True, text=True, env=without_credentials(), timeout=300)
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout + lint.stderr


# ------------------------------------------------------------ make deploy


def make_deploy_dry_run(*variables: str) -> list[list[str]]:
    """The aws commands ``make -n deploy`` would run (nothing is run), each split into words."""
    env = {k: v for k, v in without_credentials().items()
           if k not in ("REGION", "STAGE", "STACK", "DEPLOY_BUCKET", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env.pop("AWS_DEFAULT_REGION")
    dry = subprocess.run(["make", "-n", "deploy", "DEPLOY_BUCKET=sro-events-deploy-test", *variables], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=120, check=True)
    lines = dry.stdout.replace("\\\n", " ").splitlines()
    return [shlex.split(line) for line in lines if line.startswith(("aws ", "AWS_DEFAULT_REGION="))]


def option(words: list[str], name: str) -> str:
    assert words.count(name) == 1, f"{name} once in {words}"
    return words[words.index(name) + 1]


@pytest.mark.parametrize("variables,region", [((), "eu-west-1"), (("REGION=eu-central-1",), "eu-central-1")])
def test_make_deploy_names_the_region_and_sends_the_template_through_s3(variables, region):
    commands = make_deploy_dry_run("STAGE=prod", *variables)
    aws = [c for c in commands if c[0] == "aws"]
    assert [c[1:3] for c in aws] == [["cloudformation", "package"], ["cloudformation", "deploy"],
                                     ["cloudformation", "describe-stacks"]]
    for command in aws:  # never the operator's default region
        assert option(command, "--region") == region, command
    package, deploy, _ = aws
    assert option(package, "--output-template-file") == "dist/prod/packaged.json" and "--use-json" in package
    assert option(deploy, "--template-file") == "dist/prod/packaged.json"
    # deploy refuses a template over 51,200 bytes unless it goes through S3; ours is larger.
    assert option(deploy, "--s3-bucket") == option(package, "--s3-bucket") == "sro-events-deploy-test"
    assert option(deploy, "--s3-prefix") == option(package, "--s3-prefix") == "sro-events-prod"
    assert option(deploy, "--stack-name") == "sro-events-prod" and option(deploy, "--parameter-overrides") == "Stage=prod"
    [build] = [c for c in commands if c[0].startswith("AWS_DEFAULT_REGION=")]  # make package, in the same region
    assert build[0] == f"AWS_DEFAULT_REGION={region}" and build[2:] == ["scripts/package.py", "prod"]


def test_the_packaged_template_is_too_big_to_deploy_without_s3(packaged):
    """So `make deploy` must pass --s3-bucket to `aws cloudformation deploy` (the test above)."""
    assert (packaged["prod"] / "sam.json").stat().st_size > 51_200


CHECKOV = REPO / ".local" / "checkov" / "bin" / "checkov"


@pytest.mark.parametrize("stage", STAGES)
def test_checkov_finds_no_unexplained_failure_in_the_template(packaged, stage):
    """Every check of the IaC scanner passes, or is skipped in infra/template.json with its reason."""
    assert CHECKOV.exists(), "checkov is missing: `make checkov` installs it (`make test` does)"
    scan = subprocess.run([str(CHECKOV), "-f", str(packaged[stage] / "sam.json"), "--framework", "cloudformation",
                           "--skip-download", "--output", "json"],
                          capture_output=True, text=True, env=without_credentials(), timeout=300)
    assert scan.returncode == 0, scan.stdout[-3000:] + scan.stderr[-3000:]
    results = json.loads(scan.stdout)["results"]
    assert [(c["check_id"], c["resource"]) for c in results["failed_checks"]] == []
    assert len(results["passed_checks"]) >= 60, "the scanner read the resources"
    unexplained = [(c["check_id"], c["resource"]) for c in results["skipped_checks"]
                   if len(c["check_result"].get("suppress_comment") or "") < 20]
    assert unexplained == []



@pytest.mark.parametrize("stage", STAGES)
def test_reaching_the_confirmation_ceiling_raises_an_alarm_on_the_metric_the_code_logs(packaged, stage, capsys):
    """Issue 21, item 1: the hourly ceiling of confirmation mails alarms (CloudWatch) when reached."""
    from chalicelib import logs

    logs.confirmation_held("service")
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    [metrics] = line["_aws"]["CloudWatchMetrics"]
    alarm = template(packaged, stage)["Resources"]["ConfirmationCeilingAlarm"]
    assert alarm["Type"] == "AWS::CloudWatch::Alarm"
    props = alarm["Properties"]
    assert props["Namespace"] == metrics["Namespace"] and props["MetricName"] == "ConfirmationCeilingReached"
    assert line["ConfirmationCeilingReached"] == 1 and [d["Name"] for d in props["Dimensions"]] == metrics["Dimensions"][0]
    assert (props["Statistic"], props["Threshold"], props["ComparisonOperator"]) == \
        ("Sum", 1, "GreaterThanOrEqualToThreshold")
    assert props["AlarmActions"]["Fn::If"][0] == "HasAlarmTopic"  # notifies the operator's topic when one is given


@pytest.mark.parametrize("stage", STAGES)
def test_the_api_passes_a_binary_answer_whatever_the_browser_accepts_first(packaged, stage):
    """API Gateway decides by the first type of Accept (text/html for a browser's link): only */* lets the
    registrations' .xlsx through as bytes rather than base64 text (issue 21, item 2)."""
    api = template(packaged, stage)["Resources"]["RestAPI"]["Properties"]
    assert "*~1*" in api["BinaryMediaTypes"]
