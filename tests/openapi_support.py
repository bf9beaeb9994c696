"""Check recorded answers against the OpenAPI document (chalicelib/openapi.py) with jsonschema."""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from jsonschema import Draft202012Validator, FormatChecker

from chalicelib.render import openapi


def route_of(doc: dict[str, Any], path: str) -> str:
    """Return the document's path template that ``path`` (concrete, no query) matches."""
    for template in doc["paths"]:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return template
    raise AssertionError(f"{path}: not in the OpenAPI document")


def check_response(method: str, path: str, status: int, headers: Mapping[str, str], body: bytes,
                   doc: dict[str, Any] | None = None) -> None:
    """Assert that an answer is one the document allows: status, content type, headers, body schema."""
    doc = doc or openapi.document()
    template = route_of(doc, path.split("?")[0])
    operation = doc["paths"][template].get(method.lower())
    assert operation is not None, f"{method} {template}: not in the OpenAPI document"
    spec = operation["responses"].get(str(status))
    assert spec is not None, f"{method} {path}: {status} is not among {sorted(operation['responses'])}"
    lower = {k.lower(): v for k, v in headers.items()}
    for name, header in spec.get("headers", {}).items():
        if header.get("required"):
            assert name.lower() in lower, f"{method} {path} {status}: header {name} missing"
            Draft202012Validator(header["schema"]).validate(lower[name.lower()])
    content = spec.get("content")
    if not content or not body:
        return
    # No Content-Type: API Gateway's default, JSON (chalice's local gateway sends none with its 401).
    media = (lower.get("content-type") or "application/json").split(";")[0].strip()
    assert media in content, f"{method} {path} {status}: {media!r} is not among {sorted(content)}"
    if media == "application/json":
        validator = Draft202012Validator({**content[media]["schema"], "components": doc["components"]},
                                         format_checker=FormatChecker())
        validator.validate(json.loads(body))
