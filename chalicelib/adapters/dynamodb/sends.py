"""Send items: planning writes, the due index, claims, settles with erasure marks, send slots.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime
from typing import Any, Collection, Sequence

from chalicelib import times
from chalicelib.adapters.dynamodb.keys import (
    DUE_INDEX,
    DUE_PARTITION,
    SLOTS_AHEAD_MAX,
    SLOTS_TRIES,
    TRANSACTION_MAX,
    TTL_ATTRIBUTE,
    N,
    S,
    _epoch,
    _epoch_text,
    _window,
    _window_start,
)
from chalicelib.errors import PartialWrite, Unavailable
from chalicelib.model.send import Send, SlotWindow

log = logging.getLogger(__name__)


class SendItems:

    def __init__(self, client: Any, table_name: str):
        self.client = client
        self.table = table_name

    # --- sends

    @staticmethod
    def _send_key_of(event_id: str, key: str) -> dict[str, Any]:
        return {"PK": S(f"EVENT#{event_id}"), "SK": S(key)}

    def _send_key(self, send: Send) -> dict[str, Any]:
        return self._send_key_of(send.event_id, send.key)

    def _send_item(self, send: Send) -> dict[str, Any]:
        # Few attributes: what conditions and the index need stands alone, the
        # rest is one JSON body (as for every other item). A settled send has
        # no ``due_at`` at all, so a claim's ``due_at = :seen`` fails on it.
        body: dict[str, Any] = {"event_id": send.event_id, "person_id": send.person_id, "kind": send.kind,
                                "detail": send.detail, "due": times.to_utc_iso(send.due),
                                "cutoff": times.to_utc_iso(send.cutoff), "state": send.state, "attempts": send.attempts}
        for name in ("message_id", "reason"):
            if getattr(send, name) is not None:
                body[name] = getattr(send, name)
        if send.settled_at is not None:
            body["settled_at"] = times.to_utc_iso(send.settled_at)
        if send.sent_at is not None:
            body["sent_at"] = times.to_utc_iso(send.sent_at)
        if send.details:
            body["details"] = send.details
        expires = _epoch(send.expires_at) if send.expires_at is not None else None
        if expires is not None:  # also in the body: the due index's reads leave out the TTL attribute
            body["expires_at"] = expires
        due_at = times.to_utc_iso(send.next_at) if send.state in ("pending", "claimed") else None
        if due_at is not None:  # also in the body: the due index's reads take the body alone
            body["due_at"] = due_at
        item: dict[str, Any] = {**self._send_key(send),
                                "body": S(json.dumps(body, ensure_ascii=False, separators=(",", ":")))}
        if due_at is not None:
            item["due_pk"] = S(DUE_PARTITION)
            item["due_at"] = S(due_at)
        if send.claimed_by is not None:
            item["claimed_by"] = S(send.claimed_by)
        if expires is not None:
            item[TTL_ATTRIBUTE] = N(expires)
        return item

    @staticmethod
    def _send_from_item(item: dict[str, Any]) -> Send:
        body = json.loads(item["body"]["S"])
        settled = body.get("settled_at")
        due_at = body.get("due_at") or item.get("due_at", {}).get("S")
        return Send(
            event_id=body["event_id"], person_id=body["person_id"], kind=body["kind"], detail=body["detail"],
            due=times.from_utc_iso(body["due"]), cutoff=times.from_utc_iso(body["cutoff"]), state=body["state"],
            due_at=times.from_utc_iso(due_at) if due_at else None,
            attempts=body["attempts"], claimed_by=item["claimed_by"]["S"] if "claimed_by" in item else None,
            message_id=body.get("message_id"), reason=body.get("reason"),
            settled_at=times.from_utc_iso(settled) if settled else None, details=body.get("details", {}),
            sent_at=times.from_utc_iso(body["sent_at"]) if body.get("sent_at") else None,
            expires_at=datetime.fromtimestamp(body["expires_at"], tz=times.UTC) if "expires_at" in body else None,
        )

    def put_sends(self, sends: Sequence[Send], *, overwrite: bool) -> int:
        operations = []
        for send in sends:
            put: dict[str, Any] = {"TableName": self.table, "Item": self._send_item(send)}
            if overwrite:
                put["ConditionExpression"] = "attribute_not_exists(claimed_by)"  # never over a claim
            else:
                put["ConditionExpression"] = "attribute_not_exists(PK)"
            operations.append({"Put": put})
        return sum(self._write_each(operations))

    def delete_sends(self, sends: Sequence[Send]) -> list[bool]:
        return self._write_each([self._unclaimed_delete(send) for send in sends])

    def _unclaimed_delete(self, send: Send) -> dict[str, Any]:
        """A send's deletion, never while a tick holds it (it would go out with no record)."""
        return {"Delete": {"TableName": self.table, "Key": self._send_key(send),
                           "ConditionExpression": "attribute_not_exists(claimed_by)"}}

    def list_sends(self, event_id: str, person_id: str | None = None) -> list[Send]:
        prefix = f"SEND#{person_id}#" if person_id else "SEND#"
        items = self._query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={":pk": S(f"EVENT#{event_id}"), ":prefix": S(prefix)},
            ConsistentRead=True,
        )
        return [self._send_from_item(item) for item in items]

    def due_page(self, now: datetime, limit: int) -> tuple[list[Send], bool]:
        kwargs: dict[str, Any] = {
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "due_pk = :pk AND due_at <= :now",
            "ExpressionAttributeValues": {":pk": S(DUE_PARTITION), ":now": S(times.to_utc_iso(now))},
            # The body alone: it holds the key's parts and ``due_at`` too (all a
            # claim writes back whole, but ``claimed_by``, which its state tells).
            "ProjectionExpression": "body",
            "Limit": limit,
        }
        found: list[Send] = []
        while True:
            page = self._call("query", **kwargs)
            found += [self._send_from_item(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return found, False
            if len(found) >= limit:
                return found[:limit], True
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            kwargs["Limit"] = limit - len(found)

    def claim_sends(self, sends: Sequence[Send], *, by: str, lease_until: datetime) -> list[Send]:
        # Whole-item puts rather than updates: the dispatcher holds the whole
        # item (the index projects ALL), and the condition on the ``due_at`` it
        # read fails if anything moved the send meanwhile.
        claimed = [replace(send, state="claimed", claimed_by=by, due_at=lease_until, attempts=send.attempts + 1)
                   for send in sends]
        operations = [{"Put": {
            "TableName": self.table, "Item": self._send_item(claim),
            "ConditionExpression": "due_at = :seen",  # only pending and claimed sends have one
            "ExpressionAttributeValues": {":seen": S(times.to_utc_iso(seen.next_at))},
        }} for seen, claim in zip(sends, claimed)]
        try:
            won = self._write_each(operations)
        except PartialWrite as exc:
            # The table failed partway through claims written one by one: the
            # ones that landed go out (the tick meets the failure again at its
            # next request and puts back what it has not sent); one whose
            # answer was lost may be ours, and is recorded "interrupted" later.
            log.warning("claims stopped partway: %s", exc)
            won = [held is True for held in exc.held]
        return [claim for claim, ok in zip(claimed, won) if ok]

    def settle_sends(self, sends: Sequence[Send], *, by: str, found: Collection[str] = ()) -> int:
        """Each send that is still ours written as settled: without a condition of its own where it may be.

        A send whose recipient the tick found after claiming it cannot have
        been erased unseen: the erasure deletes the profile before it lists
        the sends, so it finds the claim, and marks this tick before it
        deletes them (``erase_person``). Those puts go without a condition,
        with one ConditionCheck a transaction that the mark is absent. Any
        other send (its recipient was not read, or was gone) is put
        conditioned on ``claimed_by``; and if a transaction fails (the mark is
        there, or such a send was erased), every send in it is written again
        that way, so nothing deleted comes back.
        """
        if not any(send.person_id in found for send in sends):
            return sum(self._write_each([self._settle(send, by, held=True) for send in sends]))
        mark = {"ConditionCheck": {"TableName": self.table, "Key": self._erasure_mark_key(by),
                                   "ConditionExpression": "attribute_not_exists(PK)"}}
        settled = 0
        for start in range(0, len(sends), TRANSACTION_MAX - 1):
            chunk = sends[start:start + TRANSACTION_MAX - 1]
            if self._try_transaction([mark, *(self._settle(s, by, held=s.person_id not in found) for s in chunk)]) is None:
                settled += len(chunk)
            else:
                settled += sum(self._write_each([self._settle(send, by, held=True) for send in chunk]))
        return settled

    def _settle(self, send: Send, by: str, *, held: bool) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self.table, "Item": self._send_item(replace(send, claimed_by=None))}
        if held:
            put["ConditionExpression"] = "claimed_by = :me"
            put["ExpressionAttributeValues"] = {":me": S(by)}
        return {"Put": put}

    @staticmethod
    def _erasure_mark_key(tick: str) -> dict[str, Any]:
        return {"PK": S(f"TICK#{tick}"), "SK": S("ERASED")}

    def reserve_send_slots(self, count: int, rate: float, now: float, *, last: SlotWindow | None = None,
                           resume: float | None = None) -> SlotWindow:
        """One UpdateItem, conditioned on the end it expects: its own last window's, or none in the future.

        A tick that lost the race to another gets the current end back from
        its failed condition and tries again from there.
        """
        from botocore.exceptions import ClientError

        expected = last.stored if last is not None else None
        for _ in range(SLOTS_TRIES):
            window = _window(_window_start(now, expected, last, resume), count, rate)
            condition = "attribute_not_exists(slots_end) OR slots_end <= :now OR slots_end > :far"
            values = {":end": N(window.stored), ":now": N(_epoch_text(now)),
                      ":far": N(_epoch_text(now + SLOTS_AHEAD_MAX))}
            if expected is not None:
                condition += " OR slots_end = :seen"
                values[":seen"] = {"N": expected}
            try:
                self._call("update_item", Key={"PK": S("RATE"), "SK": S("SES")}, UpdateExpression="SET slots_end = :end",
                           ConditionExpression=condition, ExpressionAttributeValues=values,
                           ReturnValuesOnConditionCheckFailure="ALL_OLD")
            except ClientError as exc:
                if not self._is_condition_failure(exc):
                    raise
                expected = exc.response.get("Item", {}).get("slots_end", {}).get("N")
                last = None  # not ours any more: start after it
                continue
            return window
        raise Unavailable("storage: the send slots are contended")
