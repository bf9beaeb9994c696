"""Validation of staff names (for tokens and the audit log).
"""

from __future__ import annotations

import re

from chalicelib.errors import InvalidInput

NAME_PATTERN = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


def check_name(name: str) -> str:
    """Return ``name`` if it can name a staff member, else raise InvalidInput."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidInput("name", "invalid_name", "must be 1 to 64 letters, digits, dots, hyphens, underscores or @")
    return name
