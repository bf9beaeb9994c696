"""Allowances: counts of confirmation mails per window (``model/allowance.py``), taken all or none.
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from chalicelib.adapters.dynamodb.keys import TTL_ATTRIBUTE, N, S, _epoch
from chalicelib.errors import Unavailable
from chalicelib.model.allowance import Allowance


class AllowanceItems:

    def _allowance_update(self, allowance: Allowance, now: datetime) -> dict:
        """One count taken in a transaction: ``used`` + 1 if below the limit; the item goes when its window ends."""
        return {"Update": {
            "TableName": self.table,
            "Key": {"PK": S(f"ALLOWANCE#{allowance.scope}#{allowance.key}"), "SK": S(allowance.window_id(now))},
            "UpdateExpression": "ADD used :one SET #ttl = :ttl",
            "ConditionExpression": "attribute_not_exists(used) OR used < :limit",
            "ExpressionAttributeNames": {"#ttl": TTL_ATTRIBUTE},
            "ExpressionAttributeValues": {":one": N(1), ":limit": N(allowance.limit),
                                          ":ttl": N(_epoch(allowance.ends(now)))},
        }}

    def take_allowances(self, allowances: Sequence[Allowance], now: datetime) -> Allowance | None:
        if not allowances:
            return None
        from botocore.exceptions import ClientError

        try:
            self._transact([self._allowance_update(a, now) for a in allowances])
            return None
        except ClientError as exc:
            codes = self._cancellation_codes(exc)
            for allowance, code in zip(allowances, codes):
                if code == "ConditionalCheckFailed":
                    return allowance
            raise Unavailable(f"storage: allowances not counted ({', '.join(codes) or 'no reasons'})") from exc
