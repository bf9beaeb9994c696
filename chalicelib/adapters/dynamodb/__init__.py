"""The DynamoDB repository: one class made of the item families' mixins.

The key layout and every access pattern are described in ``keys.py``; each
mixin (``events``, ``people``, ``sends``, ``feeds``, ``staff``, ``console``, ``allowances``) holds the
reads and writes of one family of items, ``calls`` the request plumbing they share.
"""

from __future__ import annotations

from chalicelib.adapters.dynamodb.allowances import AllowanceItems
from chalicelib.adapters.dynamodb.calls import Calls
from chalicelib.adapters.dynamodb.console import ConsoleItems
from chalicelib.adapters.dynamodb.events import EventItems
from chalicelib.adapters.dynamodb.feeds import FeedItems
from chalicelib.adapters.dynamodb.people import PeopleItems
from chalicelib.adapters.dynamodb.sends import SendItems
from chalicelib.adapters.dynamodb.staff import StaffItems
from chalicelib.ports import Repository


class DynamoDBRepository(
    Calls, EventItems, StaffItems, ConsoleItems, FeedItems, PeopleItems, SendItems, AllowanceItems, Repository
):
    """The repository on one DynamoDB table, through the low-level client."""
