"""`make package STAGE=dev|prod`: the CloudFormation template and deployment.zip in dist/<stage>/.

1. ``chalice package --pkg-format cloudformation --merge-template
   infra/template.json``: Chalice's functions, API and roles (with
   ``.chalice/policy-<stage>.json``), merged with our table, SNS topic, SES
   configuration set, log groups and the queue of the SES notices the
   handler failed on.
2. Throttle the API (``throttle``): Chalice has no setting for API
   Gateway's throttling, so the stage's method settings are added to the
   packaged ``RestAPI``, from its own routes (see ``THROTTLE``).
3. API Gateway's own answers (``gateway_responses``): the 404 page, the
   401 and 429 in the API's error shape, the security headers, written in
   infra/template.json as GatewayResponse resources, are moved into the API
   definition itself, so that every deployment of the stage carries them.
4. A custom domain's base path mapping waits for the stage it maps
   (``map_domain_after_stage``), and the API has that one stage only
   (``one_stage``).
5. Slim ``deployment.zip``: Chalice bundles whole wheels; drop what Lambda
   never loads. Babel's locale data is 30 MB for ~1,000 locales and the
   service speaks Dutch and English; icalendar ships its own test suite;
   RECORD files list the wheels' files for pip, which Lambda never runs;
   dnspython (``dns/``) is email-validator's dependency for its
   deliverability check, which the app never asks for
   (``check_deliverability=False``), so it is never imported; Babel's
   ``babel/messages`` reads and writes catalogs, which only the build does.
6. Compile the Dutch catalogs (``chalicelib/locales/*/LC_MESSAGES/*.po``)
   into ``.mo`` files in the zip, in place of the ``.po`` files and of any
   ``.mo`` copied from the working tree (``make`` compiles those for local
   runs; they are not in git and may be stale). At run time
   ``chalicelib/render/i18n.py`` reads them with the standard library's gettext.

Needs AWS_DEFAULT_REGION (set to eu-west-1 when missing) and no credentials.
Usage: python scripts/package.py STAGE [OUTDIR]   (OUTDIR defaults to dist/STAGE)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MERGE_TEMPLATE = REPO / "infra" / "template.json"

# The locales chalicelib/render/i18n.py formats dates in (nl_BE, en_GB) and every
# locale Babel reads on the way up to root (en_GB -> en_001 -> en -> root).
KEEP_LOCALES = {"root", "nl", "nl_BE", "en", "en_001", "en_150", "en_GB", "en_BE"}
# Top-level packages of the zip that nothing imports at run time (see step 5),
# with their wheels' metadata.
NEVER_IMPORTED = {"dns": "dnspython-"}


# API Gateway throttling: a token bucket per method (requests a second, and
# the burst a full bucket lets through at once). A stage's default applies to
# each method on its own, not to the stage as a whole. 429 past it, before
# Lambda or DynamoDB see anything.
#
# - Every method: 50/s, burst 250. The worst burst measured is
#   tests/live/test_load.py's: 220 form posts (then 220 confirms) at the same
#   instant; a real mail-out of a few hundred people spreads over minutes,
#   under 10/s on the busiest method even if 500 came within one minute.
#   Calendar apps poll hourly: 0.14/s at 1,000 subscribers, 14/s at 100,000.
#   A flood of one method costs at most 50 requests a second (a few Lambdas
#   at a time) instead of the account's 10,000, which would also take the
#   region's 1,000 concurrent Lambdas from the tick.
# - POST /subscriptions: 5/s, burst 250. The one public method that mails an
#   address the caller chooses (a confirmation request): 250 at once and 300
#   more a minute still take the load test's rush or a whole mail-out in one
#   minute, and a steady stream stays well under SES's 14 mails a second
#   (shared with the tick), so a bot cannot use up the send rate alone.
# - the staff API (/staff/...): 5/s, burst 20 per method. A handful of people
#   and their scripts; every request with an unknown token runs the authorizer.
THROTTLE = {
    "default": {"ThrottlingRateLimit": 50.0, "ThrottlingBurstLimit": 250},
    ("POST", "/subscriptions"): {"ThrottlingRateLimit": 5.0, "ThrottlingBurstLimit": 250},
    "staff": {"ThrottlingRateLimit": 5.0, "ThrottlingBurstLimit": 20},
}
STAFF_PREFIX = "/staff/"
HTTP_METHODS = ("get", "head", "post", "put", "patch", "delete", "options")


def method_settings(paths: dict) -> list[dict]:
    """The stage's MethodSettings for the API whose OpenAPI ``paths`` are given: the default, then each override."""
    settings = [{"ResourcePath": "/*", "HttpMethod": "*", **THROTTLE["default"]}]
    for path, operations in sorted(paths.items()):
        for method in (m.upper() for m in operations if m in HTTP_METHODS):
            limits = THROTTLE["staff"] if path.startswith(STAFF_PREFIX) else THROTTLE.get((method, path))
            if limits is not None:  # API Gateway names a resource by its path, each "/" as "~1"
                settings.append({"ResourcePath": "/" + path.replace("/", "~1"), "HttpMethod": method, **limits})
    return settings


def throttle(template_path: Path) -> None:
    """Add the throttling of ``THROTTLE`` to the stage of the packaged API (``RestAPI``)."""
    template = json.loads(template_path.read_text())
    api = template["Resources"]["RestAPI"]["Properties"]
    overrides = {key for key in THROTTLE if isinstance(key, tuple)}
    missing = sorted(f"{m} {p}" for m, p in overrides if m.lower() not in api["DefinitionBody"]["paths"].get(p, {}))
    if missing:
        raise SystemExit(f"THROTTLE names methods the API does not have: {missing}")
    api["MethodSettings"] = method_settings(api["DefinitionBody"]["paths"])
    template_path.write_text(json.dumps(template, indent=2) + "\n")


# API Gateway's own answers (the 404 page, the 401 and 429 in the API's error
# shape, the security headers) are written in infra/template.json as
# AWS::ApiGateway::GatewayResponse resources, and moved here into the API
# definition (Chalice's DefinitionBody of ``RestAPI``) as its
# x-amazon-apigateway-gateway-responses. As separate resources they would
# never go live: SAM's deployment of the stage does not depend on them, so no
# deployment carries them to the stage (serverless-application-model #623,
# #3482). In the definition, a change of them changes SAM's deployment id, and
# the next deploy puts them on the stage.
GATEWAY_RESPONSES_KEY = "x-amazon-apigateway-gateway-responses"
GATEWAY_RESPONSE_FIELDS = {"StatusCode": "statusCode", "ResponseParameters": "responseParameters",
                           "ResponseTemplates": "responseTemplates"}


def gateway_responses(template: dict) -> None:
    """Move the template's GatewayResponse resources into the API definition of ``RestAPI``."""
    resources = template["Resources"]
    found = {}
    for name in [n for n, r in resources.items() if r.get("Type") == "AWS::ApiGateway::GatewayResponse"]:
        properties = dict(resources.pop(name)["Properties"])
        if properties.pop("RestApiId", None) != {"Ref": "RestAPI"}:
            raise SystemExit(f"{name}: a gateway response of another API than RestAPI")
        response_type = properties.pop("ResponseType")
        unknown = sorted(set(properties) - set(GATEWAY_RESPONSE_FIELDS))
        if unknown or response_type in found:
            raise SystemExit(f"{name}: {'properties ' + str(unknown) if unknown else 'a second ' + response_type}")
        found[response_type] = {GATEWAY_RESPONSE_FIELDS[k]: v for k, v in properties.items()}
    if found:
        resources["RestAPI"]["Properties"]["DefinitionBody"][GATEWAY_RESPONSES_KEY] = found


def stage_resource(template: dict) -> str:
    """The logical id SAM gives the stage of ``RestAPI``: <api id><stage name>Stage, for a plain stage name."""
    stage = template["Resources"]["RestAPI"]["Properties"]["StageName"]
    if not (isinstance(stage, str) and stage.isalnum()):
        raise SystemExit(f"api_gateway_stage {stage!r}: letters and digits only, or SAM's stage id is a hash")
    return f"RestAPI{stage}Stage"


def map_domain_after_stage(template: dict) -> None:
    """Make the custom domain's base path mapping (Chalice's, with a custom domain) wait for its stage.

    Chalice names the stage by its name, with no dependency on the stage SAM
    makes, so CloudFormation may create the mapping first: "Invalid stage
    identifier specified" (chalice #1735, #2003).
    """
    mapping = template["Resources"].get("ApiGatewayCustomDomainMapping")
    if mapping is None:
        return
    depends = mapping.get("DependsOn", [])
    depends = [depends] if isinstance(depends, str) else list(depends)
    stage = stage_resource(template)
    if stage not in depends:
        mapping["DependsOn"] = depends + [stage]


def one_stage(template: dict) -> None:
    """Only the stage Chalice names (``api``): no second, unthrottled stage "Stage".

    Without ``OpenApiVersion`` SAM gives its deployment ``StageName: Stage``,
    which makes a second stage of the same API at .../Stage/ without
    ``MethodSettings``: a way around ``THROTTLE``. Any ``OpenApiVersion`` drops
    it; Chalice's definition is Swagger 2.0, so that is the version named.
    """
    api = template["Resources"]["RestAPI"]["Properties"]
    version = api["DefinitionBody"].get("swagger")
    if version != "2.0":
        raise SystemExit(f"the API definition is not Swagger 2.0 ({version!r}): set OpenApiVersion to match")
    api["OpenApiVersion"] = version


def finish(template_path: Path) -> None:
    """Steps 2 to 4 on the packaged template."""
    throttle(template_path)
    template = json.loads(template_path.read_text())
    gateway_responses(template)
    map_domain_after_stage(template)
    one_stage(template)
    template_path.write_text(json.dumps(template, indent=2) + "\n")


def keep(name: str) -> bool:
    """Whether a file of the deployment package is worth shipping to Lambda."""
    parts = name.split("/")
    if parts[0] == "babel" and len(parts) == 3 and parts[1] == "locale-data":
        return parts[2].removesuffix(".dat") in KEEP_LOCALES or not parts[2].endswith(".dat")
    if parts[0] == "icalendar" and len(parts) > 1 and parts[1] == "tests":
        return False
    if parts[0] in NEVER_IMPORTED or (
            parts[0].endswith(".dist-info") and parts[0].startswith(tuple(NEVER_IMPORTED.values()))):
        return False
    if parts[:2] == ["babel", "messages"]:
        return False
    if catalog(name) is not None or (parts[0] == "chalicelib" and name.endswith(".pot")):  # see step 6
        return False
    if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "RECORD":
        return False
    if "__pycache__" in parts:
        return False
    return True


def catalog(name: str) -> tuple[str, str] | None:
    """(locale, domain) for a catalog of the app, compiled (.mo) or not (.po), else None."""
    parts = name.split("/")
    if len(parts) == 5 and parts[:2] == ["chalicelib", "locales"] and parts[3] == "LC_MESSAGES" \
            and parts[4].endswith((".po", ".mo")):
        return parts[2], parts[4][:-3]
    return None


def compile_catalog(po: bytes, locale: str) -> bytes:
    """The .mo of a .po file, as ``pybabel compile`` writes it (fuzzy entries left out). Build time only."""
    import io

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    mo = io.BytesIO()
    write_mo(mo, read_po(io.BytesIO(po), locale=locale))
    return mo.getvalue()


def slim(zip_path: Path) -> tuple[int, int]:
    """Rewrite ``zip_path`` without the files Lambda never loads, catalogs compiled; return sizes before and after."""
    before = zip_path.stat().st_size
    slimmed = zip_path.with_suffix(".slim.zip")
    with zipfile.ZipFile(zip_path) as source, \
            zipfile.ZipFile(slimmed, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            if keep(info.filename):
                target.writestr(info, source.read(info), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
            elif info.filename.endswith(".po") and catalog(info.filename) is not None:
                locale, _ = catalog(info.filename)
                mo = zipfile.ZipInfo(info.filename[:-3] + ".mo", date_time=info.date_time)
                mo.external_attr = info.external_attr
                target.writestr(mo, compile_catalog(source.read(info), locale),
                                compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    slimmed.replace(zip_path)
    return before, zip_path.stat().st_size


def package(stage: str, outdir: Path) -> Path:
    """Build ``outdir``/sam.json and deployment.zip for ``stage``; return ``outdir``."""
    if stage not in ("dev", "prod"):
        raise SystemExit(f"STAGE must be dev or prod, not {stage!r}")
    if outdir.exists():
        shutil.rmtree(outdir)
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    chalice = Path(sys.executable).parent / "chalice"
    subprocess.run(
        [str(chalice), "package", "--stage", stage, "--pkg-format", "cloudformation",
         "--merge-template", str(MERGE_TEMPLATE.relative_to(REPO)), str(outdir)],
        cwd=REPO, env=env, check=True,
    )
    finish(outdir / "sam.json")
    before, after = slim(outdir / "deployment.zip")
    print(f"{outdir}/deployment.zip: {before / 1e6:.2f} MB -> {after / 1e6:.2f} MB")
    return outdir


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    package(sys.argv[1], Path(sys.argv[2]).resolve() if len(sys.argv) == 3 else REPO / "dist" / sys.argv[1])
