"""The link key: the HMAC key that signs person links, read from SSM (or LINK_KEY locally) once per process.
"""

from __future__ import annotations

import hashlib

from chalicelib import config
from chalicelib.adapters import aws

_key_cache: dict[str, bytes] = {}


def signing_key() -> bytes:
    """Return the key for person ids and person links, read once per process.

    ``TOKEN_KEY`` (tests, local runs) wins; otherwise the SecureString
    parameter named by ``TOKEN_KEY_PARAMETER`` (created by ``cli bootstrap``).
    """

    direct = config.get("TOKEN_KEY")
    if direct:
        return hashlib.sha256(direct.encode("utf-8")).digest()
    name = config.get("TOKEN_KEY_PARAMETER")
    if name not in _key_cache:
        reply = aws.client("ssm").get_parameter(Name=name, WithDecryption=True)
        _key_cache[name] = hashlib.sha256(reply["Parameter"]["Value"].encode("utf-8")).digest()
    return _key_cache[name]
