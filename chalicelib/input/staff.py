"""Validation of staff names (for tokens and the audit log), and of the console's staff members.
"""

from __future__ import annotations

import re

from chalicelib.errors import InvalidInput
from chalicelib.input.event import checked_text
from chalicelib.input.subscription import normalise_email
from chalicelib.model.console import NAME_MAX

NAME_PATTERN = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


def check_name(name: str) -> str:
    """Return ``name`` if it can name a staff member, else raise InvalidInput."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidInput("name", "invalid_name", "must be 1 to 64 letters, digits, dots, hyphens, underscores or @")
    return name


def member_email(value: object) -> str:
    """A staff member's address, normalised and lower-cased (the key they are stored under); InvalidInput if not one."""
    return normalise_email(value).lower()


def member_name(value: object) -> str:
    """A staff member's name as the console shows it: one line, 1 to 200 characters."""
    name = checked_text(value, "name", NAME_MAX, True)
    if "\n" in name:
        raise InvalidInput("name", "not_one_line", "must be one line")
    return name
