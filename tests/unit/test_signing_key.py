"""In AWS the link signing key comes from SSM Parameter Store, as the IAM policy allows."""

from __future__ import annotations

import hashlib

from chalicelib.adapters import aws
from chalicelib.adapters import keys as link_keys


def test_signing_key_is_read_once_from_the_stage_parameter(aws_mock, monkeypatch):
    monkeypatch.delenv("TOKEN_KEY", raising=False)
    monkeypatch.setenv("TOKEN_KEY_PARAMETER", "/sro-events/dev/token-key")
    monkeypatch.setattr(link_keys, "_key_cache", {})
    aws.client("ssm").put_parameter(Name="/sro-events/dev/token-key", Type="SecureString", Value="k" * 64)
    expected = hashlib.sha256(b"k" * 64).digest()
    assert link_keys.signing_key() == expected
    aws.client("ssm").delete_parameter(Name="/sro-events/dev/token-key")
    assert link_keys.signing_key() == expected  # cached: one read per process
