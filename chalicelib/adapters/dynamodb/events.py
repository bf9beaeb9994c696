"""Event items: create, read, list, conditional update, seat offers.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from chalicelib import times
from chalicelib.adapters.dynamodb.keys import N, S
from chalicelib.errors import Conflict
from chalicelib.model.event import Event, _sort_events


class EventItems:

    # --- events

    @staticmethod
    def _event_key(event_id: str) -> dict[str, Any]:
        return {"PK": S("EVENTS"), "SK": S(f"EVENT#{event_id}")}

    @classmethod
    def _event_item(cls, event: Event) -> dict[str, Any]:
        return {
            **cls._event_key(event.id),
            "body": S(json.dumps(event.to_record(), ensure_ascii=False, separators=(",", ":"))),
            "updated_at": S(times.to_utc_iso(event.updated_at or times.now())),
        }

    @staticmethod
    def _event_from_item(item: dict[str, Any]) -> Event:
        freed = item.get("seat_freed_at", {}).get("S")
        return Event.from_record(json.loads(item["body"]["S"]), seats_taken=int(item.get("seats_taken", {"N": "0"})["N"]),
                                 seat_freed_at=times.from_utc_iso(freed) if freed else None,
                                 waiting_count=int(item.get("waiting_count", {"N": "0"})["N"]),
                                 interested_count=int(item.get("interested_count", {"N": "0"})["N"]))

    def create_event(self, event: Event) -> None:
        from botocore.exceptions import ClientError

        item = self._event_item(event)
        item["seats_taken"] = N(event.seats_taken)
        item["write_id"] = S(attempt := secrets.token_hex(8))
        try:
            self._call("put_item", Item=item, ConditionExpression="attribute_not_exists(PK)")
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise
            if not self._landed(item, attempt):
                raise Conflict(f"id: an event with id {event.id!r} exists already") from exc

    def get_event(self, event_id: str) -> Event | None:
        reply = self._call("get_item", Key=self._event_key(event_id), ConsistentRead=True)
        item = reply.get("Item")
        return self._event_from_item(item) if item else None

    def list_events(self) -> list[Event]:
        items = self._query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={":pk": S("EVENTS"), ":prefix": S("EVENT#")},
        )
        return _sort_events([self._event_from_item(item) for item in items])

    def update_event(self, event: Event, *, previous: Event) -> None:
        from botocore.exceptions import ClientError

        item = self._event_item(event)
        try:
            self._call(
                "update_item",
                Key={"PK": item["PK"], "SK": item["SK"]},
                UpdateExpression="SET body = :body, updated_at = :new, write_id = :attempt",
                ConditionExpression="updated_at = :old",
                ExpressionAttributeValues={
                    ":body": item["body"],
                    ":new": item["updated_at"],
                    ":old": S(times.to_utc_iso(previous.updated_at or times.now())),
                    ":attempt": S(attempt := secrets.token_hex(8)),
                },
            )
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise
            if not self._landed(item, attempt):
                raise Conflict("event: it was changed meanwhile; read it again and retry") from exc

    def seat_offered(self, event_id: str, freed_at: datetime) -> None:
        from botocore.exceptions import ClientError

        try:
            self._call("update_item", Key=self._event_key(event_id),
                       UpdateExpression="REMOVE seat_freed_at", ConditionExpression="seat_freed_at = :seen",
                       ExpressionAttributeValues={":seen": S(times.to_utc_iso(freed_at))})
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise  # a seat freed since keeps its mark

    def set_event_counts(self, event_id: str, counts: dict[str, int]) -> None:
        from botocore.exceptions import ClientError

        names = {f"#c{n}": name for n, name in enumerate(sorted(counts))}
        values = {f":c{n}": N(counts[name]) for n, name in enumerate(sorted(counts))}
        try:
            self._call("update_item", Key=self._event_key(event_id), ConditionExpression="attribute_exists(PK)",
                       UpdateExpression="SET " + ", ".join(f"#c{n} = :c{n}" for n in range(len(counts))),
                       ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise
