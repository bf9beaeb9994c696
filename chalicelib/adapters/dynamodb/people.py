"""People, registrations and confirm links: the subscribe/confirm/move transactions and erasure.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Sequence

from chalicelib import times
from chalicelib.adapters.dynamodb.keys import ERASURE_MARK_KEEP, TTL_ATTRIBUTE, N, S, _epoch
from chalicelib.errors import AllowanceUsedUp, Conflict, EventChanged, Gone, RegistrationsPlaced, Unavailable
from chalicelib.model import codec
from chalicelib.model.event import Event, count_changes
from chalicelib.model.allowance import Allowance
from chalicelib.model.expiry import EXPIRY_TRIES, _later_expiry, _person_kept, _raised, token_item_expiry
from chalicelib.model.person import ConfirmToken, MailSent, Person, Registration
from chalicelib.model.send import Send, SendReads


class PeopleItems:


    # --- people and registrations

    @staticmethod
    def _body(obj: Any) -> dict[str, str]:
        return S(json.dumps(codec.to_record(obj), ensure_ascii=False, separators=(",", ":")))

    def _person_item(self, person: Person) -> dict[str, Any]:
        item = {**self._person_key(person.id), "body": self._body(person),
                "updated_at": S(times.to_utc_iso(person.updated_at))}
        if person.expires_at is not None:
            item[TTL_ATTRIBUTE] = N(_epoch(person.expires_at))
        return item

    def _person_put(self, person: Person, previous: Person | None) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self.table, "Item": self._person_item(_person_kept(person, previous))}
        if previous is None:
            put["ConditionExpression"] = "attribute_not_exists(PK)"
        else:
            put["ConditionExpression"] = "updated_at = :old"
            put["ExpressionAttributeValues"] = {":old": S(times.to_utc_iso(previous.updated_at))}
        return put

    @staticmethod
    def _person_key(person_id: str) -> dict[str, Any]:
        return {"PK": S(f"PERSON#{person_id}"), "SK": S("PROFILE")}

    @staticmethod
    def _registration_key(event_id: str, person_id: str) -> dict[str, Any]:
        return {"PK": S(f"EVENT#{event_id}"), "SK": S(f"REG#{person_id}")}

    def _registration_item(self, reg: Registration) -> dict[str, Any]:
        item = {**self._registration_key(reg.event_id, reg.person_id), "body": self._body(reg), "status": S(reg.status)}
        if reg.expires_at is not None:
            item[TTL_ATTRIBUTE] = N(_epoch(reg.expires_at))
        return item

    @staticmethod
    def _registration_from_item(item: dict[str, Any]) -> Registration:
        return codec.from_record(Registration, json.loads(item["body"]["S"]))

    def get_person(self, person_id: str) -> Person | None:
        reply = self._call("get_item", Key=self._person_key(person_id), ConsistentRead=True)
        item = reply.get("Item")
        return codec.from_record(Person, json.loads(item["body"]["S"])) if item else None

    def save_person(self, person: Person, *, previous: Person | None) -> None:
        from botocore.exceptions import ClientError

        put = self._person_put(person, previous)
        put.pop("TableName")
        put["Item"]["write_id"] = S(attempt := secrets.token_hex(8))
        try:
            self._call("put_item", **put)
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise
            if not self._landed(put["Item"], attempt):
                raise Conflict("person: changed meanwhile; try again") from exc

    def get_registrations(self, person_id: str, event_ids: list[str]) -> dict[str, Registration]:
        keys = [self._registration_key(e, person_id) for e in dict.fromkeys(event_ids)]
        regs = (self._registration_from_item(item) for item in self._batch_get(keys, ConsistentRead=True))
        return {reg.event_id: reg for reg in regs}

    def list_registrations(self, event_id: str) -> list[Registration]:
        items = self._query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={":pk": S(f"EVENT#{event_id}"), ":prefix": S("REG#")},
            ConsistentRead=True,
        )
        regs = [self._registration_from_item(item) for item in items]
        return sorted(regs, key=lambda r: (r.registered_at, r.person_id))

    def save_subscription(self, person: Person, *, previous: Person | None,
                          registrations: list[Registration], token: ConfirmToken | None,
                          allowances: Sequence[Allowance] = (), now: datetime | None = None) -> None:
        from botocore.exceptions import ClientError

        items: list[dict[str, Any]] = [{"Put": self._person_put(person, previous)}]
        for reg in registrations:
            items.append({"Put": {
                "TableName": self.table,
                "Item": self._registration_item(reg),
                "ConditionExpression": "attribute_not_exists(PK) OR #s IN (:pending, :cancelled)",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":pending": S("pending"), ":cancelled": S("cancelled")},
            }})
        if token is not None:
            items.append({"Put": {"TableName": self.table, "Item": self._token_item(token),
                                  "ConditionExpression": "attribute_not_exists(PK)"}})
        # The mail's counts in the same transaction: counted only if the submission is saved, and no call more.
        own = len(items)
        items += [self._allowance_update(a, now or times.now()) for a in allowances]
        try:
            self._transact(items)
        except ClientError as exc:
            failed = [code == "ConditionalCheckFailed" for code in self._cancellation_codes(exc)]
            used_up = [a for a, f in zip(allowances, failed[own:]) if f]
            if used_up and not any(failed[:own]):
                raise AllowanceUsedUp(used_up[0]) from exc
            raise Conflict("subscription: changed meanwhile; try again") from exc

    def move_registration(self, registration: Registration, *, expect: tuple[str, ...],
                          seat_change: int = 0, capacity: int | None = None,
                          put_sends: Sequence[Send] = (), drop_sends: Sequence[Send] = (),
                          event_seen: Event | None = None) -> bool:
        from botocore.exceptions import ClientError

        seen = times.to_utc_iso(event_seen.updated_at) if event_seen is not None and event_seen.updated_at else None
        for _ in range(EXPIRY_TRIES):
            items = self._move_items(registration, expect, seat_change, capacity, put_sends, drop_sends, seen)
            try:
                self._transact(items)
                return True
            except ClientError as exc:
                reasons = self._cancellation_reasons(exc)
                codes = [r.get("Code", "None") for r in reasons]
                failed = [code == "ConditionalCheckFailed" for code in codes] + [False] * (2 - len(codes))
                stored = reasons[0].get("Item") if failed[0] else None
                if failed[0] and (stored is None or stored.get("status", {}).get("S") not in expect):
                    raise Conflict("registration: changed meanwhile; try again") from exc
                event_item = len(items) > 1 and "Update" in items[1]  # sends are only put and deleted
                if failed[1] and event_item and seen is not None and \
                        reasons[1].get("Item", {}).get("updated_at", {}).get("S") != seen:
                    raise EventChanged("event: it was changed meanwhile; read it again") from exc
                if failed[0]:
                    # The status holds, the stored expiry is later (a postponement raised it meanwhile):
                    # write it again with that one.
                    registration, put_sends = _raised(registration, put_sends, _later_expiry(
                        registration.expires_at, self._stored_expiry(stored)))
                    continue
                if failed[1] and event_item and seat_change > 0:
                    return False
                if "TransactionConflict" in codes:
                    raise Conflict("registration: changed meanwhile; try again") from exc
                raise Conflict("registration: could not be changed; try again") from exc
        raise Conflict("registration: its expiry kept moving; try again")

    def _move_items(self, registration: Registration, expect: tuple[str, ...], seat_change: int,
                    capacity: int | None, put_sends: Sequence[Send], drop_sends: Sequence[Send],
                    seen: str | None) -> list[dict[str, Any]]:
        """The transaction of ``move_registration``: the registration, the event (seat count, or only
        its ``updated_at`` checked), the sends dropped and put."""
        names = {"#s": "status"}
        values = {f":s{i}": S(status) for i, status in enumerate(expect)}
        condition = f"#s IN ({', '.join(values)})"
        item = self._registration_item(registration)
        if TTL_ATTRIBUTE in item:  # never lower the stored expiry: a later one is returned, and written again
            condition += " AND (attribute_not_exists(#x) OR #x <= :x)"
            names["#x"], values[":x"] = TTL_ATTRIBUTE, item[TTL_ATTRIBUTE]
        items: list[dict[str, Any]] = [{"Put": {
            "TableName": self.table,
            "Item": item,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }}]
        update: dict[str, Any] | None = None
        adds: list[str] = []
        sets: list[str] = []
        event_values: dict[str, Any] = {}
        conditions: list[str] = []
        if seat_change:
            adds.append("seats_taken :change")
            event_values[":change"] = N(seat_change)
            if seat_change > 0 and capacity is not None:
                conditions.append("seats_taken < :capacity")
                event_values[":capacity"] = N(capacity - seat_change + 1)
            elif seat_change < 0:
                conditions.append("seats_taken >= :needed")
                event_values[":needed"] = N(-seat_change)
                # The mark that the people waiting are owed the seat, until promote_waiting clears it.
                sets.append("seat_freed_at = :freed")
                event_values[":freed"] = S(times.to_utc_iso(registration.updated_at))
            else:
                conditions.append("attribute_exists(PK)")
        elif seen is not None:
            # No seat moves, but the move was worked out from the event as read: an update that
            # changes nothing carries the condition (a ConditionCheck would need another IAM action).
            sets.append("updated_at = :seen")
        # The event's counts of people waiting and interested move with the status (Event.waiting_count).
        for n, (attribute, change) in enumerate(sorted(count_changes(
                expect[0] if len(expect) == 1 else None, registration.status).items())):
            adds.append(f"{attribute} :count{n}")
            event_values[f":count{n}"] = N(change)
        if adds and not seat_change and seen is None:
            conditions.append("attribute_exists(PK)")  # never an item of counts alone
        if adds or sets:
            expression = " ".join(part for part in (
                "ADD " + ", ".join(adds) if adds else "", "SET " + ", ".join(sets) if sets else "") if part)
            update = {"TableName": self.table, "Key": self._event_key(registration.event_id),
                      "UpdateExpression": expression, "ExpressionAttributeValues": event_values}
            if seen is not None:
                conditions.append("updated_at = :seen")
                event_values[":seen"] = S(seen)
            if conditions:
                update["ConditionExpression"] = " AND ".join(conditions)
            update["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
            items.append({"Update": update})
        putting = {send.key for send in put_sends}
        items += [self._unclaimed_delete(send) for send in drop_sends if send.key not in putting]
        items += [{"Put": {"TableName": self.table, "Item": self._send_item(send)}} for send in put_sends]
        return items

    @staticmethod
    def _stored_expiry(item: dict[str, Any]) -> datetime | None:
        """The expiry of a stored registration item: the later of its body's and its TTL attribute's."""
        found = [PeopleItems._registration_from_item(item).expires_at if "body" in item else None]
        if TTL_ATTRIBUTE in item:
            found.append(datetime.fromtimestamp(int(item[TTL_ATTRIBUTE]["N"]), tz=times.UTC))
        return max((e for e in found if e is not None), default=None)

    def _token_item(self, token: ConfirmToken) -> dict[str, Any]:
        return {
            "PK": S(f"TOKEN#{token.token_hash}"), "SK": S("TOKEN"),
            "body": self._body(token),
            "valid_until": S(times.to_utc_iso(token.expires_at)),
            # Kept a while past expiry so an old link answers 410, not 404; never past its profile.
            TTL_ATTRIBUTE: N(_epoch(token_item_expiry(token))),
        }

    @staticmethod
    def _token_key(token_hash: str) -> dict[str, Any]:
        return {"PK": S(f"TOKEN#{token_hash}"), "SK": S("TOKEN")}

    @staticmethod
    def _token_from_item(item: dict[str, Any]) -> ConfirmToken:
        token = codec.from_record(ConfirmToken, json.loads(item["body"]["S"]))
        used, done = item.get("used_at", {}).get("S"), item.get("done_at", {}).get("S")
        return replace(token, used_at=times.from_utc_iso(used) if used else None,
                       done_at=times.from_utc_iso(done) if done else None)

    @staticmethod
    def _past_its_time(item: dict[str, Any]) -> bool:
        """An item whose TTL has passed: DynamoDB deletes it within days; it is read as gone already."""
        return TTL_ATTRIBUTE in item and int(item[TTL_ATTRIBUTE]["N"]) <= _epoch(times.now())

    def get_confirm_token(self, token_hash: str) -> ConfirmToken | None:
        reply = self._call("get_item", Key=self._token_key(token_hash), ConsistentRead=True)
        item = reply.get("Item")
        return self._token_from_item(item) if item and not self._past_its_time(item) else None

    def get_confirm_tokens(self, token_hashes: Sequence[str]) -> dict[str, ConfirmToken]:
        """One strongly consistent BatchGetItem (100 keys a request) for a person's links, not a GetItem each."""
        keys = [self._token_key(h) for h in dict.fromkeys(token_hashes)]
        found = (self._token_from_item(item) for item in self._batch_get(
            keys, ConsistentRead=True, ProjectionExpression="body, used_at, done_at, #ttl",
            ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE}) if not self._past_its_time(item))
        return {token.token_hash: token for token in found}

    def finish_confirm_token(self, token_hash: str, now: datetime, *, kept_until: datetime | None = None) -> None:
        from botocore.exceptions import ClientError

        values, names, expression = {":now": S(times.to_utc_iso(now))}, {}, "SET done_at = :now"
        if kept_until is not None:
            expression += ", #ttl = :ttl"
            names["#ttl"], values[":ttl"] = TTL_ATTRIBUTE, N(_epoch(kept_until))
        try:
            self._call("update_item", Key={"PK": S(f"TOKEN#{token_hash}"), "SK": S("TOKEN")},
                       UpdateExpression=expression, ConditionExpression="attribute_exists(PK)",
                       ExpressionAttributeValues=values, **({"ExpressionAttributeNames": names} if names else {}))
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise

    def use_confirm_token(self, token_hash: str, now: datetime, *, seen: datetime | None = None) -> None:
        from botocore.exceptions import ClientError

        key = {"PK": S(f"TOKEN#{token_hash}"), "SK": S("TOKEN")}
        attempt = secrets.token_hex(8)
        values = {":now": S(times.to_utc_iso(now)), ":attempt": S(attempt)}
        if seen is None:
            used = "attribute_not_exists(used_at)"
        else:
            used, values[":seen"] = "used_at = :seen AND attribute_not_exists(done_at)", S(times.to_utc_iso(seen))
        try:
            self._call(
                "update_item",
                Key=key,
                UpdateExpression="SET used_at = :now, write_id = :attempt",
                ConditionExpression=f"attribute_exists(PK) AND {used} AND valid_until > :now",
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise
            if not self._landed(key, attempt):
                raise Gone("token: this link has expired or was used already") from exc

    def erase_person(self, person: Person) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        # The profile first, conditioned on the version read: a submission
        # saved since then lists a registration or a link this erasure would
        # otherwise leave behind (Conflict: read it again). Gone already is fine.
        try:
            self._call("delete_item", Key=self._person_key(person.id),
                       ConditionExpression="attribute_not_exists(PK) OR updated_at = :seen",
                       ExpressionAttributeValues={":seen": S(times.to_utc_iso(person.updated_at))})
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise
            raise Conflict("person: changed meanwhile; read it again") from exc
        # Each registration only while it is cancelled (as the erasure left it) or gone: one placed since (a
        # one-click register at that moment) stays, for the caller to cancel and give its seat back.
        placed = []
        for event_id in sorted(person.event_ids):
            try:
                self._call("delete_item", Key=self._registration_key(event_id, person.id),
                           ConditionExpression="attribute_not_exists(PK) OR #s = :cancelled",
                           ExpressionAttributeNames={"#s": "status"},
                           ExpressionAttributeValues={":cancelled": S("cancelled")})
            except ClientError as exc:
                if not self._is_condition_failure(exc):
                    raise
                placed.append(event_id)
        if placed:
            raise RegistrationsPlaced(placed)
        keys = [self._token_key(h) for h in sorted(person.all_token_hashes)]
        keys += [self._mail_key(person.id, item["SK"]["S"]) for item in self._mail_items(person.id)]
        sends = [send for event_id in sorted(person.event_ids) for send in self.list_sends(event_id, person.id)]
        keys += [self._send_key(send) for send in sends]
        # A tick holding one of these sends may write it back as settled
        # without a condition (settle_sends): marked first, it writes each as
        # the holder instead, and finds it gone.
        expires = N(_epoch(times.now() + ERASURE_MARK_KEEP))
        for tick in sorted({send.claimed_by for send in sends if send.claimed_by}):
            self._call("put_item", Item={**self._erasure_mark_key(tick), TTL_ATTRIBUTE: expires})
        for start in range(0, len(keys), 25):
            request = {self.table: [{"DeleteRequest": {"Key": k}} for k in keys[start:start + 25]]}
            while request:
                try:
                    reply = self.client.batch_write_item(RequestItems=request)
                except (ClientError, BotoCoreError) as exc:
                    raise Unavailable(f"storage: {type(exc).__name__}") from exc
                request = reply.get("UnprocessedItems") or {}
        return sum(1 for send in sends if send.claimed_by)

    # --- the mails a request sent (the access report)

    @staticmethod
    def _mail_key(person_id: str, sort_key: str) -> dict[str, Any]:
        return {"PK": S(f"PERSON#{person_id}"), "SK": S(sort_key)}

    def record_mail(self, mail: MailSent, *, first: bool = False) -> bool:
        # Plain writes, no transaction: the records are many and cheap (and moto copies every table for each
        # transaction). Two mails of one moment (a clock pinned in a test) keep the order they were written in.
        if not first:
            self._raise_mails(mail.person_id, mail.kept_until)
        key = self._mail_key(mail.person_id,
                             f"MAIL#{times.to_utc_iso(mail.sent_at)}#{time.time_ns():020d}#{secrets.token_hex(4)}")
        self._call("put_item", Item={**key, "body": self._body(mail), TTL_ATTRIBUTE: N(_epoch(mail.kept_until))})
        # Kept only while the profile exists. An erasure deletes the profile first, then Queries these: a record
        # put before that Query is deleted by it; one put after it finds the profile gone here, and goes.
        if self._call("get_item", Key=self._person_key(mail.person_id), ConsistentRead=True,
                      ProjectionExpression="PK").get("Item") is None:
            self._call("delete_item", Key=key)
            return False
        return True

    def keep_mails(self, person_id: str, until: datetime) -> None:
        self._raise_mails(person_id, until)

    def _raise_mails(self, person_id: str, until: datetime) -> None:
        """The person's records that would go before ``until`` kept until then, each with an UpdateItem
        conditioned on the record still being there (an erasure may be deleting them: never made again)."""
        from botocore.exceptions import ClientError

        for item in self._mail_items(person_id):
            # One past its time is gone, as ``list_mails`` reads it: never brought back (DynamoDB's TTL deletes
            # it within days; a new profile of the same address must not inherit it).
            if int(item[TTL_ATTRIBUTE]["N"]) >= _epoch(until) or self._past_its_time(item):
                continue
            try:
                self._call("update_item", Key={"PK": item["PK"], "SK": item["SK"]},
                           UpdateExpression="SET #ttl = :until", ConditionExpression="attribute_exists(PK)",
                           ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
                           ExpressionAttributeValues={":until": N(_epoch(until))})
            except ClientError as exc:
                if not self._is_condition_failure(exc):
                    raise

    def _mail_items(self, person_id: str) -> list[dict[str, Any]]:
        return self._query_all(KeyConditionExpression="PK = :pk AND begins_with(SK, :mail)",
                               ExpressionAttributeValues={":pk": S(f"PERSON#{person_id}"), ":mail": S("MAIL#")},
                               ConsistentRead=True)

    def list_mails(self, person_id: str) -> list[MailSent]:
        # ``kept_until`` as the item's TTL says, raised since (``_keep_mails``), not as first written.
        return [replace(codec.from_record(MailSent, json.loads(item["body"]["S"])),
                        kept_until=datetime.fromtimestamp(int(item[TTL_ATTRIBUTE]["N"]), timezone.utc))
                for item in self._mail_items(person_id) if not self._past_its_time(item)]

    def read_for_sends(self, person_ids: Sequence[str], event_ids: Sequence[str],
                       registrations: Sequence[tuple[str, str]] = ()) -> SendReads:
        """One BatchGetItem (100 keys a request), strongly consistent: the tick reads a batch's recipients,
        its events and the registrations it must check in the call it made for the recipients alone."""
        keys = [self._person_key(p) for p in dict.fromkeys(person_ids)]
        keys += [self._event_key(e) for e in dict.fromkeys(event_ids)]
        keys += [self._registration_key(e, p) for e, p in dict.fromkeys(registrations)]
        reads = SendReads(people={}, events={}, registrations={})
        # Only what the three records are made of: every other attribute
        # returned would be parsed by botocore, 100 items a batch.
        projection = "PK, body, seats_taken, seat_freed_at"
        for item in self._batch_get(keys, ConsistentRead=True, ProjectionExpression=projection):
            kind = item["PK"]["S"]
            if kind == "EVENTS":
                event = self._event_from_item(item)
                reads.events[event.id] = event
            elif kind.startswith("PERSON#"):
                person = codec.from_record(Person, json.loads(item["body"]["S"]))
                reads.people[person.id] = person
            else:
                reg = self._registration_from_item(item)
                reads.registrations[(reg.event_id, reg.person_id)] = reg
        return reads

    def get_people(self, person_ids: Sequence[str]) -> dict[str, Person]:
        keys = [self._person_key(p) for p in dict.fromkeys(person_ids)]
        people = (codec.from_record(Person, json.loads(item["body"]["S"]))
                  for item in self._batch_get(keys, ProjectionExpression="body"))
        return {person.id: person for person in people}
