"""Staff tokens, the audit log and the suppression list.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from chalicelib import times
from chalicelib.adapters.dynamodb.keys import TTL_ATTRIBUTE, N, S, _epoch
from chalicelib.model.expiry import AUDIT_RETENTION
from chalicelib.model.person import AuditEntry, StaffToken


class StaffItems:

    # --- staff

    def add_staff_token(self, token: StaffToken) -> None:
        # Through _transact: a missing table (before bootstrap, a wrong
        # TABLE_NAME) or no connection is Unavailable, not a raw botocore error.
        self._transact([
            {"Put": {"TableName": self.table, "Item": {
                "PK": S(f"STAFFTOKEN#{token.token_hash}"), "SK": S("TOKEN"),
                "name": S(token.name), "created_at": S(times.to_utc_iso(token.created_at)),
            }, "ConditionExpression": "attribute_not_exists(PK)"}},
            {"Update": {"TableName": self.table,
                        "Key": {"PK": S(f"STAFF#{token.name}"), "SK": S("STAFF")},
                        "UpdateExpression": "ADD token_hashes :h",
                        "ExpressionAttributeValues": {":h": {"SS": [token.token_hash]}}}},
        ])

    def get_staff_token(self, token_hash: str) -> StaffToken | None:
        reply = self._call("get_item", Key={"PK": S(f"STAFFTOKEN#{token_hash}"), "SK": S("TOKEN")})
        item = reply.get("Item")
        if not item:
            return None
        revoked = item.get("revoked_at", {}).get("S")
        return StaffToken(
            name=item["name"]["S"], token_hash=token_hash,
            created_at=times.from_utc_iso(item["created_at"]["S"]),
            revoked_at=times.from_utc_iso(revoked) if revoked else None,
        )

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
