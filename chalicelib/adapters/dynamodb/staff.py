"""Staff tokens, the audit log and the suppression list.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from chalicelib import times
from chalicelib.adapters.dynamodb.keys import TTL_ATTRIBUTE, N, S, _epoch
from chalicelib.model.expiry import AUDIT_RETENTION
from chalicelib.model.person import AuditEntry, StaffToken

STAFF_TOKEN_LISTED_AFTER = timedelta(days=30)  # an expired token's item stays this long (staff-token list), then TTL


class StaffItems:

    # --- staff

    def add_staff_token(self, token: StaffToken) -> None:
        # Through _transact: a missing table (before bootstrap, a wrong
        # TABLE_NAME) or no connection is Unavailable, not a raw botocore error.
        self._transact([
            {"Put": {"TableName": self.table, "Item": {
                "PK": S(f"STAFFTOKEN#{token.token_hash}"), "SK": S("TOKEN"),
                "name": S(token.name), "created_at": S(times.to_utc_iso(token.created_at)),
                "valid_until": S(times.to_utc_iso(token.expires_at)),
                # Listed a while after it stops working (staff-token list), then gone.
                TTL_ATTRIBUTE: N(_epoch(token.expires_at + STAFF_TOKEN_LISTED_AFTER)),
            }, "ConditionExpression": "attribute_not_exists(PK)"}},
            {"Update": {"TableName": self.table,
                        "Key": {"PK": S(f"STAFF#{token.name}"), "SK": S("STAFF")},
                        "UpdateExpression": "ADD token_hashes :h",
                        "ExpressionAttributeValues": {":h": {"SS": [token.token_hash]}}}},
        ])

    def get_staff_token(self, token_hash: str) -> StaffToken | None:
        reply = self._call("get_item", Key={"PK": S(f"STAFFTOKEN#{token_hash}"), "SK": S("TOKEN")})
        item = reply.get("Item")
        return self._staff_token(item) if item else None

    @staticmethod
    def _staff_token(item: dict[str, Any]) -> StaffToken:
        def instant(name: str):
            value = item.get(name, {}).get("S")
            return times.from_utc_iso(value) if value else None

        return StaffToken(name=item["name"]["S"], token_hash=item["PK"]["S"].split("#", 1)[1],
                          created_at=times.from_utc_iso(item["created_at"]["S"]), revoked_at=instant("revoked_at"),
                          valid_until=instant("valid_until"), last_used_at=instant("last_used_at"))

    def list_staff_tokens(self) -> list[StaffToken]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {"FilterExpression": "begins_with(PK, :p) AND SK = :sk",
                                   "ExpressionAttributeValues": {":p": S("STAFFTOKEN#"), ":sk": S("TOKEN")}}
        while True:
            page = self._call("scan", **request)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted((self._staff_token(i) for i in items), key=lambda t: (t.created_at, t.name, t.token_hash))

    def record_staff_token_use(self, token_hash: str, at: datetime, *, unless_since: datetime) -> None:
        from botocore.exceptions import ClientError

        try:
            self._call("update_item", Key={"PK": S(f"STAFFTOKEN#{token_hash}"), "SK": S("TOKEN")},
                       UpdateExpression="SET last_used_at = :at",
                       ConditionExpression="attribute_exists(PK) AND (attribute_not_exists(last_used_at) OR "
                                           "last_used_at < :since)",
                       ExpressionAttributeValues={":at": S(times.to_utc_iso(at)),
                                                  ":since": S(times.to_utc_iso(unless_since))})
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise

    def revoke_staff_tokens(self, name: str, at: datetime) -> int:
        reply = self._call("get_item", Key={"PK": S(f"STAFF#{name}"), "SK": S("STAFF")}, ConsistentRead=True)
        hashes = reply.get("Item", {}).get("token_hashes", {}).get("SS", [])
        live = [h for h in hashes if (t := self.get_staff_token(h)) is not None and t.revoked_at is None]
        for start in range(0, len(live), 100):
            self._transact([
                {"Update": {"TableName": self.table,
                            "Key": {"PK": S(f"STAFFTOKEN#{h}"), "SK": S("TOKEN")},
                            "UpdateExpression": "SET revoked_at = :at",
                            "ExpressionAttributeValues": {":at": S(times.to_utc_iso(at))}}}
                for h in live[start:start + 100]
            ])
        return len(live)

    # --- audit

    def add_audit(self, entry: AuditEntry) -> None:
        self._call("put_item", Item={
            "PK": S("AUDIT"),
            "SK": S(f"{times.to_utc_iso(entry.at)}#{secrets.token_hex(4)}"),
            "actor": S(entry.actor), "action": S(entry.action), "target": S(entry.target),
            "details": S(json.dumps(entry.details, ensure_ascii=False)),
            TTL_ATTRIBUTE: N(_epoch(entry.at + AUDIT_RETENTION)),
        })

    def list_audit(self, limit: int = 100, *, actor: str | None = None, target: str | None = None) -> list[AuditEntry]:
        """Newest first. Filtered (by actor, target), pages are read until ``limit`` entries match or 10 pages
        (10 MB of audit, years of it) have been read."""
        filters, values, names = [], {":pk": S("AUDIT")}, {}
        for name, wanted in (("actor", actor), ("target", target)):
            if wanted is not None:
                filters.append(f"#{name} = :{name}")
                names[f"#{name}"], values[f":{name}"] = name, S(wanted)
        kwargs: dict[str, Any] = {"KeyConditionExpression": "PK = :pk", "ExpressionAttributeValues": values,
                                  "ScanIndexForward": False, "Limit": limit}
        if filters:
            kwargs.update(FilterExpression=" AND ".join(filters), ExpressionAttributeNames=names, Limit=max(limit, 200))
        found: list[dict[str, Any]] = []
        for _ in range(10):
            reply = self._call("query", **kwargs)
            found += reply.get("Items", [])
            if not filters or len(found) >= limit or "LastEvaluatedKey" not in reply:
                break
            kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
        return [
            AuditEntry(actor=i["actor"]["S"], action=i["action"]["S"], target=i["target"]["S"],
                       at=times.from_utc_iso(i["SK"]["S"].split("#", 1)[0]),
                       details=json.loads(i["details"]["S"]))
            for i in found[:limit]
        ]

    @staticmethod
    def _suppression_key(digest: str) -> dict[str, Any]:
        return {"PK": S(f"SUPPRESSION#{digest}"), "SK": S("SUPPRESSION")}

    def suppression(self, digest: str) -> str | None:
        item = self._call("get_item", Key=self._suppression_key(digest), ConsistentRead=True).get("Item")
        return item["reason"]["S"] if item else None

    def suppress(self, digest: str, reason: str) -> None:
        self._call("put_item", Item={**self._suppression_key(digest), "reason": S(reason),
                                     "at": S(times.to_utc_iso(times.now()))})
